"""The station's sheet of command barcodes: one Code 128 per command, on 4 x 6 in labels.

A packer scans ``CMD:SHORT`` instead of reaching for the keyboard; the sheet is taped to
the bench. Each row is the description in large type, the barcode, and the code itself so a
person can tell the rows apart. Six rows fit a label; more commands continue on further
labels, each saying "page n of m".
"""

from __future__ import annotations

from collections.abc import Sequence

from station.labels import zpl
from station.labels.zpl import HEIGHT, WIDTH, Text

EXAMPLE_COMMANDS: tuple[tuple[str, str], ...] = (
    ("CMD:SHORT", "Mark line short"),
    ("CMD:UNDO", "Undo last scan"),
    ("CMD:REPRINT", "Reprint label"),
)

MARGIN = 24
ROWS_PER_LABEL = 6
_TOP = 110  # below the title
_ROW = 180  # description 36 + gap + barcode 96 + gap + code 24 + spacing


def _row(code: str, description: str, y: int, ascii_only: bool) -> list[str]:
    bc = zpl.code128(code, y + 46, 96, left=MARGIN, right=WIDTH - MARGIN, max_module=3)
    texts = [
        Text(MARGIN, y, description, 36, WIDTH - 2 * MARGIN),
        Text(WIDTH // 2, y + 148, code, 24, WIDTH - 2 * MARGIN, align="center"),
    ]
    return [bc.zpl, *(zpl.text_zpl(t, ascii_only) for t in texts)]


def command_sheet_zpl(
    commands: Sequence[tuple[str, str]],
    *,
    title: str = "STATION COMMANDS",
    ascii_only: bool = False,
) -> bytes:
    """ZPL for the sheet: one label per six commands, each ``^XA`` ... ``^XZ``, UTF-8.

    ``commands`` are ``(code, description)``; the code is what the scanner sends and must be
    printable ASCII (Code 128). Raises ValueError for no commands, a code that is not
    printable ASCII or one too long to fit the label width.
    """
    if not commands:
        raise ValueError("no commands for the sheet")
    pages = [commands[i : i + ROWS_PER_LABEL] for i in range(0, len(commands), ROWS_PER_LABEL)]
    out = []
    for n, page in enumerate(pages, start=1):
        body = [
            zpl.text_zpl(Text(MARGIN, 24, title, 44, WIDTH - 2 * MARGIN - 170), ascii_only),
            zpl.text_zpl(
                Text(WIDTH - MARGIN, 36, f"page {n} of {len(pages)}", 26, 160, "right"), ascii_only
            ),
            zpl.box(0, 88, WIDTH, 3, 3),
        ]
        for i, (code, description) in enumerate(page):
            y = _TOP + i * _ROW
            body += _row(code, description, y, ascii_only)
            if i < len(page) - 1:
                body.append(zpl.box(MARGIN, y + _ROW - 8, WIDTH - 2 * MARGIN, 1, 1))
        out.append(zpl.label(body, WIDTH, HEIGHT))
    return "".join(out).encode("utf-8")
