"""An ESC/POS receipt printer on raw TCP for tests and demos.

    with EscposPrinterEmulator() as emu:
        slip = open_slip_printer(emu.url)
        slip.print_document(doc)
        job = emu.wait_for_jobs(1)[0]
        assert "ORDER 1234" in job.text

Each connection is one job; a job is recorded when the client closes and only if it
printed something (a bare status query is not a job). ``DLE EOT n`` queries are answered
at once, as a real printer does. With paper out the printer still buffers the bytes and
prints them when paper is loaded (jobs wait in :attr:`held` until then).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from drivers.emulators.tcp_server import TcpDeviceServer
from drivers.protocols.escpos import encode_paper_status
from drivers.protocols.escpos_reader import EscposReader, Slip


@dataclass
class EscposJob:
    """The bytes of one connection and what they print."""

    data: bytes
    slip: Slip

    @property
    def text(self) -> str:
        return self.slip.text

    @property
    def barcodes(self) -> list[str]:
        return [data for _, data in self.slip.barcodes]

    @property
    def qr_codes(self) -> list[str]:
        return self.slip.qr_codes


class EscposPrinterEmulator(TcpDeviceServer):
    """Records printed jobs; controls are thread-safe."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._cond = threading.Condition()
        self._jobs: list[EscposJob] = []
        self._held: list[EscposJob] = []
        self._paper_out = False
        self._paper_low = False
        self._open: dict[int, tuple[bytearray, EscposReader]] = {}
        self.status_queries = 0

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_slip_printer`."""
        return f"escpos+tcp://{self.host}:{self.port}"

    def paper_out(self, on: bool = True) -> None:
        """Out of paper: answer so to ``DLE EOT 4``; hold jobs until paper is back."""
        with self._cond:
            self._paper_out = on
            if not on:
                self._jobs += self._held
                self._held = []
                self._cond.notify_all()

    def paper_low(self, on: bool = True) -> None:
        """Paper near end (still prints)."""
        with self._cond:
            self._paper_low = on

    @property
    def jobs(self) -> list[EscposJob]:
        """Jobs printed so far."""
        with self._cond:
            return list(self._jobs)

    @property
    def held(self) -> list[EscposJob]:
        """Jobs received while out of paper, not printed yet."""
        with self._cond:
            return list(self._held)

    def wait_for_jobs(self, n: int, timeout: float = 5.0) -> list[EscposJob]:
        """Wait until at least ``n`` jobs are printed; return them. Raises TimeoutError."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._jobs) >= n, timeout):
                raise TimeoutError(f"{len(self._jobs)} slip(s) printed, expected {n}")
            return list(self._jobs)

    def wait_for_held(self, n: int, timeout: float = 5.0) -> list[EscposJob]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._held) >= n, timeout):
                raise TimeoutError(f"{len(self._held)} slip(s) held, expected {n}")
            return list(self._held)

    def on_data(self, conn_id: int, data: bytes) -> bytes:
        raw, reader = self._open.setdefault(conn_id, (bytearray(), EscposReader()))
        raw += data
        reply = b""
        for n in reader.feed(data):
            self.status_queries += 1
            with self._cond:
                out, low = self._paper_out, self._paper_low
            if n == 4:
                reply += encode_paper_status(out, low)
            else:  # DLE EOT 1/2/3: fixed bits only, plus "offline" when out of paper
                reply += bytes([0x12 | (0x08 if out else 0)])
        return reply

    def on_close(self, conn_id: int) -> None:
        raw, reader = self._open.pop(conn_id, (bytearray(), EscposReader()))
        slip = reader.slip
        if not (slip.text.strip() or slip.barcodes or slip.qr_codes or slip.cuts):
            return
        job = EscposJob(bytes(raw), slip)
        with self._cond:
            (self._held if self._paper_out else self._jobs).append(job)
            self._cond.notify_all()
