"""Avery Weigh-Tronix / NCI "SCP-01" (NCI standard, 3825) scale protocol: pure bytes in/out.

Commands are one letter and CR: ``W`` weight, ``S`` status, ``Z`` zero, ``H`` weight at ten
times the resolution, ``U`` change units (not used by the driver: it changes the scale).
Answers end with ETX::

    W  ->  LF  1.234lb CR LF hh CR ETX     weight, unit, then two or more status bytes
    S  ->  LF hh CR ETX                    status only (also W while negative or in error)
    ?  ->  LF ? CR ETX                     any command the scale does not know

Status bytes have bits 4 and 5 set (so ``00`` is "all well"), bit 7 is parity and bit 6
of the second and later bytes says another follows. The weight field may hold the
display's out-of-range characters (``^^^^^^`` over capacity, ``______`` under, ``------``
zero error). Some models (SCP-02, DIVA "NCI-ECR") put an ``S`` before the status bytes.
Sources: Weigh-Tronix SCP-01 8408-14788-01 (as transcribed in public scale simulators);
METTLER TOLEDO DIVA Service Manual, "NCI - ECR"; NCI 7800 and Avery 7821 user manuals;
Ohaus Aviator 7000 service manual. See drivers/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import Unit

LF, CR, ETX = b"\n", b"\r", b"\x03"

WEIGHT = b"W\r"
STATUS = b"S\r"
ZERO = b"Z\r"
HIGH_RESOLUTION = b"H\r"
CHANGE_UNITS = b"U\r"

MAX_PENDING = 64  # longer than any answer; a run this long without ETX is noise

# (byte index, bit) -> (attribute, plain words)
_BITS = {
    (0, 0): ("motion", "in motion"),
    (0, 1): ("at_zero", "at zero"),
    (0, 2): ("ram_error", "RAM error"),
    (0, 3): ("eeprom_error", "EEPROM error"),
    (1, 0): ("under_capacity", "under capacity"),
    (1, 1): ("over_capacity", "over capacity"),
    (1, 2): ("rom_error", "ROM error"),
    (1, 3): ("calibration_error", "faulty calibration"),
    (2, 2): ("net", "net weight"),
    (2, 3): ("initial_zero_error", "initial zero error"),
}


@dataclass(frozen=True, slots=True)
class Status:
    """The status bytes, decoded (parity bit removed)."""

    raw: bytes

    def bit(self, index: int, bit: int) -> bool:
        return len(self.raw) > index and bool(self.raw[index] & (1 << bit))

    def __getattr__(self, name: str) -> bool:
        for (index, bit), (attr, _) in _BITS.items():
            if attr == name:
                return self.bit(index, bit)
        raise AttributeError(name)

    @property
    def high_range(self) -> bool:
        return self.bit(2, 0) and self.bit(2, 1)

    @property
    def hardware_error(self) -> bool:
        return any(self.bit(i, b) for i, b in ((0, 2), (0, 3), (1, 2), (1, 3)))

    def describe(self) -> str:
        """The set bits in plain words, e.g. ``"in motion, at zero"``."""
        words = [w for (i, b), (_, w) in _BITS.items() if self.bit(i, b)]
        return ", ".join(words) or "no condition"


def decode_status(data: bytes) -> Status | None:
    """Check the status bytes' fixed bits and chaining; None if they are not status bytes."""
    raw = bytes(b & 0x7F for b in data)
    if not 2 <= len(raw) <= 4 or any(b & 0x30 != 0x30 for b in raw) or raw[0] & 0x40:
        return None
    follows = [bool(b & 0x40) for b in raw[1:]]
    if follows != [True] * (len(follows) - 1) + [False]:
        return None
    return Status(raw)


