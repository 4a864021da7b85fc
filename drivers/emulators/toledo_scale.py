"""A Mettler Toledo 8217-protocol scale on a pty: the real wire format, faults on demand.

    with ToledoScaleEmulator(weight=1234.5) as emu:      # grams on the pan; speaks kg
        scale = open_scale(emu.url)
        scale.read()                                     # -> Weight(grams=1234.5, ...)

Behaviour follows the DIVA service manual: ``W`` answers ``STX 01.234 CR`` (``N`` appended
when net), or ``STX ? status CR`` while in motion, over capacity or below zero; ``Z``/``T``/
``C`` answer with the status byte after acting; ``E`` starts the echo test until ``F``.
Emulator choices a real scale may not share: unknown letters and CR/LF are ignored; ``F``
is not echoed; the status answering ``Z``/``T`` already shows the new zero/tare.
"""

from __future__ import annotations

from drivers.base import Unit
from drivers.emulators.serial_scale import SerialScaleEmulator
from drivers.protocols import toledo

_DECIMALS = {Unit.KG: 3, Unit.LB: 2, Unit.G: 0, Unit.OZ: 1}


class ToledoScaleEmulator(SerialScaleEmulator):
    """An 8217 scale behind a pty. ``unit`` is the unit its setup menu is set to."""

    protocol = "toledo-8217"
    thread_name = "toledo-emu"

    def __init__(self, weight: float = 0.0, unit: str = "kg", **kwargs: float) -> None:
        super().__init__(weight=weight, unit=unit, **kwargs)
        self.url_options = f"{self.url_options}&unit={self.unit}"
        self._echo = False

    @property
    def echoing(self) -> bool:
        with self._lock:
            return self._echo

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        out: list[bytes] = []
        echoed = bytearray()
        for byte in data:
            c = bytes([byte])
            if self._echo:
                if c == toledo.END_ECHO:
                    self._echo = False
                else:
                    echoed += c
                continue
            if echoed:
                out.append(bytes(echoed))
                echoed.clear()
            answer = self._command(c, now)
            if answer:
                out.append(answer)
        if echoed:
            out.append(bytes(echoed))
        return out

    def _command(self, c: bytes, now: float) -> bytes:
        if c == toledo.WEIGHT:
            return self._weight(now)
        if c == toledo.ZERO:
            return self._after(self._try_zero(now), now, done=toledo.CENTER_OF_ZERO)
        if c == toledo.TARE:
            return self._after(self._try_tare(now), now, done=0)
        if c == toledo.CLEAR_TARE:
            condition, _, stable = self._reading(now)
            if stable and not condition:
                self._s.tare = 0.0
            return toledo.encode_status(self._status(now))
        if c == b"E":
            self._echo = True
            return b"\x02E\r"
        return b""

    def _weight(self, now: float) -> bytes:
        condition, net, stable = self._reading(now)
        if condition or not stable or net < 0:
            return toledo.encode_status(self._status(now))
        decimals = _DECIMALS[self.unit]
        value = round(self._in_unit(net), decimals)
        return toledo.encode_weight(
            value, decimals, net=self._s.tare > 0, width=decimals + 3 if decimals else 3
        )

    def _after(self, why_not: str, now: float, done: int) -> bytes:
        status = self._status(now)
        if why_not == "":
            status |= done
        elif why_not == "range":
            status |= toledo.OUTSIDE_ZERO_CAPTURE if done else 0
        return toledo.encode_status(status)

    def _status(self, now: float) -> int:
        condition, net, stable = self._reading(now)
        status = toledo.ALWAYS_SET
        if condition == "+":
            status |= toledo.OVER_CAPACITY
        elif condition == "-" or net < 0:
            status |= toledo.UNDER_ZERO
        if not stable:
            status |= toledo.MOTION
        if self._s.tare > 0:
            status |= toledo.NET
        if not condition and stable and abs(net) < 1e-9:
            status |= toledo.CENTER_OF_ZERO
        return status
