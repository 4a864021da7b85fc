"""ESC/POS for slips: render a SlipDocument to bytes, read status bytes. No I/O.

Rendering goes through python-escpos's ``Dummy`` printer, so the bytes are exactly what
python-escpos would send, and the device (network, serial, file) only ever gets one
complete job: a document that cannot be rendered fails before a byte is sent.
Source: Epson "ESC/POS Application Programming Guide" (``DLE EOT n`` real-time status,
``GS k`` barcode, ``GS ( k`` QR, ``GS V`` cut); python-escpos 3.x.
"""

from __future__ import annotations

from escpos.constants import RT_MASK_LOWPAPER, RT_MASK_NOPAPER, RT_MASK_PAPER
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy

from drivers.base import PrinterState, PrinterStatus, SlipDocument
from drivers.errors import PrinterFault

PAPER_STATUS = b"\x10\x04\x04"  # DLE EOT 4: paper roll sensor
ONLINE_STATUS = b"\x10\x04\x01"  # DLE EOT 1: printer status
OFFLINE_CAUSE = b"\x10\x04\x02"  # DLE EOT 2: why it is offline
# GS r 1: paper sensor status. Not real-time (answered in turn, after buffered data), but
# some printers that ignore DLE EOT answer it.
PAPER_SENSOR = b"\x1dr\x01"


def render_slip(doc: SlipDocument, profile: str | None = None) -> bytes:
    """Return the ESC/POS bytes for ``doc``.

    Raises PrinterFault (condition ``bad_document``) if the content cannot be printed,
    e.g. a Code 128 barcode with non-ASCII characters.
    """
    p = Dummy(profile=profile)
    try:
        p.hw("INIT")
        for line in doc.lines:
            p.set(
                align=line.align,
                bold=line.bold,
                double_height=line.double,
                double_width=line.double,
                normal_textsize=not line.double,
            )
            p.textln(line.text)
        p.set(align="left", bold=False, normal_textsize=True)
        if doc.barcode:
            _code128(p, doc.barcode)
        if doc.qr:
            # native=True: the printer draws the QR (GS ( k), a few bytes instead of an image.
            p.set(align="center")
            p.qr(doc.qr, native=True, size=6)
            p.set(align="left")
            p.ln()
        if doc.cut:
            p.cut()
    except (EscposError, ValueError, KeyError) as exc:
        raise PrinterFault(f"Slip cannot be printed: {exc}", ["bad_document"]) from exc
    return p.output


def _code128(p: Dummy, data: str) -> None:
    if not data.isascii():
        raise ValueError(f"barcode {data!r} has characters Code 128 cannot carry")
    # ESC/POS Code 128 needs the code set first: "{B" = set B (all printable ASCII);
    # a literal "{" is written "{{".
    # _hw_barcode, not barcode(): the public wrapper print()s "Using hardware barcode
    # renderer" to stdout, which would land in the middle of a terminal UI.
    p._hw_barcode(
        "{B" + data.replace("{", "{{"),
        "CODE128",
        height=80,
        width=2,
        pos="BELOW",
        function_type="B",
    )
    p.set(align="left")
    p.ln()


def paper_status(answer: bytes) -> PrinterStatus:
    """Interpret the answer to ``DLE EOT 4`` (masks as python-escpos ``paper_status()``).

    An empty answer is UNKNOWN here, where python-escpos would say "paper adequate".
    """
    if not answer:
        return PrinterStatus((PrinterState.UNKNOWN,), detail="no answer to the paper query")
    byte = answer[-1]
    if byte & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
        return PrinterStatus((PrinterState.PAPER_OUT,))
    if byte & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
        return PrinterStatus((PrinterState.READY,), detail="paper roll nearly empty")
    if byte & RT_MASK_PAPER == RT_MASK_PAPER:
        return PrinterStatus((PrinterState.READY,))
    return PrinterStatus((PrinterState.UNKNOWN,), detail=f"unexpected status byte {byte:#04x}")


def encode_paper_status(paper_out: bool, low: bool = False) -> bytes:
    """The byte a printer answers to ``DLE EOT 4`` (bits 1 and 4 are always set)."""
    return bytes([0x12 | (0x60 if paper_out else 0) | (0x0C if low else 0)])


def is_realtime_status(byte: int) -> bool:
    """Whether ``byte`` can be an answer to ``DLE EOT n``: bits 0 and 7 clear, 1 and 4 set."""
    return byte & 0x93 == 0x12


def is_sensor_status(byte: int) -> bool:
    """Whether ``byte`` can be an answer to ``GS r 1``: bits 4 and 7 clear. So a late
    ``DLE EOT`` answer (bit 4 set) is never taken for one."""
    return byte & 0x90 == 0


def _status_byte(answer: bytes) -> int | None:
    """The last byte, if it is a real-time status byte."""
    if not answer:
        return None
    byte = answer[-1]
    return byte if is_realtime_status(byte) else None


def offline_status(online: bytes, cause: bytes) -> PrinterStatus | None:
    """What ``DLE EOT 1`` and ``DLE EOT 2`` say beyond the paper: None when online or not
    answered; else COVER_OPEN, PAPER_OUT or OTHER_ERROR ("offline", with the cause).

    DLE EOT 1 bit 3: offline. DLE EOT 2 bit 2: cover open, bit 3: paper fed by the feed
    button, bit 5: stopped at paper end, bit 6: an error occurred.
    """
    first = _status_byte(online)
    if first is None or not first & 0x08:
        return None
    second = _status_byte(cause) or 0
    states: list[PrinterState] = []
    notes: list[str] = []
    if second & 0x04:
        states.append(PrinterState.COVER_OPEN)
    if second & 0x20:
        states.append(PrinterState.PAPER_OUT)
    if second & 0x08:
        notes.append("paper being fed by the feed button")
    if second & 0x40 or not states:
        states.append(PrinterState.OTHER_ERROR)
        notes.append("printer offline (error): check its lights, then switch it off and on")
    return PrinterStatus(tuple(states), detail="; ".join(notes))


def encode_online_status(offline: bool) -> bytes:
    """The answer to ``DLE EOT 1``."""
    return bytes([0x12 | (0x08 if offline else 0)])


def encode_offline_cause(cover_open: bool, paper_out: bool, error: bool) -> bytes:
    """The answer to ``DLE EOT 2``."""
    return bytes([0x12 | (0x04 if cover_open else 0) | (0x20 if paper_out else 0)
                  | (0x40 if error else 0)])  # fmt: skip


def paper_sensor_status(answer: bytes) -> PrinterStatus:
    """Interpret the answer to ``GS r 1``: bits 0-1 near end, bits 2-3 paper end (bit 4
    and 7 clear). An empty or foreign answer is UNKNOWN."""
    if not answer or not is_sensor_status(answer[-1]):
        return PrinterStatus((PrinterState.UNKNOWN,), detail="no answer to the paper query")
    byte = answer[-1]
    if byte & 0x0C:
        return PrinterStatus((PrinterState.PAPER_OUT,))
    if byte & 0x03:
        return PrinterStatus((PrinterState.READY,), detail="paper roll nearly empty")
    return PrinterStatus((PrinterState.READY,))


def encode_paper_sensor(paper_out: bool, low: bool = False) -> bytes:
    """The answer to ``GS r 1``."""
    return bytes([(0x0C if paper_out else 0) | (0x03 if low else 0)])
