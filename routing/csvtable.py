"""The CSV files people give the hub (master data, stock): one reader for all of them.

UTF-8 (a spreadsheet's byte-order mark allowed), a header row, and ``,``, ``;`` or tab
between cells: spreadsheets set to a comma as decimal mark export ``;``-separated "CSV".
Header names are compared lower-cased and stripped, cells stripped; blank lines (as
spreadsheets leave at the end) are skipped; a column without a name (a trailing
separator) is no column. Each kind of file checks its own columns and values.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


class CsvError(ValueError):
    """The file is not text this reader takes; nothing of it was read."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # the line it ends on, as an editor numbers them
    cells: dict[str, str]  # by header name; cells past the header are not in it
    fields: int  # how many cells the row has (more than the header's: a bad row)


def read_table(raw: bytes) -> tuple[list[str], list[CsvRow]]:
    """``(header, rows)`` of a CSV file. Raises CsvError when it is not UTF-8."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}): save the CSV as UTF-8"
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        cells = dict(zip(header, (v.strip() for v in values), strict=False))
        cells.pop("", None)
        rows.append(CsvRow(reader.line_num, cells, len(values)))
    return header, rows
