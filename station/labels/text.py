"""Text clean-up shared by labels and slips: what may reach a printer, and ASCII folding."""

from __future__ import annotations

import unicodedata

# Letters that do not decompose under NFKD but have a customary ASCII spelling.
_FOLD = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Ħ": "H",
        "ħ": "h",
        "ı": "i",
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Þ": "TH",
        "þ": "th",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
    }
)


def clean_text(text: str) -> str:
    """NFC-normalised ``text`` without control/format characters, whitespace collapsed.

    Composed form matters: printers draw one glyph per code point, so ``e`` + combining
    diaeresis must become ``ë``. Control (Cc), format (Cf: bidi overrides, zero-width),
    separator (Zl/Zp) and surrogate code points never reach the printer.
    """
    text = unicodedata.normalize("NFC", text)
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch.isspace():
            kept.append(" ")
        elif cat not in ("Cf", "Cs"):
            kept.append(ch)
    return " ".join("".join(kept).split())


def fold_ascii(text: str) -> str:
    """ASCII spelling of ``text``: accents dropped, ``Ł`` -> ``L``, others -> ``?``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    out = []
    for ch in decomposed:
        if ord(ch) < 128:
            out.append(ch)
        elif not unicodedata.combining(ch):
            out.append("?")
    return "".join(out)
