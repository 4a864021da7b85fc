"""A CAS scale in continuous output mode ("CAS 22 bytes") on a pty: frames sent unasked.

    with CasStreamScaleEmulator(weight=1234) as emu:    # grams on the pan; speaks kg
        scale = open_scale(emu.url)
        scale.read()                                    # -> Weight(grams=1234.0, ...)

A frame every ``interval`` s (0.1), whatever the driver sends (it sends nothing). The
shared faults mean, for a scale that is not asked: :meth:`slow` sends a frame only every
``s`` s (a slow output rate), :meth:`stop_answering` stops sending, :meth:`noise` and
:meth:`split_frames` act on every frame. At a baud rate other than the scale's, the host
reads garbage instead of frames. Emulator choices: the frame has no underload flag, so
:meth:`underload` shows a small negative weight; a tare shows as ``NT``.
"""

from __future__ import annotations

from drivers.emulators.cas_scale import DECIMALS, pan_value
from drivers.emulators.serial_scale import MISHEARD, SerialScaleEmulator
from drivers.protocols import cas_stream


class CasStreamScaleEmulator(SerialScaleEmulator):
    """A CAS indicator set to continuous 22-byte output, behind a pty."""

    protocol = "cas-stream"
    thread_name = "cas-stream-emu"

    def __init__(
        self, weight: float = 0.0, unit: str = "kg", interval: float = 0.1, **kwargs: float
    ) -> None:
        super().__init__(weight=weight, unit=unit, **kwargs)
        self.interval = interval
        self._next = 0.0

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        return []  # continuous mode takes no commands

    def _tick(self, now: float) -> list[tuple[float, bytes]]:
        if not self._s.answering or now < self._next:
            return []
        self._next = now + max(self.interval, self._s.delay)
        if self._port is not None and not self._speed_matches(self._port):
            return [(now, MISHEARD)]
        return [(now, self._frame(now))]

    def _frame(self, now: float) -> bytes:
        stable, value = pan_value(self, now)
        unit, decimals = self.unit.value, DECIMALS[self.unit]
        return cas_stream.encode_frame(stable, value, unit, decimals, net=self._s.tare != 0)
