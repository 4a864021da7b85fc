"""CAS continuous output ("CAS 22 bytes", and the 18-byte A&D-style variant): pure bytes.

CAS indicators and platform scales (CI-150A, CI-400, CI-600D, PDI, NT-200, Caston-III
and others; set in their F/COMM menu) send a frame many times a second, unasked::

    ST , GS , I L , DDDDDDDD _ kg CR LF          22 bytes ("CAS 22 bytes")
    ST , GS , DDDDDDDD kg CR LF                  18 bytes ("AND 18 bytes")

``ST`` stable, ``US`` unstable, ``OL`` overload; ``GS`` gross, ``NT`` net; ``I`` the device
id (one byte, ``1`` = 0x31 ...); ``L`` the lamp status byte (bit 6 stable, 4 hold, 3
printer, 2 gross, 1 tare, 0 at zero; bit 7 set); ``DDDDDDDD`` eight ASCII characters of
weight with its decimal point (``000013.5``, sign first when negative); ``_`` a blank;
the unit in two bytes. A frame has no checksum, so the parser checks every fixed byte and
the number's shape, and a line that does not pass is garbage: noise can hide a frame,
never change the weight in it. See README.md for the manuals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import Unit

_UNITS = {"kg": Unit.KG, "g": Unit.G, "lb": Unit.LB, "oz": Unit.OZ}
# Anchored at the end of the line (noise may precede a frame). ID and lamp: any byte but
# CR/LF; the 18-byte variant has neither (its data cannot hold the comma that follows them).
_FRAME = re.compile(rb"(ST|US|OL),(GS|NT),(?:([^\r\n])([^\r\n]),)?([ -~]{8})( ?)([A-Za-z ]{2})\r?$")
_NUMBER = re.compile(r"[+-]? *[0-9]*\.?[0-9]*")
MAX_LINE = 64  # a longer line without LF is noise; do not let it grow


@dataclass(frozen=True, slots=True)
class Reading:
    """One frame. ``value`` is None on overload; ``unit`` None for a unit we do not know
    (``unit_text`` names it); ``device_id``/``lamp`` None in the 18-byte variant."""

    stable: bool
    overload: bool
    net: bool
    value: float | None
    unit: Unit | None
    unit_text: str
    device_id: int | None = None
    lamp: int | None = None

    def __str__(self) -> str:
        if self.overload:
            return "overload"
        kind = "net" if self.net else "gross"
        return f"{self.value:g} {self.unit_text} {kind}, {'stable' if self.stable else 'moving'}"


def parse_line(line: bytes) -> Reading | None:
    """One line (without LF) -> Reading; None if it is not a frame."""
    m = _FRAME.search(line)
    if m is None:
        return None
    head, kind, device_id, lamp, data, blank, unit_bytes = m.groups()
    if device_id is not None and blank != b" ":
        return None  # the 22-byte frame has its blank; without it, bytes were lost
    unit_text = unit_bytes.decode("ascii").strip()
    unit = _UNITS.get(unit_text.lower())
    ids = (device_id[0], lamp[0]) if device_id is not None else (None, None)
    if head == b"OL":
        return Reading(False, True, kind == b"NT", None, unit, unit_text, *ids)
    text = data.decode("ascii").strip()
    if not _NUMBER.fullmatch(text) or not any(c.isdigit() for c in text):
        return None
    value = float(text.replace(" ", ""))
    return Reading(head == b"ST", False, kind == b"NT", value, unit, unit_text, *ids)


class Parser:
    """Cut a byte stream into lines and frames. Never raises.

    ``garbage`` counts lines that were not frames, so a driver can tell "only noise
    arrived" from "nothing arrived".
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Reading]:
        """Add ``data``; return the frames it completed, in order."""
        self._buf += data
        out = []
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if (reading := parse_line(line)) is not None:
                out.append(reading)
            elif line.strip(b"\r"):
                self.garbage += 1
        if len(self._buf) > MAX_LINE:
            del self._buf[:-MAX_LINE]
            self.garbage += 1
        return out

    def clear(self) -> None:
        """Forget a partial line (after the input was reset)."""
        self._buf.clear()
        self.garbage = 0


def lamp_byte(stable: bool, net: bool, at_zero: bool) -> int:
    """The lamp status byte (emulator side): bit 7 set, 6 stable, 2 gross, 1 tare, 0 zero."""
    return 0x80 | stable << 6 | (not net) << 2 | net << 1 | at_zero


def encode_frame(
    stable: bool,
    value: float | None,
    unit: str,
    decimals: int = 3,
    net: bool = False,
    device_id: int = 0x31,
) -> bytes:
    """A 22-byte frame (emulator side); ``value`` None means overload."""
    if value is None:
        head, data = b"OL", b"  OL    "
    else:
        head = b"ST" if stable else b"US"
        sign = "-" if value < 0 else ""
        digits = f"{abs(value):.{decimals}f}"
        data = (sign + digits.rjust(8 - len(sign), "0")).encode()[:8]
    lamp = lamp_byte(stable and value is not None, net, value == 0)
    return (
        head + b"," + (b"NT" if net else b"GS") + b"," + bytes([device_id, lamp]) + b","
        + data + b" " + f"{unit:>2}".encode()[:2] + b"\r\n"
    )  # fmt: skip
