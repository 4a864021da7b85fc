"""A USB HID postal scale's reports, served over TCP on 127.0.0.1.

    with HidScaleEmulator(weight=500) as emu:
        scale = open_scale(emu.url)          # hid+tcp://127.0.0.1:PORT
        emu.place(1200, settle=0.5)

This kernel has no ``/dev/uhid`` (CONFIG_UHID is off), so no virtual HID device can be
made here. The emulator pushes the exact 6-byte input reports a Dymo sends (report id 3,
status, unit, exponent, weight LSB/MSB), ``interval`` s apart, to every client, like a
scale's interrupt endpoint; the driver cuts them out of the stream and decodes them with
the same code that reads hidapi. What it does not prove: opening the device through
hidapi, permissions and udev rules, and a real report descriptor.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Self

from drivers.base import Unit
from drivers.emulators.threaded import Threaded
from drivers.protocols import hid_scale


class HidScaleEmulator(Threaded):
    def __init__(
        self,
        weight: float = 0.0,
        unit: Unit | str = Unit.G,
        interval: float = 0.05,
        port: int = 0,
    ) -> None:
        self.unit = Unit(unit)
        self.interval = interval
        self.port = port
        self._lock = threading.Lock()
        self._grams = weight
        self._stable_at = 0.0  # monotonic time from which the weight reads stable
        self._raw: bytes | None = None  # a fixed report to send instead of the weight
        self._answering = True
        self._clients: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.sent = 0  # reports sent to the first client, for tests

    @property
    def url(self) -> str:
        return f"hid+tcp://127.0.0.1:{self.port}"

    # -- controls --------------------------------------------------------------------------

    def set_weight(self, grams: float, stable: bool = True) -> None:
        """Show ``grams`` now; ``stable=False`` keeps it in motion until the next call."""
        with self._lock:
            self._grams, self._raw = grams, None
            self._stable_at = time.monotonic() if stable else float("inf")

    def place(self, grams: float, settle: float = 0.3) -> None:
        """Put a parcel on: in motion for ``settle`` s, then stable."""
        with self._lock:
            self._grams, self._raw = grams, None
            self._stable_at = time.monotonic() + settle

    def motion(self, on: bool = True) -> None:
        """Keep the weight moving (never stable) until switched off."""
        with self._lock:
            self._stable_at = float("inf") if on else time.monotonic()

    def remove(self) -> None:
        self.set_weight(0.0)

    def status(self, status: hid_scale.Status) -> None:
        """Report a condition (OVERWEIGHT, UNDER_ZERO, FAULT ...) until the next weight."""
        self.send_raw(hid_scale.encode(status, hid_scale.UNIT_CODES[self.unit], 0, 0))

    def overload(self, on: bool = True) -> None:
        """Report overweight until switched off (or a weight is set), as the serial
        scale emulators do."""
        self._condition(hid_scale.Status.OVERWEIGHT, on)

    def underload(self, on: bool = True) -> None:
        """Report under zero (the pan lifted off) until switched off."""
        self._condition(hid_scale.Status.UNDER_ZERO, on)

    def _condition(self, status: hid_scale.Status, on: bool) -> None:
        if on:
            self.status(status)
        else:
            with self._lock:
                self._raw = None

    def send_raw(self, report: bytes) -> None:
        """Send ``report`` (any bytes, e.g. garbage) in place of the weight reports."""
        with self._lock:
            self._raw = bytes(report)

    def stop_answering(self) -> None:
        """Keep the connection but send nothing (a scale that went to sleep)."""
        self._answering = False

    def start_answering(self) -> None:
        self._answering = True

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(4)
            sock.settimeout(0)
            self.port = sock.getsockname()[1]
            self._listener = sock
            self._running.set()
            self._thread = threading.Thread(target=self._run, name="HidScaleEmulator", daemon=True)
            self._thread.start()
        return self

    # -- the loop --------------------------------------------------------------------------

    def _report(self) -> bytes:
        with self._lock:
            if self._raw is not None:
                return self._raw
            stable = time.monotonic() >= self._stable_at
            return hid_scale.encode_grams(self._grams, stable=stable, unit=self.unit)

    def _run(self) -> None:
        assert self._listener is not None
        try:
            while self._running.is_set():
                try:
                    client, _ = self._listener.accept()
                    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    client.settimeout(1.0)
                    self._clients.append(client)
                except (BlockingIOError, TimeoutError):
                    pass
                if self._answering and self._clients:
                    report = self._report()
                    for client in list(self._clients):
                        try:
                            client.sendall(report)
                        except OSError:
                            self._clients.remove(client)
                            client.close()
                    self.sent += 1
                time.sleep(self.interval)
        finally:
            for client in self._clients:
                client.close()
            self._clients.clear()
            self._listener.close()
            self._listener = None
