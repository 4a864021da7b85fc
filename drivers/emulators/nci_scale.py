"""An NCI / Weigh-Tronix SCP-01 scale on a pty: the real wire format, faults on demand.

    with NciScaleEmulator(weight=1234, unit="kg") as emu:   # grams on the pan
        scale = open_scale(emu.url)
        scale.read()                                        # -> Weight(grams=1234.0, ...)

Behaviour follows SCP-01: ``W`` answers weight, unit and status (the motion bit set while
the pan moves), ``S`` the status, ``Z`` zeroes when steady and within +-2 % of capacity and
answers the status, ``H`` the weight with one more decimal, ``U`` switches lb/kg, anything
else ``LF ? CR ETX``. Over and under capacity show the display's ``^^^^^^``/``______`` in
the weight field with the status bits; a negative net weight is answered with the status
only (as the DIVA manual says). Emulator choices: commands end at CR (LF ignored); a
hardware fault is injected with ``fault("eeprom")`` and friends.
"""

from __future__ import annotations

from drivers.base import Unit
from drivers.emulators.serial_scale import SerialScaleEmulator
from drivers.protocols import nci

_DECIMALS = {Unit.KG: 3, Unit.LB: 2, Unit.G: 0, Unit.OZ: 1}
_FAULTS = ("ram_error", "eeprom_error", "rom_error", "calibration_error", "initial_zero_error")


class NciScaleEmulator(SerialScaleEmulator):
    """An SCP-01 scale behind a pty. ``three_status_bytes`` adds the optional third byte."""

    protocol = "nci"
    thread_name = "nci-emu"

    def __init__(
        self,
        weight: float = 0.0,
        unit: str = "lb",
        three_status_bytes: bool = False,
        **kwargs: float,
    ) -> None:
        super().__init__(weight=weight, unit=unit, **kwargs)
        self.three = three_status_bytes
        self._line = bytearray()
        self._faults: set[str] = set()

    def fault(self, name: str, on: bool = True) -> None:
        """Set a status error bit: ram, eeprom, rom, calibration or initial_zero."""
        key = name if name.endswith("_error") else f"{name}_error"
        if key not in _FAULTS:
            raise ValueError(f"no such fault {name!r}")
        with self._lock:
            (self._faults.add if on else self._faults.discard)(key)

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        out = []
        for byte in data:
            if byte == 0x0D:
                out.append(self._command(self._line.decode("latin-1").strip(), now))
                self._line.clear()
            elif byte != 0x0A and len(self._line) < 64:
                self._line.append(byte)
        return out

    def _command(self, cmd: str, now: float) -> bytes:
        if cmd == "W":
            return self._weight(now, 0)
        if cmd == "H":
            return self._weight(now, 1)
        if cmd == "S":
            return nci.encode_status_answer(self._status(now))
        if cmd == "Z":
            self._try_zero(now)
            return nci.encode_status_answer(self._status(now))
        if cmd == "U":
            self.unit = Unit.KG if self.unit == Unit.LB else Unit.LB
            return nci.encode_weight("", self.unit.value, self._status(now))
        return nci.UNKNOWN_ANSWER

    def _weight(self, now: float, extra_decimals: int) -> bytes:
        condition, net, _ = self._reading(now)
        status = self._status(now)
        if condition:
            field = ("^" if condition == "+" else "_") * 6
            return nci.encode_weight(field, self.unit.value, status)
        if net < 0:
            return nci.encode_status_answer(status)
        decimals = _DECIMALS[self.unit] + extra_decimals
        field = f"{self._in_unit(net):>7.{decimals}f}"
        return nci.encode_weight(field, self.unit.value, status)

    def _status(self, now: float) -> bytes:
        condition, net, stable = self._reading(now)
        flags = set(self._faults)
        if not stable:
            flags.add("motion")
        if condition == "+":
            flags.add("over_capacity")
        elif condition == "-" or net < 0:
            flags.add("under_capacity")
        elif stable and abs(net) < 1e-9:
            flags.add("at_zero")
        return nci.encode_status(*flags, three=self.three)
