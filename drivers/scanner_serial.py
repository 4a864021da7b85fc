"""A barcode scanner on a serial port (RS-232 or USB in virtual COM mode)."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import Scan, Scanner
from drivers.protocols.scanner import ScanFramer
from drivers.transports.base import Transport


class SerialScanner(Scanner):
    """Pushes each complete scan to a callback.

    ``max_gap``: a scan arrives as one burst, so bytes left without a suffix for longer
    than this are noise or a cut-off scan and are dropped rather than glued to the front
    of the next scan.
    """

    def __init__(
        self,
        transport: Transport,
        suffix: bytes = b"\r",
        prefix: bytes = b"",
        max_gap: float = 0.5,
        source: str | None = None,
    ) -> None:
        self.transport = transport
        self.framer = ScanFramer(prefix=prefix, suffix=suffix)
        self.max_gap = max_gap
        self.source = source or f"serial:{getattr(transport, 'port', transport.name)}"

    def run(self, on_scan: Callable[[Scan], None], stop: Callable[[], bool]) -> None:
        """Block, calling ``on_scan`` for each complete scan until ``stop()`` is true.

        ``Scan.at`` is ``time.perf_counter()`` when the read holding the suffix returned.
        Raises DeviceUnreachable if the port goes away (the caller reconnects).
        """
        last = time.monotonic()
        while not stop():
            data = self.transport.read(0.1)
            if not data:
                continue
            now = time.monotonic()
            if now - last > self.max_gap and self.framer.pending:
                self.framer.clear()
            last = now
            at = time.perf_counter()
            for raw in self.framer.feed(data):
                on_scan(Scan(raw=raw, source=self.source, at=at))

    def close(self) -> None:
        """Release the port. Never raises."""
        self.transport.close()
