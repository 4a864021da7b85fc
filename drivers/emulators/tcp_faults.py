"""Wire faults every TCP printer emulator offers alike, so ZPL and ESC/POS break the same
way: status answers that come late or behind line noise, and a connection reset in the
middle of a job or instead of a status answer (a printer losing power, a crashed print
server, a pulled cable).

A subclass calls :meth:`_cut_job` when a connection's first print bytes arrive and
:meth:`_cut_status` for each status query (each raises :class:`Hangup` once when armed),
and passes its status answers through :meth:`_answer`.
"""

from __future__ import annotations

import threading

from drivers.emulators.tcp_server import Hangup, TcpDeviceServer

# Line noise as it is often read: framing errors as 0xFF, stray high bytes. (A 0x00 would
# be a valid GS r 1 answer, "paper fine": no reader can tell that from noise.)
DEFAULT_NOISE = b"\xff\xfe\x80"


class FaultyTcpDevice(TcpDeviceServer):
    """A :class:`TcpDeviceServer` with :meth:`slow`, :meth:`noise`,
    :meth:`disconnect_mid_job` and :meth:`disconnect_on_status`; thread-safe."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._fault_lock = threading.Lock()
        self._slow = 0.0
        self._noise = b""
        self._cut_next_job = False
        self._cut_next_status = False
        self.hangups = 0  # connections reset by disconnect_mid_job() / disconnect_on_status()

    def slow(self, seconds: float) -> None:
        """Answer status queries ``seconds`` late (0: at once)."""
        with self._fault_lock:
            self._slow = seconds

    def noise(self, data: bytes | None = DEFAULT_NOISE) -> None:
        """Send ``data`` before every status answer, at once even when the answer is
        ``slow`` (``None`` or ``b""`` to stop)."""
        with self._fault_lock:
            self._noise = data or b""

    def disconnect_mid_job(self, on: bool = True) -> None:
        """Reset the connection of the next job as its first print bytes arrive (once);
        those bytes are thrown away, as by a printer that lost power before printing them."""
        with self._fault_lock:
            self._cut_next_job = on

    def disconnect_on_status(self, on: bool = True) -> None:
        """Reset the connection instead of answering the next status query (once)."""
        with self._fault_lock:
            self._cut_next_status = on

    def _cut_job(self) -> None:
        self._cut("_cut_next_job")

    def _cut_status(self) -> None:
        self._cut("_cut_next_status")

    def _cut(self, armed: str) -> None:
        with self._fault_lock:
            if not getattr(self, armed):
                return
            setattr(self, armed, False)
            self.hangups += 1
        raise Hangup

    def _answer(self, conn_id: int, reply: bytes) -> bytes:
        """``reply`` as the device sends it: the noise at once, the answer now or ``slow`` s
        later. Returns what ``on_data`` should send at once."""
        if not reply:
            return b""
        with self._fault_lock:
            noise, slow = self._noise, self._slow
        if slow > 0:
            self.reply_later(conn_id, reply, slow)
            return noise
        return noise + reply
