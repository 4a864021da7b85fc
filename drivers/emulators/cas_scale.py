"""A CAS ENQ/ACK scale (PD-II type 6) on a pty: the real wire format, faults on demand.

    with CasScaleEmulator(weight=1234) as emu:          # grams on the pan; speaks kg
        scale = open_scale(emu.url)
        scale.read()                                    # -> Weight(grams=1234.0, ...)

ENQ is answered ACK (NAK while :meth:`not_ready` is on); DC1 with the 15-byte frame; other
bytes are ignored. Emulator choices a real scale may not share: the protocol has no
underload flag, so :meth:`underload` shows a small negative weight (``-`` sign); DC1
without a preceding ENQ is answered too; :meth:`bad_checksum` corrupts the BCC.
"""

from __future__ import annotations

from drivers.base import Unit
from drivers.emulators.serial_scale import SerialScaleEmulator
from drivers.protocols import cas

DECIMALS = {Unit.KG: 3, Unit.LB: 2, Unit.G: 0, Unit.OZ: 1}


def pan_value(emu: SerialScaleEmulator, now: float) -> tuple[bool, float | None]:
    """``(stable, value in the scale's unit)`` for a CAS frame; None is overload. CAS
    frames have no underload flag: below zero shows as a small negative weight."""
    condition, net, stable = emu._reading(now)
    if condition == "+":
        return stable, None
    if condition == "-":
        return stable, -0.001 * emu._in_unit(emu.capacity)
    return stable, emu._in_unit(net)


class CasScaleEmulator(SerialScaleEmulator):
    """A CAS PD-II-like scale behind a pty."""

    protocol = "cas"
    thread_name = "cas-emu"

    def __init__(self, weight: float = 0.0, unit: str = "kg", **kwargs: float) -> None:
        super().__init__(weight=weight, unit=unit, **kwargs)
        self._nak = False
        self._bad_bcc = False

    def not_ready(self, on: bool = True) -> None:
        """Answer ENQ with NAK (the scale refuses to send)."""
        with self._lock:
            self._nak = on

    def bad_checksum(self, on: bool = True) -> None:
        """Send frames whose BCC is wrong (a line hit while sending)."""
        with self._lock:
            self._bad_bcc = on

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        out = []
        for byte in data:
            if byte == cas.ENQ[0]:
                out.append(bytes([cas.NAK if self._nak else cas.ACK]))
            elif byte == cas.DC1[0]:
                out.append(self._frame(now))
        return out

    def _frame(self, now: float) -> bytes:
        stable, value = pan_value(self, now)
        frame = cas.encode_frame(stable, value, self.unit.value, DECIMALS[self.unit])
        if self._bad_bcc:
            frame = frame[:12] + bytes([frame[12] ^ 0x01]) + frame[13:]
        return frame
