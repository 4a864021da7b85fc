"""USB HID postal scales (Dymo M10/M25/S100, Stamps.com and alikes): the 6-byte input report.

Source: USB-IF *HID Point of Sale Usage Tables* 1.02, usage page 0x8D (Weighing Devices):
Scale Data Report, Scale Status (0x70 + n) and Weight Unit (0x50 + n) usages. These scales
send report id 3 as six bytes::

    [0] report id 3
    [1] status   1 fault, 2 stable at zero, 3 in motion, 4 stable, 5 under zero,
                 6 over weight limit, 7 requires calibration, 8 requires re-zeroing
    [2] unit     2 g, 11 oz, 12 lb (3 kg and 1 mg from some; others are rare)
    [3] exponent signed byte, weight = raw * 10 ** exponent (Dymo in ounces: -1)
    [4] weight LSB
    [5] weight MSB

Pure functions, no I/O: :func:`decode` never raises, whatever bytes it is given;
:func:`encode` builds reports for the emulator and tests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.base import Unit, Weight

REPORT_ID = 3
REPORT_SIZE = 6


class Status(enum.IntEnum):
    FAULT = 1
    ZERO = 2
    MOTION = 3
    STABLE = 4
    UNDER_ZERO = 5
    OVERWEIGHT = 6
    CALIBRATE = 7
    REZERO = 8


# HID weight-unit selector -> (our unit, factor to that unit). mg and kg are folded into g so
# Weight.of keeps to the four units the station knows.
UNITS: dict[int, tuple[Unit, float]] = {
    1: (Unit.G, 0.001),
    2: (Unit.G, 1.0),
    3: (Unit.KG, 1.0),
    11: (Unit.OZ, 1.0),
    12: (Unit.LB, 1.0),
}
UNIT_CODES: dict[Unit, int] = {Unit.G: 2, Unit.KG: 3, Unit.OZ: 11, Unit.LB: 12}

# state -> (plain words for the packer, ScaleError condition)
_PROBLEMS: dict[Status, tuple[str, str, str]] = {
    Status.FAULT: ("fault", "Scale reports a fault: switch it off and on again.", "refused"),
    Status.UNDER_ZERO: (
        "under_zero",
        "Scale reads below zero: empty the pan and press the zero button.",
        "underload",
    ),
    Status.OVERWEIGHT: (
        "overweight",
        "Scale overloaded: take the parcel off and weigh it again.",
        "overload",
    ),
    Status.CALIBRATE: (
        "calibrate",
        "Scale needs calibrating: see its manual, or use another scale.",
        "refused",
    ),
    Status.REZERO: (
        "rezero",
        "Scale needs re-zeroing: empty the pan and press the zero button.",
        "refused",
    ),
}


@dataclass(frozen=True, slots=True)
class Reading:
    """What one report says.

    ``weight`` is set for stable, zero and in-motion reports; otherwise ``state`` names the
    condition (``fault``, ``under_zero``, ``overweight``, ``calibrate``, ``rezero``,
    ``bad_unit``, ``garbage``), ``message`` says it in plain words and ``condition`` is the
    matching :class:`drivers.errors.ScaleError` condition.
    """

    state: str
    weight: Weight | None = None
    message: str = ""
    condition: str = ""

    @property
    def ok(self) -> bool:
        return self.weight is not None


def decode(report: bytes | bytearray | Iterable[int]) -> Reading:
    """One HID input report -> :class:`Reading`. Never raises.

    Reports that are not six bytes of report id 3 (another report of the device, noise)
    come back as state ``garbage``.
    """
    try:
        data = bytes(report)
    except (TypeError, ValueError):
        return _garbage("not a byte report")
    if len(data) != REPORT_SIZE or data[0] != REPORT_ID:
        return _garbage(f"not a weight report: {data[:16].hex(' ')}")
    status, unit_code, exp_byte = data[1], data[2], data[3]
    raw = data[4] | data[5] << 8
    exponent = exp_byte - 256 if exp_byte > 127 else exp_byte
    try:
        st = Status(status)
    except ValueError:
        return _garbage(f"unknown scale status {status}")
    if st in _PROBLEMS:
        state, message, condition = _PROBLEMS[st]
        return Reading(state=state, message=message, condition=condition)
    if st is Status.ZERO:
        # Some scales send unit 0 and garbage digits while showing zero: zero is zero.
        unit = UNITS.get(unit_code, (Unit.G, 1.0))[0]
        return Reading(state="zero", weight=Weight.of(0.0, unit, stable=True))
    if unit_code not in UNITS:
        return Reading(
            state="bad_unit",
            message=f"Scale sends weights in a unit we do not know (HID unit {unit_code}): "
            "set it to g, kg, oz or lb.",
            condition="refused",
        )
    if not -6 <= exponent <= 3:
        return _garbage(f"implausible exponent {exponent}")
    unit, factor = UNITS[unit_code]
    value = round(raw * factor * 10.0**exponent, 6)
    stable = st is Status.STABLE
    return Reading(state="stable" if stable else "motion", weight=Weight.of(value, unit, stable))


def encode(status: Status | int, unit: int, exponent: int, raw: int) -> bytes:
    """Build a report (emulator, tests). ``raw`` is clamped to 0..65535."""
    raw = max(0, min(0xFFFF, int(raw)))
    return bytes(
        [REPORT_ID, int(status) & 0xFF, unit & 0xFF, exponent & 0xFF, raw & 0xFF, raw >> 8]
    )


def encode_grams(grams: float, stable: bool = True, unit: Unit | str = Unit.G) -> bytes:
    """A report for ``grams`` as a Dymo sends it: whole grams, or tenths of oz (exponent -1).

    Negative weights give status under-zero, as the scales do.
    """
    u = Unit(unit)
    if grams < 0:
        return encode(Status.UNDER_ZERO, UNIT_CODES[u], 0, 0)
    if u is Unit.G:
        raw, exponent = round(grams), 0
    elif u is Unit.KG:
        raw, exponent = round(grams), -3
    elif u is Unit.OZ:
        raw, exponent = round(grams / 28.349523125 * 10), -1
    else:
        raw, exponent = round(grams / 453.59237 * 100), -2
    if raw == 0 and stable:
        return encode(Status.ZERO, UNIT_CODES[u], exponent, 0)
    if raw > 0xFFFF:
        return encode(Status.OVERWEIGHT, UNIT_CODES[u], exponent, 0)
    return encode(Status.STABLE if stable else Status.MOTION, UNIT_CODES[u], exponent, raw)


def _garbage(why: str) -> Reading:
    return Reading(
        state="garbage",
        message=f"Scale sent a report we cannot read ({why}).",
        condition="",
    )
