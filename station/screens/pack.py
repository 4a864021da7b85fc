"""The pack screen: open an order, verify each item by scanning, weigh, label, next.

Every action is a key and a ``CMD:`` barcode (see :mod:`station.commands`). The screen
calls the packing service and shows its answer; a refusal rings the bell, flashes red
and says in plain words what is wrong.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from drivers.base import Scan, Weight
from station.commands import BY_NAME, COMMANDS
from station.packing.capture import StableCapture
from station.packing.errors import Refused
from station.packing.model import OrderView
from station.printing import queue
from station.screens.pack_demo import DEMO_BINDINGS, DemoActions
from station.screens.pack_dialogs import DialogActions
from station.screens.pack_photos import PhotoActions
from station.screens.pack_weighing import WeighAndLabelActions
from station.store.outbox import outbox_depth
from station.widgets.order import OrderHeader, OrderLines
from station.widgets.scan_input import ScanInput
from station.widgets.side import DeviceBar, PackagesPanel, SyncBar, WeighPanel

if TYPE_CHECKING:
    from sync.station import SyncState

log = logging.getLogger(__name__)


def _bindings() -> list[Binding]:
    keys = [Binding(c.key, c.action, c.description.split(":")[0], priority=True) for c in COMMANDS]
    # Demo-only keys drive the emulated devices; check_action hides them otherwise.
    return keys + DEMO_BINDINGS


class PackScreen(WeighAndLabelActions, DialogActions, PhotoActions, DemoActions, Screen[None]):
    """The composition point of the pack screen: bindings and command dispatch (both from
    :mod:`station.commands`), feedback, opening orders and scanning. The other actions are
    mixins beside it: ``pack_weighing`` (weigh, override, carton, reprint, void),
    ``pack_dialogs`` (short, quantity, move, help, print queue, inspection), ``pack_photos``
    and ``pack_demo``."""

    BINDINGS = _bindings()

    def __init__(self) -> None:
        super().__init__()
        self.order: OrderView | None = None
        self.last_packed: str | None = None
        self.reading: Weight | None = None
        self.pending_qty: int | None = None
        self.capture = StableCapture()
        self.blocked = False
        self.suggestion: str | None = None
        self.scan_done_at: float | None = None
        self.photos_asked: set[int] = set()  # tokens of this screen's photo requests
        # Device messages can arrive between push and compose; they wait for on_mount.
        self.ready = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SyncBar(id="sync-bar")
        yield DeviceBar(id="devices")
        with Horizontal(id="main"):
            with Vertical(id="order-pane"):
                yield OrderHeader(id="order-head")
                yield OrderLines(id="lines")
            with Vertical(id="side-pane"):
                yield WeighPanel(id="weigh")
                yield PackagesPanel(id="packages")
        yield Static(id="message")
        yield ScanInput(id="scan")
        yield Footer()

    def on_mount(self) -> None:
        packing = self.app.config.packing
        self.capture = StableCapture(hold_s=packing.stable_hold_s, min_g=packing.min_capture_g)
        self.ready = True
        self.query_one(SyncBar).display = self.app.sync is not None
        self.open_next()
        self.query_one(ScanInput).focus()
        state = self.app.sync_state()
        if state is not None:
            self.sync_status(state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("demo_"):
            return self.app.demo is not None
        return True

    # -- feedback -----------------------------------------------------------------------
    def say(self, text: str, style: str = "ok") -> None:
        message = self.query_one("#message", Static)
        message.update(text, layout=False)
        for cls in ("ok", "bad", "info"):
            message.set_class(cls == style, cls)
        if style == "bad":
            self.app.bell()
            self.add_class("flash")
            self.set_timer(0.6, lambda: self.remove_class("flash"))
            log.info("refused: %s", text)

    def refresh_view(self) -> None:
        # Every action ends here after its commit: let sync send its events at once.
        self.app.events_written()
        service = self.app.service
        if self.order is not None:
            self.order = service.view(self.order.order_id)
        order = self.order
        self.query_one(OrderHeader).show(order, service.queue_depth())
        self.query_one(OrderLines).show(order)
        suggestion = None
        if order is not None and order.status == "packing":
            target = self._package_in_focus()
            if target is not None and target.carton_code is None and target.unit_count:
                suggestion = service.suggest_carton(order.order_id, target.package_id)
        self.suggestion = suggestion
        self.query_one(PackagesPanel).show(order, suggestion)
        self._update_weigh_panel()
        self.devices_changed()

    def devices_changed(self) -> None:
        if not self.ready:
            return
        app = self.app
        jobs = len(queue.open_jobs(app.db))
        state = app.sync_state()
        stock = None
        if state is not None:
            skus = list(dict.fromkeys(ln.sku for ln in self.order.lines)) if self.order else []
            stock = app.hub_stock(skus)
        self.query_one(DeviceBar).show(
            app.device_problems,
            app.printer_errors,
            jobs,
            app.service.queue_depth(),
            outbox_depth(app.db),
            stock=stock,
            hub_heard=state.last_hub_contact_at if state is not None else None,
        )

    # -- sync: the status line, and orders that the hub assigned or cancelled -----------
    def sync_status(self, state: SyncState) -> None:
        """Every second, from the app: the sync line and the DeviceBar's hub line."""
        if not self.ready:
            return
        note = "waiting for the catalogue" if state.waiting_for_catalogue else None
        self.query_one(SyncBar).show(
            state.online,
            state.outbox_depth,
            state.last_hub_contact_at,
            state.hub_online,
            note,
            photos=state.photos_waiting,
        )
        self.devices_changed()

    def sync_changed(self) -> None:
        """Hub changes landed: a new order opens by itself when none is open; an open
        order the hub cancelled is closed with words for the packer."""
        if not self.ready:
            return
        order = self.order
        if (
            order is not None
            and order.status != "cancelled"
            and self.app.service.view(order.order_id).status == "cancelled"
        ):
            self.open_next()
            self.say(
                f"{order.order_ref} was CANCELLED by the hub: stop packing it and give it "
                "to your lead.",
                "bad",
            )
            return
        # Only when there is one to open: stock levels land every few seconds and must
        # not overwrite what the screen is telling the packer.
        if self.order is None and self.app.screen is self and self.app.service.next_order():
            self.open_next()
        else:
            self.refresh_view()

    def print_queue_changed(self) -> None:
        self.devices_changed()

    def _package_in_focus(self):
        if self.order is None:
            return None
        if self.order.stage == "weigh":
            return self.order.package_to_weigh
        return self.order.current_package

    # -- orders -------------------------------------------------------------------------
    def open_next(self) -> None:
        order_id = self.app.service.next_order()
        self.order = None
        if order_id is not None:
            self._open(order_id)
        else:
            self.refresh_view()
            self.say("No orders waiting. New orders open here by themselves.", "info")

    def _open(self, order_id: str) -> None:
        try:
            self.order = self.app.service.open_order(order_id, self.app.operator)
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        self.capture.reset()
        self.pending_qty = None
        self.refresh_view()
        self.say(f"Order {self.order.order_ref} open: scan its items.", "info")

    # -- scans --------------------------------------------------------------------------
    @on(ScanInput.Scanned)
    def _wedge(self, event: ScanInput.Scanned) -> None:
        self.handle_scan(event.scan)

    def handle_scan(self, scan: Scan) -> None:
        service = self.app.service
        parsed = service.classify(scan.raw)
        if parsed.command:
            self.run_command(parsed.command)
            return
        try:
            self._handle_code(parsed)
        except Refused as exc:
            self.say(str(exc), "bad")
        self.scan_done_at = time.perf_counter()

    def _handle_code(self, parsed) -> None:
        service = self.app.service
        order = self.order
        text = parsed.text
        if order is None or order.status != "packing":
            order_id = service.find_order(text)
            if order_id is None:
                raise Refused(f"{text!r} is not an order, tote or pick list here.", kind="unknown")
            self._open(order_id)
            return
        if service.is_carton(text):
            target = self._package_in_focus()
            self.say(service.set_carton(order.order_id, target.package_id, text, self.app.operator))
            self.capture.reset()
            self.refresh_view()
            return
        if self._maybe_lead_badge(text):
            return
        other = service.find_order(text)
        if other is not None and other != order.order_id:
            raise Refused(
                f"That is another order ({text}). Finish {order.order_ref} first.",
                kind="other_order",
            )
        qty, self.pending_qty = self.pending_qty, None
        outcome = service.scan_item(order.order_id, parsed, self.app.operator, qty=qty)
        self.refresh_view()
        if self.order.all_resolved:
            self.say(outcome.message + " — all items scanned: carton, then scale.")
        else:
            self.say(outcome.message)

    # -- commands -----------------------------------------------------------------------
    def run_command(self, name: str) -> None:
        command = BY_NAME.get(name)
        if command is None:
            self.say(f"Unknown command barcode CMD:{name}.", "bad")
            return
        getattr(self, f"action_{command.action}")()

    def _need_order(self) -> OrderView:
        if self.order is None:
            raise Refused("Open an order first.", kind="no_order")
        return self.order

    def _guard(self, fn) -> None:
        try:
            fn()
        except Refused as exc:
            self.say(str(exc), "bad")

    def action_undo(self) -> None:
        def undo() -> None:
            order = self._need_order()
            self.say(self.app.service.undo_last_scan(order.order_id, self.app.operator), "info")
            self.capture.reset()
            self.refresh_view()

        self._guard(undo)

    def action_new_package(self) -> None:
        def new() -> None:
            order = self._need_order()
            package = self.app.service.new_package(order.order_id, self.app.operator)
            self.refresh_view()
            self.say(f"Package {package.package_no} started: next scans go in it.", "info")

        self._guard(new)

    def action_logout(self) -> None:
        self.app.log_out()

    def action_lock(self) -> None:
        self.app.lock()

    def action_print_sheet(self) -> None:
        from station.commands import sheet_entries
        from station.labels.command_sheet import command_sheet_zpl

        queue.enqueue(self.app.db, "label", "command_sheet", command_sheet_zpl(sheet_entries()))
        self.app.print_jobs_queued()
        self.say("Command sheet sent to the label printer.", "info")
