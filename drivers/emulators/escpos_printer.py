"""An ESC/POS receipt printer on raw TCP for tests and demos.

    with EscposPrinterEmulator() as emu:
        slip = open_slip_printer(emu.url)
        slip.print_document(doc)
        job = emu.wait_for_jobs(1)[0]
        assert "ORDER 1234" in job.text

Each connection is one job; a job is recorded when the client closes and only if it
printed something (a bare status query is not a job). ``DLE EOT n`` queries are answered
at once, as a real printer does, and so is ``GS r 1`` (a real printer answers it after
the bytes before it are printed). The printer itself (paper, cover, status answers, held
jobs and their faults) is :class:`~drivers.emulators.escpos_mechanism.EscposMechanism`,
shared with the serial emulator (:mod:`drivers.emulators.escpos_serial`).

Wire faults, shared with the ZPL emulator (:mod:`drivers.emulators.tcp_faults`):
:meth:`slow` (status answers late), :meth:`noise` (junk bytes before each status answer),
:meth:`disconnect_mid_job` (the next job's connection is reset as its first bytes arrive;
they are lost) and :meth:`disconnect_on_status` (reset instead of the next status answer).
:meth:`go_offline` is different: the network goes away.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.emulators.escpos_mechanism import EscposJob, EscposMechanism
from drivers.emulators.tcp_faults import FaultyTcpDevice
from drivers.emulators.tcp_server import Hangup
from drivers.protocols.escpos_reader import EscposReader

__all__ = ["EscposJob", "EscposPrinterEmulator"]


class EscposPrinterEmulator(EscposMechanism, FaultyTcpDevice):
    """Records printed jobs; controls are thread-safe."""

    def __init__(self, port: int = 0) -> None:
        FaultyTcpDevice.__init__(self, port)
        EscposMechanism.__init__(self)
        self._open: dict[int, tuple[bytearray, EscposReader]] = {}

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_slip_printer`."""
        return f"escpos+tcp://{self.host}:{self.port}"

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

    def on_close(self, conn_id: int) -> None:
        raw, reader = self._open.pop(conn_id, (bytearray(), EscposReader()))
        self._print(bytes(raw), reader.slip)
