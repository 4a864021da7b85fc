"""MT-SICS (Mettler Toledo Standard Interface Command Set), level 0/1: pure bytes in/out.

Commands are ASCII terminated by CR LF. Responses are lines ``<id> <status> [value unit]``,
e.g. ``S S      1234.5 g``. Source: METTLER TOLEDO "MT-SICS Interface Command Set"
reference manuals (level 0: ``@ S SI SIR Z``; level 1: ``T``). See drivers/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import Unit, Weight
from drivers.errors import BadFrame, ScaleError

SEND_STABLE = "S"  # weight when stable; the scale waits (answers S I if it gives up)
SEND_IMMEDIATE = "SI"  # weight now, stable or dynamic
SEND_REPEAT = "SIR"  # weight now and then repeatedly (~10 Hz) until another command
ZERO = "Z"
TARE = "T"
RESET = "@"  # cancel everything pending; answers with the serial number (I4 A "...")

COMMANDS = (SEND_STABLE, SEND_IMMEDIATE, SEND_REPEAT, ZERO, TARE, RESET)

# Which reply identifier answers which command (the reply to @ is the serial number, I4).
REPLY_ID = {"S": "S", "SI": "S", "SIR": "S", "Z": "Z", "T": "T", "@": "I4"}

MAX_LINE = 256  # longer than any MT-SICS line; a run without CR/LF this long is noise


def encode(command: str) -> bytes:
    """Return the bytes for ``command`` (one of :data:`COMMANDS`), CR LF terminated."""
    if command not in COMMANDS:
        raise ValueError(f"not an MT-SICS command we send: {command!r}")
    return command.encode("ascii") + b"\r\n"


class LineFramer:
    """Cut a byte stream into lines, whatever the reads' boundaries.

    Accepts CR LF, LF or a lone CR as terminator (scales can be set to any of them), drops
    empty lines and lines longer than :data:`MAX_LINE` (noise with no terminator).
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the complete lines it finished, without terminators."""
        self._buf += data
        *done, rest = re.split(rb"[\r\n]", bytes(self._buf))
        self._buf = bytearray(rest if len(rest) <= MAX_LINE else b"")
        return [line for line in done if line and len(line) <= MAX_LINE]

    def clear(self) -> None:
        """Forget a partial line (after a reset of the input)."""
        self._buf.clear()


@dataclass(frozen=True, slots=True)
class Reply:
    """One parsed response line.

    ``ident`` is the response identifier (``S``, ``Z``, ``T``, ``I4``, or ``ES``/``ET``/
    ``EL`` for the general errors); ``status`` the status letter (``S`` stable, ``D``
    dynamic, ``A`` done, ``I`` not executable, ``+``/``-`` range exceeded, ``""`` none).
    """

    ident: str
    status: str
    weight: Weight | None = None
    text: str = ""

    @property
    def is_error(self) -> bool:
        return self.ident in ("ES", "ET", "EL")


# The frame may follow line noise, so we anchor at the end of the line and require the
# identifier to start at a non-alphanumeric boundary: noise can hide a frame (BadFrame),
# never change the number in it.
_START = r"(?:^|(?<=[^A-Za-z0-9.+-]))"
_WEIGHT = re.compile(_START + r"(S|T) +([SD]) +([-+]?[0-9]+(?:\.[0-9]+)?) +([A-Za-z]+)[ \t]*$")
_STATUS = re.compile(_START + r"(S|T|Z) +([IAD+-])[ \t]*$")
_GENERAL = re.compile(_START + r"(ES|ET|EL)[ \t]*$")
_SERIAL = re.compile(_START + r'(I4) +A +"([^"]*)"[ \t]*$')

_UNITS = {u.value: u for u in Unit}


def parse_line(line: bytes) -> Reply:
    """Parse one response line (without CR/LF). Raises BadFrame if it is not one."""
    text = line.decode("latin-1")
    if m := _WEIGHT.search(text):
        ident, status, number, unit = m.groups()
        if status == "D" and ident == "T":
            raise BadFrame(f"Scale sent a tare reply we cannot read: {_show(text)}")
        if unit.lower() not in _UNITS:
            raise BadFrame(f"Scale sends weights in {unit!r}: set its unit to g, kg, lb or oz.")
        weight = Weight.of(float(number), _UNITS[unit.lower()], stable=status == "S")
        return Reply(ident, status, weight)
    if m := _STATUS.search(text):
        ident, status = m.groups()
        if (ident, status) in {("S", "A"), ("S", "D"), ("T", "A"), ("T", "D"), ("Z", "D")}:
            raise BadFrame(f"Scale sent a reply we cannot read: {_show(text)}")
        return Reply(ident, status)
    if m := _GENERAL.search(text):
        return Reply(m.group(1), "")
    if m := _SERIAL.search(text):
        return Reply("I4", "A", text=m.group(2))
    raise BadFrame(f"Scale sent a line we cannot read: {_show(text)}")


def _show(text: str) -> str:
    return repr(text[-40:])


# Plain words for the packer, by (identifier, status). Why each happens is in README.md.
_MESSAGES: dict[tuple[str, str], tuple[str, str]] = {
    ("S", "+"): ("overload", "Scale overloaded: take the parcel off and weigh it again."),
    ("S", "-"): (
        "underload",
        "Scale reads below zero: check the pan is in place, then zero the scale.",
    ),
    ("S", "I"): (
        "unstable",
        "Scale could not get a steady weight: keep the parcel still and weigh it again.",
    ),
    ("Z", "+"): ("overload", "Too much on the scale to zero it: clear the pan and zero again."),
    ("Z", "-"): ("underload", "Scale is below its zero range: put the pan back and zero again."),
    ("Z", "I"): ("busy", "Scale could not zero now: keep the pan still and zero again."),
    ("T", "+"): ("overload", "Too heavy to tare: take something off and tare again."),
    ("T", "-"): ("underload", "Nothing to tare: put the box on the pan and tare again."),
    ("T", "I"): ("busy", "Scale could not tare now: keep the pan still and tare again."),
    ("ES", ""): (
        "refused",
        "Scale did not understand the command: set its interface to MT-SICS.",
    ),
    ("ET", ""): (
        "refused",
        "Scale got garbled data: check baud rate, parity and cable match the scale.",
    ),
    ("EL", ""): ("refused", "Scale refused the command: check the scale's display."),
}


def raise_for(reply: Reply) -> Reply:
    """Return ``reply`` if it is a success; raise ScaleError in plain words if not."""
    found = _MESSAGES.get((reply.ident, reply.status))
    if found:
        condition, message = found
        raise ScaleError(message, condition=condition)
    return reply
