"""Mettler Toledo 8213/8217 ("weight only") protocol, as spoken by Odoo's IoT box: pure bytes.

Commands are single ASCII letters, no terminator. ``W`` is answered ``STX weight CR``
(``STX 01.234 CR``, ``N`` appended for a net weight, no unit: the unit is whatever the
scale is set to) or ``STX ? status CR`` when there is no weight to give (motion, over
capacity, below zero). ``Z`` zero, ``T`` tare, ``C`` clear tare answer ``STX ? status CR``.
``E`` starts the serial echo test (answer ``STX E CR``, then every byte comes back until
``F``): Odoo probes with ``Ehello``. Sources: Odoo ``hw_drivers`` Toledo8217 driver;
METTLER TOLEDO DIVA Service Manual, 8217 protocol and "Scale Status Byte Bit Definitions";
Rice Lake BenchPro operation manual (same protocol). See drivers/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STX, CR = b"\x02", b"\r"

WEIGHT = b"W"
ZERO = b"Z"
TARE = b"T"
CLEAR_TARE = b"C"
ECHO_PROBE = b"Ehello"  # what Odoo sends to recognise the protocol
END_ECHO = b"F"
ECHO_ANSWER = b"\x02E\rhello"

# Status byte bits (bit 6 is always 1 and bit 7 parity, so the byte is printable ASCII).
MOTION = 0x01
OVER_CAPACITY = 0x02
UNDER_ZERO = 0x04
OUTSIDE_ZERO_CAPTURE = 0x08
CENTER_OF_ZERO = 0x10
NET = 0x20
ALWAYS_SET = 0x40

STATUS_WORDS = {
    MOTION: "in motion",
    OVER_CAPACITY: "over capacity",
    UNDER_ZERO: "below zero",
    OUTSIDE_ZERO_CAPTURE: "outside the zero capture range",
    CENTER_OF_ZERO: "at centre of zero",
    NET: "showing net weight",
}

MAX_PENDING = 64  # longer than any frame; a run without CR this long is noise


@dataclass(frozen=True, slots=True)
class WeightFrame:
    """``STX weight [N] CR``: the number as sent, in the scale's configured unit."""

    value: float
    decimals: int
    net: bool


@dataclass(frozen=True, slots=True)
class StatusFrame:
    """``STX ? status CR``: the status byte (parity bit removed)."""

    status: int

    def has(self, bit: int) -> bool:
        return bool(self.status & bit)

    def describe(self) -> str:
        """The set bits in plain words, e.g. ``"in motion, showing net weight"``."""
        words = [w for bit, w in STATUS_WORDS.items() if self.status & bit]
        return ", ".join(words) or "no condition"


@dataclass(frozen=True, slots=True)
class EchoFrame:
    """``STX E CR``: the scale entered its echo test."""


Frame = WeightFrame | StatusFrame | EchoFrame

# The body may not contain STX, so a match starts at the last STX before its CR: noise
# before a frame is skipped, never read as part of it. The status byte has bit 6 set.
_FRAME = re.compile(rb"\x02(?:\?([\x40-\x7f\xc0-\xff])|( *)([0-9]+(?:\.[0-9]+)?)(N?)|(E))\r")


class Parser:
    """Cut a byte stream into frames, whatever the reads' boundaries. Never raises.

    ``garbage`` counts bytes thrown away, so a driver can tell "only noise arrived"
    (wrong baud rate or protocol) from "nothing arrived".
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return the frames it completed, in order."""
        self._buf += data
        frames: list[Frame] = []
        buf = bytes(self._buf)
        pos = 0
        for m in _FRAME.finditer(buf):
            self.garbage += m.start() - pos
            pos = m.end()
            frames.append(_frame(m))
        rest = buf[pos:]
        # Keep only what could still become a frame: from the last STX on.
        start = rest.rfind(STX)
        keep = rest[start:] if start >= 0 else b""
        if len(keep) > MAX_PENDING or CR in keep:  # a CR after the STX ended a non-frame
            keep = b""
        self.garbage += len(rest) - len(keep)
        self._buf = bytearray(keep)
        return frames

    def clear(self) -> None:
        """Forget a partial frame (after the input was reset)."""
        self._buf.clear()
        self.garbage = 0


def _frame(m: re.Match[bytes]) -> Frame:
    status, _, number, net, echo = m.groups()
    if status is not None:
        return StatusFrame(status[0] & 0x7F)
    if echo is not None:
        return EchoFrame()
    decimals = len(number.partition(b".")[2])
    return WeightFrame(float(number), decimals, net == b"N")


def encode_weight(value: float, decimals: int = 3, net: bool = False, width: int = 6) -> bytes:
    """``STX 01.234 CR`` (emulator side): leading zeros kept, as scales send them."""
    text = f"{abs(value):0{width}.{decimals}f}"
    return STX + text.encode() + (b"N" if net else b"") + CR


def encode_status(status: int) -> bytes:
    """``STX ? status CR`` (emulator side)."""
    return STX + b"?" + bytes([(status | ALWAYS_SET) & 0x7F]) + CR
