"""CAS ENQ/ACK protocol (PD-II "type 6", ER, and the many POS scales copying it): pure bytes.

The host sends ENQ; the scale answers ACK (ready) or NAK. The host then sends DC1 and the
scale answers one 15-byte frame::

    SOH STX STA SIGN W5 W4 W3 W2 W1 W0 UN1 UN0 BCC ETX EOT
            S/U  ' '/-/F  "01.234"     kg      XOR of STA..UN0

STA is ``S`` stable or ``U`` unstable; SIGN a space, ``-`` for a negative weight or ``F``
for overload (the weight is then ``FFFFFF``). The weight field holds the decimal point.
BCC is the XOR of the ten bytes from STA to UN0: the CAS PD-II manual calls it the block
check character, the Ohaus Aviator 7000 manual (same frame) "the even column parity (LRC)
of all characters except the STX and ETX", and an AP-1 scale document "xor of bytes 2 to
n+1" of the STX..ETX block; XOR over SOH..ETX gives the same value as SOH^STX^ETX is 0.
A frame whose BCC does not match is refused, never read as a weight. See README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

from drivers.base import Unit

SOH, STX, ETX, EOT = 0x01, 0x02, 0x03, 0x04
ENQ, ACK, NAK, DC1 = b"\x05", 0x06, 0x15, b"\x11"
FRAME_LENGTH = 15

_UNITS = {"kg": Unit.KG, "lb": Unit.LB, "g": Unit.G, "oz": Unit.OZ}
_NUMBER = re.compile(rb" *[0-9]*\.?[0-9]* *")

# What may stand at each position of a frame: lets a false start (noise SOH) be dropped as
# soon as a byte contradicts it, so an ACK behind it is not held back.
_ALLOWED = [
    {SOH},
    {STX},
    set(b"SUF"),
    set(b" -F"),
    *[set(b" 0123456789.F")] * 6,
    set(b"kKlLgG oO"),
    set(b"gGbBzZ "),
    set(range(256)),
    {ETX},
    {EOT},
]


@dataclass(frozen=True, slots=True)
class Ack:
    """The scale is ready (ACK) or not (NAK) after an ENQ."""

    ready: bool


@dataclass(frozen=True, slots=True)
class Reading:
    """One checked frame. ``value`` is None on overload; ``unit`` None for a unit we do
    not know (``unit_text`` names it)."""

    stable: bool
    overload: bool
    value: float | None
    unit: Unit | None
    unit_text: str


Event = Ack | Reading


def bcc(data: bytes) -> int:
    """XOR of ``data`` (STA through UN0)."""
    return reduce(lambda a, b: a ^ b, data, 0)


def parse_frame(frame: bytes) -> Reading | None:
    """A 15-byte frame -> Reading; None if any byte or the BCC is wrong."""
    if len(frame) != FRAME_LENGTH or any(
        b not in allowed for b, allowed in zip(frame, _ALLOWED, strict=True)
    ):
        return None
    body = frame[2:12]
    if bcc(body) != frame[12]:
        return None
    sta, sign, weight, unit_bytes = body[0:1], body[1:2], body[2:8], body[8:10]
    unit_text = unit_bytes.decode("ascii").strip()
    unit = _UNITS.get(unit_text.lower())
    if b"F" in (sta, sign) or weight == b"FFFFFF":
        return Reading(sta == b"S", True, None, unit, unit_text)
    if (
        b"F" in weight
        or not _NUMBER.fullmatch(weight)
        or not any(c in b"0123456789" for c in weight)
    ):
        return None
    value = float(weight.strip())
    return Reading(sta == b"S", False, -value if sign == b"-" else value, unit, unit_text)


class Parser:
    """Cut a byte stream into ACK/NAK and checked frames. Never raises.

    ``garbage`` counts bytes thrown away (noise, frames failing their BCC), so a driver
    can tell "only noise arrived" from "nothing arrived".
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data``; return the events it completed, in order."""
        self._buf += data
        buf, i, out = bytes(self._buf), 0, []
        while i < len(buf):
            byte = buf[i]
            if byte == SOH:
                candidate = buf[i : i + FRAME_LENGTH]
                if not _could_start(candidate):
                    self.garbage += 1
                elif len(candidate) < FRAME_LENGTH:
                    break  # the rest is on its way
                elif (reading := parse_frame(candidate)) is not None:
                    out.append(reading)
                    i += FRAME_LENGTH
                    continue
                else:
                    self.garbage += 1
            elif byte in (ACK, NAK):
                out.append(Ack(byte == ACK))
            else:
                self.garbage += 1
            i += 1
        self._buf = bytearray(buf[i:])
        return out

    def clear(self) -> None:
        """Forget a partial frame (after the input was reset)."""
        self._buf.clear()
        self.garbage = 0


def _could_start(candidate: bytes) -> bool:
    return all(b in allowed for b, allowed in zip(candidate, _ALLOWED, strict=False))


def encode_frame(stable: bool, value: float | None, unit: str, decimals: int = 3) -> bytes:
    """A DC1 answer (emulator side); ``value`` None means overload."""
    if value is None:
        sign, weight = b"F", b"FFFFFF"
    else:
        sign = b"-" if value < 0 else b" "
        weight = f"{abs(value):06.{decimals}f}".encode()[:6]
    body = (b"S" if stable else b"U") + sign + weight + f"{unit:>2}".encode()[:2]
    return bytes([SOH, STX]) + body + bytes([bcc(body), ETX, EOT])
