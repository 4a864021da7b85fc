"""An ESC/POS receipt printer on raw TCP for tests and demos.

    with EscposPrinterEmulator() as emu:
        slip = open_slip_printer(emu.url)
        slip.print_document(doc)
        job = emu.wait_for_jobs(1)[0]
        assert "ORDER 1234" in job.text

Each connection is one job; a job is recorded when the client closes and only if it
printed something (a bare status query is not a job). ``DLE EOT n`` queries are answered
at once, as a real printer does, and so is ``GS r 1`` (a real printer answers it after
the bytes before it are printed). With paper out, cover open or offline the printer
still buffers the bytes and prints them when the fault clears (jobs wait in :attr:`held`).

Faults: :meth:`paper_low` (near end, still prints), :meth:`paper_out`, :meth:`cover_open`
(offline, DLE EOT 2 says cover), :meth:`offline` (offline with an error, e.g. a cutter
jam), :meth:`no_status` (answers no status query, as a printer without DLE EOT/GS r).
Wire faults, shared with the ZPL emulator (:mod:`drivers.emulators.tcp_faults`):
:meth:`slow` (status answers late), :meth:`noise` (junk bytes before each status answer),
:meth:`disconnect_mid_job` (the next job's connection is reset as its first bytes arrive;
they are lost) and :meth:`disconnect_on_status` (reset instead of the next status answer).
:meth:`go_offline` is different: the network goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.emulators.tcp_faults import FaultyTcpDevice
from drivers.emulators.tcp_server import Hangup
from drivers.protocols.escpos import (
    encode_offline_cause,
    encode_online_status,
    encode_paper_sensor,
    encode_paper_status,
)
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


class EscposPrinterEmulator(FaultyTcpDevice):
    """Records printed jobs; controls are thread-safe."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._cond = threading.Condition()
        self._jobs: list[EscposJob] = []
        self._held: list[EscposJob] = []
        self._paper_out = False
        self._paper_low = False
        self._cover_open = False
        self._error = False
        self._answers_dle_eot = True
        self._answers_gs_r = True
        self._open: dict[int, tuple[bytearray, EscposReader]] = {}
        self.status_queries = 0

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_slip_printer`."""
        return f"escpos+tcp://{self.host}:{self.port}"

    def paper_out(self, on: bool = True) -> None:
        """Out of paper: answer so to ``DLE EOT 4``; hold jobs until paper is back."""
        self._fault("_paper_out", on)

    def cover_open(self, on: bool = True) -> None:
        """Cover open: offline, ``DLE EOT 2`` bit 2; hold jobs until it is closed."""
        self._fault("_cover_open", on)

    def offline(self, on: bool = True) -> None:
        """Offline with an error (``DLE EOT 1`` bit 3, ``DLE EOT 2`` bit 6); hold jobs."""
        self._fault("_error", on)

    def paper_low(self, on: bool = True) -> None:
        """Paper near end (still prints)."""
        with self._cond:
            self._paper_low = on

    def no_status(self, dle_eot: bool = True, gs_r: bool = True) -> None:
        """Stop answering ``DLE EOT`` (and ``GS r`` unless ``gs_r=False``)."""
        with self._cond:
            self._answers_dle_eot = not dle_eot
            self._answers_gs_r = not gs_r

    def _fault(self, name: str, on: bool) -> None:
        with self._cond:
            setattr(self, name, on)
            if not self._stopped():
                self._jobs += self._held
                self._held = []
                self._cond.notify_all()

    def _stopped(self) -> bool:
        # caller holds self._cond
        return self._paper_out or self._cover_open or self._error

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
        queries = reader.feed_queries(data)
        if reader.job_bytes:
            self._hang_up(conn_id, self._cut_job)
        raw += data
        reply = b""
        for query in queries:
            self.status_queries += 1
            self._hang_up(conn_id, self._cut_status)
            reply += self._status_answer(query)
        return self._answer(conn_id, reply)

    def _hang_up(self, conn_id: int, cut: Callable[[], None]) -> None:
        try:
            cut()
        except Hangup:
            self._open.pop(conn_id, None)  # nothing of this connection prints
            raise

    def _status_answer(self, query: bytes) -> bytes:
        with self._cond:
            out, low, cover, error = self._paper_out, self._paper_low, self._cover_open, self._error
            dle, gs_r = self._answers_dle_eot, self._answers_gs_r
            offline = self._stopped()
        if query[0] == 0x1D:  # GS r n
            return encode_paper_sensor(out, low) if gs_r else b""
        if not dle:
            return b""
        if query[2] == 4:
            return encode_paper_status(out, low)
        if query[2] == 1:
            return encode_online_status(offline)
        if query[2] == 2:
            return encode_offline_cause(cover, out, error)
        # DLE EOT 3 (error cause): auto-recoverable error when offline by error
        return bytes([0x12 | (0x40 if error else 0)])

    def on_close(self, conn_id: int) -> None:
        raw, reader = self._open.pop(conn_id, (bytearray(), EscposReader()))
        slip = reader.slip
        if not (slip.text.strip() or slip.barcodes or slip.qr_codes or slip.cuts):
            return
        job = EscposJob(bytes(raw), slip)
        with self._cond:
            (self._held if self._stopped() else self._jobs).append(job)
            self._cond.notify_all()