def encode_status(*flags: str, three: bool = False) -> bytes:
    """Status bytes with the named bits set (emulator side), e.g. ``("motion",)``."""
    out = bytearray([0x30, 0x30] + ([0x30] if three else []))
    for (index, bit), (attr, _) in _BITS.items():
        if attr in flags and index < len(out):
            out[index] |= 1 << bit
    if three:
        out[1] |= 0x40
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer. ``kind`` is ``weight``, ``status``, ``units`` or ``unknown`` (``?``).

    ``value``/``unit`` are set for a weight in a unit we know (``unit_text`` is what was
    sent, so an unknown unit can be named); ``out_of_range`` is ``over``, ``under`` or
    ``zero_error`` when the weight field held the display's out-of-range characters.
    """

    kind: str
    status: Status | None = None
    value: float | None = None
    unit: Unit | None = None
    unit_text: str = ""
    out_of_range: str = ""


# The body may hold no LF, CR or ETX, so a match starts at the last LF before its body:
# noise before an answer is skipped, never read as part of it.
_ANSWER = re.compile(rb"\n(?:(\?)|(?:([^\n\r\x03]{1,24})\r\n?)?S?([^\n\r\x03]{2,4}))\r?\x03")
_NUMBER = re.compile(r"\s*(-?)\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]{1,3})\s*")
_LB_OZ = re.compile(r"\s*([0-9]+)\s*lb\s+([0-9]+(?:\.[0-9]+)?)\s*oz\s*", re.IGNORECASE)
_OUT = re.compile(r"\s*(\^+|_+|-{2,})\s*([A-Za-z]{0,3})\s*")
_UNITS_ONLY = re.compile(r"\s*([A-Za-z]{1,3})\s*")
_OUT_NAMES = {"^": "over", "_": "under", "-": "zero_error"}
_UNITS = {u.value: u for u in Unit}


def parse_answer(body: bytes | None, status_bytes: bytes) -> Reply | None:
    """One answer's weight field and status bytes -> Reply; None if it is not valid."""
    status = decode_status(status_bytes)
    if status is None:
        return None
    if body is None:
        return Reply("status", status)
    text = body.decode("latin-1")
    if m := _LB_OZ.fullmatch(text):
        return Reply("weight", status, int(m[1]) * 16 + float(m[2]), Unit.OZ, "lb oz")
    if m := _NUMBER.fullmatch(text):
        sign, number, unit_text = m.groups()
        value = -float(number) if sign else float(number)
        return Reply("weight", status, value, _UNITS.get(unit_text.lower()), unit_text)
    if m := _OUT.fullmatch(text):
        return Reply("weight", status, unit_text=m[2], out_of_range=_OUT_NAMES[m[1][0]])
    if m := _UNITS_ONLY.fullmatch(text):
        return Reply("units", status, unit=_UNITS.get(m[1].lower()), unit_text=m[1])
    return None


class Parser:
    """Cut a byte stream into answers, whatever the reads' boundaries. Never raises.

    ``garbage`` counts bytes (and invalid answers) thrown away, so a driver can tell
    "only noise arrived" from "nothing arrived".
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Reply]:
        """Add ``data``; return the answers it completed, in order."""
        self._buf += data
        buf, pos, out = bytes(self._buf), 0, []
        for m in _ANSWER.finditer(buf):
            self.garbage += m.start() - pos
            pos = m.end()
            unknown, body, status = m.groups()
            reply = Reply("unknown") if unknown else parse_answer(body, status)
            if reply is None:
                self.garbage += 1
            else:
                out.append(reply)
        rest = buf[pos:]
        # An answer may still be arriving: keep from the first LF after the last ETX.
        tail = rest[rest.rfind(ETX) + 1 :]
        start = tail.find(LF)
        keep = tail[start:] if start >= 0 and len(tail) - start <= MAX_PENDING else b""
        self.garbage += len(rest) - len(keep)
        self._buf = bytearray(keep)
        return out

    def clear(self) -> None:
        """Forget a partial answer (after the input was reset)."""
        self._buf.clear()
        self.garbage = 0


def encode_weight(field: str, unit: str, status: bytes) -> bytes:
    """``LF field unit CR LF status CR ETX`` (emulator side)."""
    return LF + f"{field}{unit}".encode() + CR + LF + status + CR + ETX


def encode_status_answer(status: bytes) -> bytes:
    """``LF status CR ETX`` (emulator side)."""
    return LF + status + CR + ETX


UNKNOWN_ANSWER = b"\n?\r\x03"
