"""ZPL II building blocks shared by the labels: safe text fields, Code 128, GS1-128.

Every text field goes out as ``^FH^FD...^FS`` with ``^``, ``~`` and ``_`` hex-escaped, so
no data (an address typed by a customer) can end the field or start a command, and control
characters are dropped before they reach the printer. Labels are UTF-8 (``^CI28``) and use
font 0, the printer's scalable font: it is the resident font with Unicode mapping and the
Latin and Eastern European glyphs that addresses need; the bitmap fonts A-H stop at
Latin-1. ``ascii_only`` folds text to ASCII for printers or carriers that cannot take more.

Barcodes are Code 128 with the subsets chosen here (``>:`` start B, ``>;`` start C,
``>5``/``>6`` switch, ``>8`` FNC1), not the printer's automatic mode, so the symbol and its
width are the same on every firmware and known before printing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from station.labels.text import clean_text, fold_ascii

# Label geometry: 4 x 6 in at 203 dpi (8 dots/mm).
DPI = 203
WIDTH = 812
HEIGHT = 1218

# Font 0 advances in dots at height and width 32, measured on the ZD621 metrics that the
# zplkit renderer captured (tests check they still hold). Advances scale with the width.
_ADV32: dict[str, int] = {
    ch: width
    for width, chars in (
        (8, "ijl"),
        (9, " !'(),./:;I[]`ft"),
        (11, "r"),
        (12, "z"),
        (14, "?Jcksvxy"),
        (15, '"#$*0123456789L\\aeo'),
        (16, "EFTZ^_bdghnpqu{|}"),
        (17, "CSV"),
        (18, "ABKOPQXY"),
        (19, "DGR"),
        (20, "&HNU"),
        (21, "w"),
        (24, "Mm"),
        (26, "W"),
        (29, "%+-=@"),
        (32, "<>~"),
    )
    for ch in chars
}
_ADV_UNKNOWN = 26  # as wide as W: never underestimate a glyph we have not measured


def text_width(text: str, height: int, width: int | None = None) -> int:
    """Estimated printed width in dots of ``text`` in font 0 at ``height`` x ``width``.

    Each advance is rounded up on its own, as a renderer placing whole dots may do, so
    the estimate errs wide and fitted text stays inside its box.
    """
    w = width or height
    total = 0
    for ch in text:
        adv = _ADV32.get(ch)
        if adv is None:
            base = fold_ascii(ch)[:1]  # é is as wide as e
            adv = _ADV32.get(base, _ADV_UNKNOWN) if base != "?" else _ADV_UNKNOWN
        total += -(-adv * w // 32)
    return total


def fit_text(text: str, max_width: int, height: int, min_ratio: float = 0.7) -> tuple[str, int]:
    """``(text, font_width)`` that fits ``max_width``: condense first, then cut with ``...``.

    Condensing to ``min_ratio`` of the height keeps a whole street name legible; only then
    is the end dropped, so the start of a line (house number, name) always prints.
    """
    if text_width(text, height) <= max_width:
        return text, height
    min_w = max(int(height * min_ratio), 1)
    for w in range(height - 1, min_w - 1, -1):
        if text_width(text, height, w) <= max_width:
            return text, w
    cut = text
    while cut and text_width(cut.rstrip() + "...", height, min_w) > max_width:
        cut = cut[:-1]
    return cut.rstrip() + "...", min_w


def fh_escape(text: str) -> str:
    """Escape for a ``^FH`` field: ``^`` ``~`` ``_`` as hex, so data cannot become commands."""
    return text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


@dataclass(frozen=True, slots=True)
class Text:
    """One line of font-0 text: position, size and the longest width it may take.

    With ``min_height`` below ``height`` a line too long for ``max_width`` is set in
    smaller type (centred on the same line) before it is condensed or cut.
    """

    x: int
    y: int
    text: str
    height: int
    max_width: int
    align: str = "left"  # left | right (x is then the right edge) | center (x is the middle)
    reverse: bool = False  # white on black (^FR), for text on a filled box
    min_height: int = 0


def text_zpl(t: Text, ascii_only: bool = False) -> str:
    """ZPL for ``t``: cleaned, folded if asked, fitted to ``max_width``, escaped."""
    s = clean_text(t.text)
    if ascii_only:
        s = fold_ascii(s)
    h = t.height
    while h - 4 >= t.min_height and text_width(s, h, int(h * 0.7)) > t.max_width:
        h -= 4
    s, w = fit_text(s, t.max_width, h)
    # Placed from our own width estimate rather than ^FO's justification operand, which
    # firmware before x.14 ignores (right-aligned text would then run off the label).
    x = t.x
    if t.align == "right":
        x = t.x - text_width(s, h, w)
    elif t.align == "center":
        x = t.x - text_width(s, h, w) // 2
    y = t.y + (t.height - h) // 2
    fr = "^FR" if t.reverse else ""
    return f"^FO{max(x, 0)},{y}{fr}^A0N,{h},{w}^FH^FD{fh_escape(s)}^FS"


def box(x: int, y: int, w: int, h: int, thickness: int = 3) -> str:
    """A rectangle; ``thickness`` equal to the smaller side fills it."""
    return f"^FO{x},{y}^GB{w},{h},{thickness}^FS"


# --- Code 128 ---------------------------------------------------------------------------


def _digit_run(data: str, i: int) -> int:
    n = i
    while n < len(data) and data[n].isdigit():
        n += 1
    return n - i


def code128_invocations(data: str) -> tuple[str, int]:
    """``(field data, symbol count)`` for Code 128 of printable ASCII ``data``.

    Runs of 4+ digits (or data that is an even number of digits) go in subset C, two digits
    a symbol; an odd run gives its first digit to subset B; everything else is subset B.
    The count includes the start and check symbols, not the stop pattern.
    """
    if not data or any(not 32 <= ord(c) <= 126 for c in data):
        raise ValueError(f"Code 128 data must be printable ASCII, got {data!r}")
    segments: list[list[str]] = []  # [subset, text], adjacent subsets merged

    def add(subset: str, text: str) -> None:
        if segments and segments[-1][0] == subset:
            segments[-1][1] += text
        else:
            segments.append([subset, text])

    i = 0
    while i < len(data):
        run = _digit_run(data, i)
        if run >= 4 or (run == len(data) and run % 2 == 0):
            if run % 2:
                add("B", data[i])
                i, run = i + 1, run - 1
            add("C", data[i : i + run])
            i += run
        else:
            add("B", data[i])
            i += 1
    out = []
    symbols = 2 + len(segments) - 1  # start, check, one switch between segments
    for n, (subset, text) in enumerate(segments):
        if subset == "C":
            out.append((">;" if n == 0 else ">5") + text)
            symbols += len(text) // 2
        else:
            out.append((">:" if n == 0 else ">6") + text.replace(">", ">0"))
            symbols += len(text)
    return "".join(out), symbols


def code128_modules(symbols: int) -> int:
    """Width in modules of a Code 128 symbol with ``symbols`` symbols before the stop."""
    return symbols * 11 + 13


@dataclass(frozen=True, slots=True)
class Barcode:
    """A placed Code 128 symbol: its ZPL and the box it takes (quiet zones excluded)."""

    zpl: str
    x: int
    y: int
    width: int
    height: int


def code128(
    data: str,
    y: int,
    height: int,
    *,
    left: int = 0,
    right: int = WIDTH,
    max_module: int = 4,
    gs1: bool = False,
) -> Barcode:
    """Code 128 of ``data`` centred between ``left`` and ``right`` with 10-module quiet zones.

    The module (``^BY``) is the widest of ``max_module`` .. 2 dots that fits; narrower than
    2 dots does not scan reliably at 203 dpi, so that raises ValueError. With ``gs1`` the
    data is a GS1 element string of digits (e.g. ``00`` + SSCC) and gets a leading FNC1.
    """
    if gs1:
        if not data.isdigit() or len(data) % 2:
            raise ValueError("GS1-128 data here must be an even number of digits")
        fd, symbols = ">;>8" + data, 3 + len(data) // 2  # start C, FNC1, pairs, check
    else:
        fd, symbols = code128_invocations(data)
    modules = code128_modules(symbols)
    for x_dim in range(max_module, 1, -1):
        if (modules + 20) * x_dim <= right - left:
            break
    else:
        raise ValueError(f"Code 128 of {data!r} does not fit {right - left} dots")
    width = modules * x_dim
    x = left + (right - left - width) // 2
    zpl = f"^FO{x},{y}^BY{x_dim}^BCN,{height},N,N,N,N^FH^FD{fh_escape(fd)}^FS"
    return Barcode(zpl=zpl, x=x, y=y, width=width, height=height)


def label(body: Iterable[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    """One label: UTF-8, fixed size, home at the corner, then ``body``."""
    return f"^XA^CI28^PW{width}^LL{height}^LH0,0" + "".join(body) + "^XZ"
