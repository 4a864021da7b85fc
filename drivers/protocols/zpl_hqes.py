"""The ZPL ``~HQES`` (host query, error/warning status) answer. No I/O.

Source: Zebra "ZPL II Programming Guide", ``~HQ`` (tables "Error Flags (~HQES)" and
"Warning Flags (~WQES)"). The printer answers with one ``STX ... ETX`` block::

    STX CR LF
    PRINTER STATUS CR LF
       ERRORS:         1 00000000 00000005 CR LF
       WARNINGS:       1 00000000 00000008 CR LF
    ETX CR LF

Each line is a flag (1: something is set) and two groups of eight hex nibbles: group 2
(nibbles 16-9) then group 1 (nibbles 8-1). Every bit defined so far is in group 1.
``~HS`` only says "paper out / head up / paused / too hot"; ``~HQES`` also names the
cutter fault, motor temperature, printhead faults and the paper-near-end warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import PrinterState, PrinterStatus
from drivers.errors import BadFrame

HOST_QUERY_ES = b"~HQES"

# bit -> (words for the packer, state). Kiosk-only bits (presenter, retract, black mark)
# are here too because a printer may set them; their words say what the manual says.
ERROR_FLAGS: dict[int, tuple[str, PrinterState]] = {
    0x00000001: ("out of labels/paper", PrinterState.PAPER_OUT),
    0x00000002: ("out of ribbon", PrinterState.RIBBON_OUT),
    0x00000004: ("print head open", PrinterState.HEAD_OPEN),
    0x00000008: ("cutter fault: clear the cutter", PrinterState.OTHER_ERROR),
    0x00000010: ("print head too hot: let it cool", PrinterState.OTHER_ERROR),
    0x00000020: ("motor too hot: let it cool", PrinterState.OTHER_ERROR),
    0x00000040: ("bad print head element: replace the head", PrinterState.OTHER_ERROR),
    0x00000080: ("print head not detected", PrinterState.OTHER_ERROR),
    0x00000100: ("invalid firmware configuration", PrinterState.OTHER_ERROR),
    0x00000200: ("print head thermistor open", PrinterState.OTHER_ERROR),
    0x00000400: ("paper feed error", PrinterState.OTHER_ERROR),
    0x00001000: ("paper jam during retract", PrinterState.OTHER_ERROR),
    0x00002000: ("presenter not running", PrinterState.OTHER_ERROR),
    0x00008000: ("clearing the paper path failed", PrinterState.OTHER_ERROR),
    0x00010000: ("paused", PrinterState.PAUSED),
    0x00020000: ("retract timed out", PrinterState.OTHER_ERROR),
    0x00040000: ("black mark calibration error", PrinterState.OTHER_ERROR),
    0x00080000: ("black mark not found", PrinterState.OTHER_ERROR),
}
WARNING_FLAGS: dict[int, str] = {
    0x00000001: "media needs calibrating",
    0x00000002: "clean the print head",
    0x00000004: "replace the print head",
    0x00000008: "labels/paper nearly out",
}
# The named bits, for the emulator's fault switches and for tests.
MEDIA_OUT, RIBBON_OUT, HEAD_OPEN, CUTTER_FAULT = 0x01, 0x02, 0x04, 0x08
HEAD_TOO_HOT, MOTOR_TOO_HOT, PAUSED = 0x10, 0x20, 0x10000
PAPER_NEAR_END = 0x08  # a warning bit

_LINE = re.compile(rb"(ERRORS|WARNINGS):\s*([01])\s+([0-9A-Fa-f]{8})\s+([0-9A-Fa-f]{8})")
STX, ETX = 0x02, 0x03


@dataclass(frozen=True, slots=True)
class ErrorStatus:
    """The error and warning bits of a ``~HQES`` answer (group 2 in the high 32 bits)."""

    errors: int = 0
    warnings: int = 0

    def error_words(self) -> list[str]:
        return _words(self.errors, {b: w for b, (w, _) in ERROR_FLAGS.items()}, "error")

    def warning_words(self) -> list[str]:
        return _words(self.warnings, WARNING_FLAGS, "warning")

    def to_status(self) -> PrinterStatus:
        """Conditions from the error bits; every error and warning in plain words in detail."""
        states: list[PrinterState] = []
        for bit, (_, state) in ERROR_FLAGS.items():
            if self.errors & bit and state not in states:
                states.append(state)
        if self.errors & ~_known(ERROR_FLAGS) and PrinterState.OTHER_ERROR not in states:
            states.append(PrinterState.OTHER_ERROR)
        return PrinterStatus(
            conditions=tuple(states) or (PrinterState.READY,),
            detail="; ".join(self.error_words() + self.warning_words()),
        )


def _known(table: dict[int, object]) -> int:
    mask = 0
    for bit in table:
        mask |= bit
    return mask


def _words(bits: int, table: dict[int, str], what: str) -> list[str]:
    words = [text for bit, text in table.items() if bits & bit]
    unknown = bits & ~_known(table)  # type: ignore[arg-type]
    if unknown:
        # A newer firmware's bit we have no words for: still say something is set.
        words.append(f"printer {what} code {unknown:#x} (see the printer's display)")
    return words


def answer_complete(data: bytes) -> bool:
    """True once ``data`` holds a whole ``~HQES`` block (both lines, then ETX)."""
    start = data.find(bytes([STX]))
    end = data.find(bytes([ETX]), start + 1) if start >= 0 else -1
    return end > 0 and b"WARNINGS" in data[start:end]


def parse_hqes(data: bytes) -> ErrorStatus:
    """Read a ``~HQES`` answer (bytes around the STX..ETX block are ignored).

    Raises BadFrame when the ERRORS or WARNINGS line is missing or malformed.
    """
    start = data.find(bytes([STX]))
    end = data.find(bytes([ETX]), start + 1) if start >= 0 else -1
    block = data[start + 1 : end] if end > 0 else b""
    found = {m.group(1): m for m in _LINE.finditer(block)}
    if b"ERRORS" not in found or b"WARNINGS" not in found:
        raise BadFrame(f"Printer error status not understood: {data[:80]!r}")

    def bits(m: re.Match[bytes]) -> int:
        value = (int(m.group(3), 16) << 32) | int(m.group(4), 16)
        return value if m.group(2) == b"1" else 0  # flag 0: "no error", whatever follows

    return ErrorStatus(errors=bits(found[b"ERRORS"]), warnings=bits(found[b"WARNINGS"]))


def encode_hqes(status: ErrorStatus) -> bytes:
    """The ``~HQES`` answer of a printer in ``status`` (used by the emulator)."""

    def line(name: str, bits: int) -> str:
        flag = 1 if bits else 0
        return f"   {name + ':':16} {flag} {bits >> 32:08X} {bits & 0xFFFFFFFF:08X}  \r\n"

    body = (
        "\r\nPRINTER STATUS            \r\n"
        + line("ERRORS", status.errors)
        + line("WARNINGS", status.warnings)
    )
    return b"\x02" + body.encode() + b"\x03\r\n"
