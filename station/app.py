"""The packing-station app: owns the database, the packing service, the devices and,
when ``[sync]`` is enabled, the sync client.

Screens do the talking to the packer; this class only wires device threads to screens,
tracks who is logged in, and locks the station when it is left idle.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.events import Event, Key

from drivers.base import Scan, Weight
from station.camera_worker import PhotoRequest
from station.config import StationConfig, broker_settings
from station.devices import DeviceHub
from station.messages import (
    DeviceStatus,
    PhotoTaken,
    PrintQueueChanged,
    ScaleReading,
    ScanArrived,
)
from station.packing.operators import Operator
from station.packing.service import PackingService
from station.printing import queue
from station.store.db import open_db

if TYPE_CHECKING:
    from sync.site_board import BoardView
    from sync.station import StationSync, SyncState

log = logging.getLogger(__name__)


class DemoControls(Protocol):
    """What ``doms demo`` lets the user do by key: drive the emulated devices."""

    def scan(self, code: str) -> None: ...
    def place(self, grams: float) -> None: ...
    def remove(self) -> None: ...
    def toggle_paper(self) -> bool: ...
    def new_order(self) -> str | None: ...


class StationApp(App[None]):
    CSS_PATH = "station.tcss"
    TITLE = "doms station"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        config: StationConfig,
        *,
        demo: DemoControls | None = None,
        devices: bool = True,
        exit_after_first_screen: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.db = open_db(config.database, synchronous=config.synchronous)
        self.service = PackingService(self.db, config)
        self.operator: Operator | None = None
        self.demo = demo
        self.device_problems: dict[str, str] = {}
        self.printer_errors: dict[str, str] = {}
        self.last_activity = time.monotonic()
        self.hub = DeviceHub(
            config.devices,
            config.database,
            on_reading=lambda w: self.post_message(ScaleReading(w)),
            on_scan=lambda s: self.post_message(ScanArrived(s)),
            on_status=lambda d, p: self.post_message(DeviceStatus(d, p)),
            on_print=lambda r, e: self.post_message(PrintQueueChanged(r, e)),
            printers=config.printers,
            station_id=config.station_id,
            on_photo=lambda r: self.post_message(PhotoTaken(r)),
        )
        self._start_devices = devices
        self._exit_after_first_screen = exit_after_first_screen
        self.sub_title = config.station_id
        # The sync client (Toolong's pattern: made here, started on mount, stopped on
        # unmount). Its threads read presence from a dict this thread replaces.
        self.sync: StationSync | None = None
        self._presence: dict[str, Any] = {}
        self._sync_changes = 0
        if config.sync.enabled:
            from sync.station import StationSync

            self.sync = StationSync(
                config.database, config, broker_settings(config), lambda: self._presence
            )

    # -- life cycle ---------------------------------------------------------------------
    def on_mount(self) -> None:
        from station.screens.login import LoginScreen

        self.hub.record_printers(self.db)
        uncertain = queue.recover(self.db)
        if uncertain:
            log.warning("%d print job(s) were being sent when the station stopped", uncertain)
        if self._start_devices:
            self.hub.start()
        self.push_screen(LoginScreen())
        self.set_interval(1.0, self._check_idle)
        if self.sync is not None:
            self._presence = self._presence_now()
            self.sync.start()
            self.set_interval(1.0, self._sync_tick)
        # Objects alive now live for the whole run: freezing them keeps full garbage
        # collections (tens of ms) off the scan path.
        self.call_after_refresh(gc.freeze)
        if self._exit_after_first_screen:  # start-up benchmark and smoke tests
            self.call_after_refresh(self.exit)

    def on_unmount(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.hub.stop()
        self.db.close()

    # -- operators ----------------------------------------------------------------------
    def log_in(self, operator: Operator) -> None:
        from station.screens.pack import PackScreen

        self.operator = operator
        self.service.log_in(operator)
        self.sub_title = f"{operator.name} ({operator.role}) · {self.config.station_id}"
        self.switch_screen(PackScreen())
        self.call_after_refresh(gc.freeze)

    def log_out(self, reason: str = "logout") -> None:
        from station.screens.login import LoginScreen

        if self.operator is not None:
            self.service.log_out(self.operator, reason)
        self.operator = None
        self.sub_title = self.config.station_id
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen())

    def lock(self) -> None:
        from station.screens.lock import LockScreen

        if self.operator is not None and not isinstance(self.screen, LockScreen):
            self.push_screen(LockScreen())

    def last_activity_reset(self) -> None:
        self.last_activity = time.monotonic()

    def _check_idle(self) -> None:
        idle = time.monotonic() - self.last_activity
        if self.operator is not None and idle >= self.config.login.idle_lock_s:
            self.lock()

    def on_event(self, event: Event):  # noqa: ANN201 - Textual's own signature
        if isinstance(event, Key):
            self.last_activity = time.monotonic()
        return super().on_event(event)

    # -- device messages, handed to whichever screen cares ------------------------------
    def on_scale_reading(self, message: ScaleReading) -> None:
        self._forward("scale_reading", message.weight)

    def on_scan_arrived(self, message: ScanArrived) -> None:
        self.last_activity = time.monotonic()
        self.handle_scan(message.scan)

    def handle_scan(self, scan: Scan) -> None:
        """Every scan, wedge or serial, goes to the top screen's ``handle_scan``."""
        handler = getattr(self.screen, "handle_scan", None)
        if handler is not None:
            handler(scan)

    def on_device_status(self, message: DeviceStatus) -> None:
        if message.problem is None:
            self.device_problems.pop(message.device, None)
        else:
            self.device_problems[message.device] = message.problem
        self._forward("devices_changed")

    def on_print_queue_changed(self, message: PrintQueueChanged) -> None:
        if message.error is None:
            self.printer_errors.pop(message.role, None)
        else:
            self.printer_errors[message.role] = message.error
        self._forward("print_queue_changed")

    def _forward(self, method: str, *args: object) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except NoMatches:
                # A device message reached a screen being built or torn down: its
                # widgets are not there, and the next message will find them.
                log.debug("%s dropped by %s while not composed", method, screen)

    def take_photo(self, subject: str) -> PhotoRequest | None:
        """Ask the camera for a photo of ``subject`` by the operator logged in; the answer
        reaches every screen's ``photo_taken``. None when no camera is fitted."""
        if self.operator is None:
            return None
        request = PhotoRequest.new(subject, self.operator.badge)
        return request if self.hub.take_photo(request) else None

    def on_photo_taken(self, message: PhotoTaken) -> None:
        if message.result.stored is not None:
            self.events_written()
        self._forward("photo_taken", message.result)

    def print_jobs_queued(self) -> None:
        self.hub.wake_printers()
        self._forward("print_queue_changed")

    # -- sync ---------------------------------------------------------------------------
    def events_written(self) -> None:
        """An action committed outbox events: have sync send them now, not at its next
        tick (the tick is 0.2 s; the hub should hear within milliseconds)."""
        if self.sync is not None:
            self.sync.wake()

    def _sync_tick(self) -> None:
        """Every second: hand presence to the sync client, the sync state to the screens
        (``sync_status``), and tell them when hub changes landed (``sync_changed``)."""
        assert self.sync is not None
        self._presence = self._presence_now()
        state = self.sync.state()
        self._forward("sync_status", state)
        if state.changes_applied != self._sync_changes:
            self._sync_changes = state.changes_applied
            self._forward("sync_changed")

    def site_board(self) -> BoardView | None:
        """Every station's status as this station's sync client heard it (a copy, safe
        from the UI thread); None when sync is off."""
        return None if self.sync is None else self.sync.board.view()

    def sync_problem(self) -> str | None:
        """Why the site board may be out of date, None when the sync client is connected."""
        if self.sync is None or self.sync.state().online:
            return None
        return "This station is offline: the board shows what it heard last."

    def sync_state(self) -> SyncState | None:
        """The sync client's state, None when sync is off."""
        return None if self.sync is None else self.sync.state()

    def _presence_now(self) -> dict[str, Any]:
        devices = {
            name: "ok"
            for name in ("scale", "scanner", "label_printer", "slip_printer", "camera")
            if getattr(self.config.devices, name)
        }
        devices.update(self.device_problems)
        devices.update({f"{role}_printer": e for role, e in self.printer_errors.items()})
        screen = type(self.screen).__name__ if self.screen_stack else None
        return {
            "operator": self.operator.badge if self.operator else None,
            "screen": screen.removesuffix("Screen").lower() if screen else None,
            "devices": devices,
        }

    def hub_stock(self, skus: list[str]) -> list[tuple[str, int | None]]:
        """Units available per SKU as the hub last said (None: not heard), in order."""
        if not skus:
            return []
        marks = ", ".join("?" * len(skus))
        known = dict(
            self.db.execute(
                f"SELECT sku, available FROM stock WHERE sku IN ({marks})", skus
            ).fetchall()
        )
        return [(sku, known.get(sku)) for sku in skus]


def reading_text(weight: Weight | None) -> str:
    if weight is None:
        return "— g"
    return f"{weight.grams:,.0f} g" + ("" if weight.stable else " ~")
