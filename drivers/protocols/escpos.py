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
