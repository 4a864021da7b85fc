"""MT-SICS (Mettler Toledo Standard Interface Command Set), level 0/1: pure bytes in/out.

Commands are ASCII terminated by CR LF. Responses are lines ``<id> <status> [value unit]``,
e.g. ``S S      1234.5 g``. Source: METTLER TOLEDO "MT-SICS Interface Command Set"
reference manuals (level 0: ``@ I0 I2 I3 I4 S SI SIR Z``; level 1: ``T``). See
drivers/README.md.

Some commands are answered with several lines: each but the last has status ``B`` (more
follows), the last ``A`` (e.g. ``I0``, the list of implemented commands). :class:`Replies`
joins them into one :class:`Reply`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from drivers.base import GRAMS_PER, Unit, Weight
from drivers.errors import BadFrame, ScaleError

SEND_STABLE = "S"  # weight when stable; the scale waits (answers S I if it gives up)
SEND_IMMEDIATE = "SI"  # weight now, stable or dynamic
SEND_REPEAT = "SIR"  # weight now and then repeatedly (~10 Hz) until another command
ZERO = "Z"
TARE = "T"
RESET = "@"  # cancel everything pending; answers with the serial number (I4 A "...")
COMMAND_LIST = "I0"  # implemented commands: I0 B <level> "<cmd>" ..., I0 A <level> "<cmd>"
MODEL = "I2"  # balance data: I2 A "<type> <capacity> <unit>"
SOFTWARE = "I3"  # software version: I3 A "<version>"
SERIAL = "I4"  # serial number: I4 A "<serial>"

COMMANDS = (
    SEND_STABLE, SEND_IMMEDIATE, SEND_REPEAT, ZERO, TARE, RESET, COMMAND_LIST, MODEL,
    SOFTWARE, SERIAL,
)  # fmt: skip

# Which reply identifier answers which command (the reply to @ is the serial number, I4).
REPLY_ID = {
    "S": "S", "SI": "S", "SIR": "S", "Z": "Z", "T": "T", "@": "I4",
    "I0": "I0", "I2": "I2", "I3": "I3", "I4": "I4",
}  # fmt: skip

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
    """One parsed reply: a line, or a ``B`` ... ``A`` run of lines joined by :class:`Replies`.

    ``ident`` is the response identifier (``S``, ``Z``, ``T``, ``I0``..``I4``, or ``ES``/
    ``ET``/``EL`` for the general errors); ``status`` the status letter (``S`` stable,
    ``D`` dynamic, ``A`` done, ``B`` more lines follow, ``I`` not executable, ``L``
    logical error, ``+``/``-`` range exceeded, ``""`` none). ``text`` is what an ``I``
    reply carries, quotes removed (``I4 A "B021"`` -> ``B021``; ``I0 B 0 "S"`` -> ``0 S``);
    ``lines`` the text of every line of a multi-line reply, in order (one for a single line).
    """

    ident: str
    status: str
    weight: Weight | None = None
    text: str = ""
    lines: tuple[str, ...] = ()

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
# Text replies of the I commands. Only printable ASCII inside quotes: a byte garbled on
# the line makes the line garbage rather than a wrong serial number.
_FIELD = r'(?:"[ !#-~]*"|[!#-~]+)'
_TEXT = re.compile(_START + r"(I[0-9]+) +([ABIL])((?: +" + _FIELD + r")*)[ \t]*$")
_FIELDS = re.compile(r'"([ !#-~]*)"|([!#-~]+)')
# A garbage line that still ends like a B/A line: noise glued to its front may have hidden
# one line of a multi-line reply, which then must not be reported as complete.
_HIDDEN_TEXT = re.compile(r"(I[0-9]+) +[AB](?: |$)")

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
    if m := _TEXT.search(text):
        ident, status, rest = m.groups()
        said = " ".join(quoted or bare for quoted, bare in _FIELDS.findall(rest))
        return Reply(ident, status, text=said, lines=(said,))
    raise BadFrame(f"Scale sent a line we cannot read: {_show(text)}")


def _show(text: str) -> str:
    return repr(text[-40:])


log = logging.getLogger(__name__)


class Replies:
    """Bytes in, replies out: frames lines, parses them and joins multi-line replies.

    A run of ``<id> B`` lines ended by an ``<id> A`` line comes out as one Reply (status
    ``A``, ``lines`` in order) when its ``A`` line arrives; other replies (a weight from a
    stream, say) come out as they arrive, even between the ``B`` lines. A run spoiled by
    noise (a line that still ends like a B/A line but cannot be read) is dropped whole and
    counted in :attr:`garbage`: a multi-line reply with a line missing is never reported.
    """

    def __init__(self) -> None:
        self._framer = LineFramer()
        self._open: dict[str, list[str]] = {}  # id -> texts of its B lines so far
        self._spoiled: set[str] = set()  # ids whose run lost a line (maybe its first)
        self.garbage = 0  # lines (or runs) that could not be read

    def feed(self, data: bytes) -> list[Reply]:
        """Add ``data``; return the replies it completed, in order."""
        out = []
        for line in self._framer.feed(data):
            try:
                reply = parse_line(line)
            except BadFrame as exc:
                log.debug("skipping line from scale: %s", exc)
                self.garbage += 1
                if hidden := _HIDDEN_TEXT.search(line.decode("latin-1")):
                    self._spoiled.add(hidden.group(1))
                continue
            if reply.status == "B":
                self._open.setdefault(reply.ident, []).append(reply.text)
            elif reply.status == "A" and reply.ident in self._spoiled:
                # Its first lines (or all of them) were lost in noise.
                self._open.pop(reply.ident, None)
                self._spoiled.discard(reply.ident)
                self.garbage += 1
            elif reply.status == "A" and reply.ident in self._open:
                # The manual ends a run with a last item (``I0 A 3 "SM4"``); some devices
                # end it with a bare ``I0 A``, which adds no line.
                last = (reply.text,) if reply.text else ()
                texts = (*self._open.pop(reply.ident), *last)
                out.append(Reply(reply.ident, "A", text=reply.text, lines=texts))
            else:
                out.append(reply)
        return out

    def clear(self) -> None:
        """Forget partial lines and unfinished runs (before a new command)."""
        self._framer.clear()
        self._open.clear()
        self._spoiled.clear()
        self.garbage = 0


@dataclass(frozen=True, slots=True)
class ScaleInfo:
    """What the scale says about itself (``I0``, ``I2``, ``I3``, ``I4``); "" if unknown.

    ``capacity`` is as the scale sent it (``"30000.0 g"``); ``commands`` the commands it
    lists as implemented (empty if it did not say).
    """

    model: str = ""
    capacity: str = ""
    software: str = ""
    serial: str = ""
    commands: tuple[str, ...] = ()

    @property
    def capacity_grams(self) -> float | None:
        """The capacity in grams, if it is in g, kg, lb or oz."""
        number, _, unit = self.capacity.partition(" ")
        try:
            return float(number) * GRAMS_PER[_UNITS[unit.lower()]]
        except (KeyError, ValueError):
            return None

    def describe(self) -> str:
        """One line for people: ``XS205 (capacity 220.0 g), serial 1234, software 1.0``."""
        parts = [self.model or "MT-SICS scale"]
        if self.capacity:
            parts[0] += f" (capacity {self.capacity})"
        if self.serial:
            parts.append(f"serial {self.serial}")
        if self.software:
            parts.append(f"software {self.software}")
        return ", ".join(parts)


# I2 text: "<type> <capacity> <unit>"; the type may contain spaces (T72XW Standard).
_MODEL = re.compile(r"^(.*?) *([-+]?[0-9]+(?:\.[0-9]+)?) +([A-Za-z]+)$")


def command_list(reply: Reply) -> tuple[str, ...]:
    """The command names of an ``I0`` reply (each line ``<level> <command>``)."""
    return tuple(line.split()[-1] for line in reply.lines if line.split())


def model_and_capacity(text: str) -> tuple[str, str]:
    """Split an ``I2`` text into (type, ``"<capacity> <unit>"``); no capacity -> ``""``."""
    if m := _MODEL.match(text.strip()):
        return m.group(1), f"{m.group(2)} {m.group(3)}"
    return text.strip(), ""


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
