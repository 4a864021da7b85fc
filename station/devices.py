"""The station's devices, each on its own thread, reporting through callbacks.

``DeviceHub`` opens what the configuration names (empty URL: not fitted), keeps each
device going through failures (reconnect with backoff) and never lets a device error
reach the UI thread as an exception: it becomes a ``DeviceStatus`` message instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from drivers import urls
from drivers.base import Scale, Scan, Weight
from drivers.errors import DeviceError
from station.camera_worker import CameraWorker, PhotoRequest, PhotoResult
from station.config import Devices
from station.printing import queue
from station.printing.worker import PrintWorker

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


class DeviceHub:
    def __init__(
        self,
        devices: Devices,
        db_path: str | Path,
        *,
        on_reading: Callable[[Weight], None],
        on_scan: Callable[[Scan], None],
        on_status: Callable[[str, str | None], None],
        on_print: Callable[[str, str | None], None],
        printers: dict[str, str] | None = None,
        station_id: str = "",
        on_photo: Callable[[PhotoResult], None] = lambda result: None,
    ) -> None:
        self.devices = devices
        self.extra_printers = dict(printers or {})
        self.db_path = db_path
        self.on_reading = on_reading
        self.on_scan = on_scan
        self.on_status = on_status
        self.on_print = on_print
        self.station_id = station_id
        self.on_photo = on_photo
        self.camera: CameraWorker | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.printers: dict[str, PrintWorker] = {}
        self.scale: Scale | None = None

    def start(self) -> None:
        if self.devices.scale:
            self._spawn("scale", self._run_scale)
        if self.devices.scanner:
            self._spawn("scanner", self._run_scanner)
        for name, url in self.printer_urls().items():
            opener = urls.open_slip_printer if media_of(url) == "slip" else urls.open_label_printer
            worker = PrintWorker(
                self.db_path, name, lambda o=opener, u=url: o(u), on_change=self.on_print
            )
            worker.start()
            self.printers[name] = worker
        if self.devices.camera:
            self.camera = CameraWorker(
                self.devices.camera,
                self.db_path,
                self.station_id,
                on_result=self.on_photo,
                on_status=self.on_status,
            )
            self.camera.start()

    def take_photo(self, request: PhotoRequest) -> bool:
        """Ask the camera for a photo (answered through ``on_photo``); False when no camera
        is fitted or running."""
        if self.camera is None:
            return False
        self.camera.take(request)
        return True

    def printer_urls(self) -> dict[str, str]:
        """Every printer with a URL: this station's ``label`` and ``slip``, then the extras."""
        own = {"label": self.devices.label_printer, "slip": self.devices.slip_printer}
        return {name: url for name, url in {**own, **self.extra_printers}.items() if url}

    def record_printers(self, db: sqlite_utils.Database) -> None:
        """List the configured printers in the database, where the queue checks moves."""
        queue.set_printers(
            db, {name: (media_of(url), url) for name, url in self.printer_urls().items()}
        )

    def wake_printers(self) -> None:
        """Jobs were queued or moved: every worker looks now."""
        for worker in self.printers.values():
            worker.wake()

    def stop(self) -> None:
        self._stop.set()
        for worker in self.printers.values():
            worker.stop()
        if self.camera is not None:
            self.camera.stop()
        for worker in self.printers.values():
            worker.join(timeout=3)
        if self.camera is not None:
            # A capture may still be waiting for its picture: it finishes on its own.
            self.camera.join(timeout=3)
        for thread in self._threads:
            thread.join(timeout=3)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _keep_running(self, device: str, open_: Callable[[], object], run: Callable) -> None:
        delay = 0.5
        while not self._stop.is_set():
            handle = None
            try:
                handle = open_()
                self.on_status(device, None)
                delay = 0.5
                run(handle)
            except DeviceError as exc:
                log.warning("%s: %s", device, exc)
                self.on_status(device, str(exc))
            except Exception as exc:  # a driver bug must not kill the station
                log.exception("%s failed", device)
                self.on_status(device, f"{device} failed: {exc}")
            finally:
                if handle is not None:
                    handle.close()  # type: ignore[attr-defined]
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _run_scale(self) -> None:
        def run(scale: Scale) -> None:
            self.scale = scale
            scale.stream(self.on_reading, self._stop.is_set)

        self._keep_running("scale", lambda: urls.open_scale(self.devices.scale), run)

    def _run_scanner(self) -> None:
        self._keep_running(
            "scanner",
            lambda: urls.open_scanner(self.devices.scanner),
            lambda scanner: scanner.run(self.on_scan, self._stop.is_set),
        )


def media_of(url: str) -> str:
    """``slip`` for an ESC/POS URL (``escpos+...``, ``emulator://slip-printer``), else
    ``label`` (ZPL)."""
    lower = url.lower()
    return "slip" if lower.startswith(("escpos", "emulator://slip")) else "label"
