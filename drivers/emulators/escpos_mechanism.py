"""What an emulated ESC/POS printer does with the bytes it gets, whatever the cable: the
paper, the cover, the status answers and the printed (or held) jobs.

The TCP emulator (:mod:`drivers.emulators.escpos_printer`) and the serial one
(:mod:`drivers.emulators.escpos_serial`) differ only in where a job ends (the connection
closes / the paper is cut) and in their wire faults, so the tests of both reach the same
faults with the same calls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from drivers.protocols.escpos import (
    encode_offline_cause,
    encode_online_status,
    encode_paper_sensor,
    encode_paper_status,
)
from drivers.protocols.escpos_reader import Slip


@dataclass
class EscposJob:
    """The bytes of one job and what they print."""

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


class EscposMechanism:
    """Printer state and printed jobs; every control is thread-safe.

    Faults: :meth:`paper_low` (near end, still prints), :meth:`paper_out`,
    :meth:`cover_open` (offline, DLE EOT 2 says cover), :meth:`offline` (offline with an
    error, e.g. a cutter jam), :meth:`no_status` (answers no status query, as a printer
    without DLE EOT/GS r). With paper out, cover open or offline the printer still buffers
    the bytes and prints them when the fault clears (jobs wait in :attr:`held`).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[EscposJob] = []
        self._held: list[EscposJob] = []
        self._paper_out = False
        self._paper_low = False
        self._cover_open = False
        self._error = False
        self._answers_dle_eot = True
        self._answers_gs_r = True
        self.status_queries = 0  # queries received (counted by the emulator's one thread)

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

    def _status_answer(self, query: bytes) -> bytes:
        """The answer to one ``DLE EOT n`` / ``GS r n`` query (b"" if it answers none)."""
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

    def _print(self, data: bytes, slip: Slip) -> None:
        """One job received: printed, or held while the printer is stopped. Bytes that
        print nothing (bare status queries) are not a job."""
        if not (slip.text.strip() or slip.barcodes or slip.qr_codes or slip.cuts):
            return
        job = EscposJob(data, slip)
        with self._cond:
            (self._held if self._stopped() else self._jobs).append(job)
            self._cond.notify_all()
