"""A warehouse's own master data from CSV files: catalogue, barcodes, cartons, operators.

Each file has a header row; columns are named as in README.md ("Load your data"), in
grams and millimetres. Every row is checked before anything is written, and every bad row
is reported with its line number and the reason. A file with bad rows writes nothing
unless ``skip_bad`` is given, which writes the good rows. Rows go through
:func:`routing.feed.upsert_master`, so each added or changed row is one change on every
site's stream and an unchanged row none: loading the same file twice changes nothing.

A column left out, or an empty cell, keeps what the hub has (a new row gets the default):
an empty cell never clears a value. PINs are stored only as the hash stations verify
(:mod:`doms.pins`) and never printed or logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from doms.db import transaction
from doms.pins import hash_pin, pin_matches
from routing import feed
from routing.csvtable import CsvError, read_table

log = logging.getLogger(__name__)

KINDS = ("catalog", "barcodes", "cartons", "operators")
TRACKING = ("none", "lot", "lot_expiry", "serial")
ROLES = ("packer", "inspector", "lead")
_GTIN_LENGTHS = (8, 12, 13, 14)
_PIN = re.compile(r"\d{4,12}")


class FileError(ValueError):
    """The file as a whole cannot be loaded (not UTF-8 CSV, a column missing or unknown)."""


class BadRow(ValueError):
    """One row cannot be loaded; the message says why, in words."""


# -- cells ---------------------------------------------------------------------------------
def _text(column: str, value: str) -> str:
    return value


def _grams(column: str, value: str) -> float:
    try:
        grams = float(value)
    except ValueError:
        raise BadRow(f"{column} must be a number of grams, not {value!r}") from None
    if not grams > 0:  # also refuses NaN
        raise BadRow(f"{column} must be more than 0 g, not {value}")
    return grams


def _tare(column: str, value: str) -> float:
    try:
        grams = float(value)
    except ValueError:
        raise BadRow(f"{column} must be a number of grams, not {value!r}") from None
    if not grams >= 0:
        raise BadRow(f"{column} must be 0 g or more, not {value}")
    return grams


def _mm(column: str, value: str) -> int:
    try:
        mm = int(value)
    except ValueError:
        raise BadRow(f"{column} must be a whole number of millimetres, not {value!r}") from None
    if mm <= 0:
        raise BadRow(f"{column} must be more than 0 mm, not {value}")
    return mm


def _count(column: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise BadRow(f"{column} must be a whole number of 1 or more, not {value!r}")
    return int(value)


def _flag(column: str, value: str) -> int:
    word = value.lower()
    if word in ("1", "yes", "y", "true"):
        return 1
    if word in ("0", "no", "n", "false"):
        return 0
    raise BadRow(f"{column} must be yes or no (1/0, true/false), not {value!r}")


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(column: str, value: str) -> str:
        if value.lower() not in choices:
            raise BadRow(f"{column} must be one of {', '.join(choices)}, not {value!r}")
        return value.lower()

    return parse


def gtin14(column: str, value: str) -> str:
    """``value`` as GTIN-14 (how stations match scans), checked by ``biip`` as the station
    checks a scan. Raises BadRow with the reason (a bad check digit says which)."""
    import biip  # here: 60 ms that every other doms command would pay at start

    if not value.isdigit() or len(value) not in _GTIN_LENGTHS:
        raise BadRow(f"{column} {value!r} is not a GTIN (8, 12, 13 or 14 digits)")
    try:
        return biip.gtin.Gtin.parse(value).as_gtin_14()
    except biip.ParseError as exc:
        raise BadRow(f"{column}: {str(exc).splitlines()[0]}") from None


def _pin(column: str, value: str) -> str:
    if not _PIN.fullmatch(value):
        raise BadRow(f"{column} must be 4 to 12 digits")  # the PIN itself is never shown
    return value


# -- the kinds -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """One file kind: its columns (name: (required, parser)) and the tables it writes
    (:func:`_records` turns a checked row into rows of them)."""

    columns: dict[str, tuple[bool, Callable[[str, str], Any]]]
    tables: tuple[str, ...]


SPECS: dict[str, Spec] = {
    "catalog": Spec(
        {
            "sku": (True, _text),
            "name": (True, _text),
            "weight_g": (True, _grams),
            "length_mm": (True, _mm),
            "width_mm": (True, _mm),
            "height_mm": (True, _mm),
            "tracking": (False, _one_of(TRACKING)),
            "qty_keyable": (False, _flag),
            "gtin": (False, gtin14),
            "barcode": (False, _text),
        },
        ("skus", "barcodes"),
    ),
    "barcodes": Spec(
        {
            "code": (True, _text),
            "sku": (True, _text),
            "units": (False, _count),
            "kind": (False, _one_of(("gtin", "sku"))),
        },
        ("barcodes",),
    ),
    "cartons": Spec(
        {
            "code": (True, _text),
            "name": (True, _text),
            "length_mm": (True, _mm),
            "width_mm": (True, _mm),
            "height_mm": (True, _mm),
            "tare_g": (True, _tare),
            "max_weight_g": (True, _grams),
        },
        ("cartons",),
    ),
    "operators": Spec(
        {
            "badge": (True, _text),
            "name": (True, _text),
            "role": (True, _one_of(ROLES)),
            "pin": (False, _pin),
            "active": (False, _flag),
        },
        ("operators",),
    ),
}


@dataclass
class Record:
    """A checked row: what it writes (``(table, row)`` in order) and its keys in the file
    (``(what, value)``: a duplicate is an error)."""

    line: int
    writes: list[tuple[str, dict[str, Any]]]
    keys: list[tuple[str, str]]


def _records(kind: str, line: int, cells: dict[str, Any]) -> Record:
    """The writes of one checked row (``cells``: the parsed values present)."""
    if kind == "catalog":
        sku = cells["sku"]
        row = {c: v for c, v in cells.items() if c not in ("barcode",)}
        writes = [("skus", row)]
        codes = []
        if "gtin" in cells:
            codes.append((cells["gtin"], "gtin"))
        if "barcode" in cells and cells["barcode"] not in {c for c, _ in codes}:
            codes.append((cells["barcode"], "sku"))
        writes += [("barcodes", {"code": c, "sku": sku, "units": 1, "kind": k}) for c, k in codes]
        return Record(line, writes, [("sku", sku)] + [("barcode", c) for c, _ in codes])
    if kind == "barcodes":
        code, how = cells["code"], cells.get("kind")
        if how == "gtin" or (how is None and code.isdigit() and len(code) in _GTIN_LENGTHS):
            try:
                code = gtin14("code", code)
            except BadRow as exc:
                hint = "" if how else " (if it is a label of ours, say kind sku)"
                raise BadRow(f"{exc}{hint}") from None
            how = "gtin"
        row = cells | {"code": code, "kind": how or "sku"}
        return Record(line, [("barcodes", row)], [("barcode", code)])
    if kind == "cartons":
        if cells["tare_g"] >= cells["max_weight_g"]:
            raise BadRow("tare_g must be less than max_weight_g (the carton's gross limit)")
        return Record(line, [("cartons", cells)], [("carton", cells["code"])])
    return Record(line, [("operators", cells)], [("badge", cells["badge"])])


# -- the report ----------------------------------------------------------------------------
@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LoadReport:
    """What a load did (or, ``written`` False, would do): per table, rows added, updated,
    unchanged; the bad rows ``(line, reason)``; stream changes appended (over all sites)."""

    kind: str
    name: str
    rows: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)
    bad: list[tuple[int, str]] = field(default_factory=list)
    changes: int = 0
    dry_run: bool = False
    skip_bad: bool = False
    written: bool = False

    @property
    def status(self) -> str:
        """``ok`` (every row good), ``rejected`` (bad rows, nothing written) or ``partial``
        (bad rows skipped, the good ones written or, in a dry run, would be)."""
        if not self.bad:
            return "ok"
        return "partial" if self.skip_bad else "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.name,
            "status": self.status,
            "dry_run": self.dry_run,
            "written": self.written,
            "rows": self.rows,
            "counts": {t: vars(c) for t, c in self.counts.items()},
            "stream_changes": self.changes,
            "bad": [{"line": n, "reason": why} for n, why in self.bad],
        }

    def lines(self) -> list[str]:
        """The report for people: one line of counts, one per bad row, one verdict."""
        counts = "; ".join(
            f"{t} {c.added} added, {c.updated} updated, {c.unchanged} unchanged"
            for t, c in self.counts.items()
        )
        verb = "" if self.written else " would be"
        out = [f"{self.name}: {self.rows} rows,{verb} {counts}"]
        out += [f"{self.name} line {n}: {why}" for n, why in self.bad]
        if self.status == "rejected":
            out.append(
                f"{self.name}: {len(self.bad)} bad rows: nothing written (fix them, or load "
                "the good rows with --skip-bad)"
            )
        elif self.status == "partial":
            out.append(f"{self.name}: {len(self.bad)} bad rows skipped")
        if self.dry_run:
            out.append(f"{self.name}: dry run: nothing written")
        return out


class _Rollback(Exception):
    """Raised to undo a dry run's writes (they ran to count what would change)."""


# -- loading -------------------------------------------------------------------------------
def load(
    db: sqlite_utils.Database,
    kind: str,
    data: bytes,
    *,
    name: str = "-",
    dry_run: bool = False,
    skip_bad: bool = False,
) -> LoadReport:
    """Check every row of the CSV ``data`` of ``kind`` (one of :data:`KINDS`), then write
    the good rows in one transaction, unless there are bad ones and not ``skip_bad`` (then
    nothing is written) or ``dry_run`` (the writes are rolled back: the counts are what
    they would be). Raises FileError when the file as a whole cannot be read."""
    if kind not in SPECS:
        raise FileError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    report = LoadReport(kind, name, dry_run=dry_run, skip_bad=skip_bad)
    report.counts = {t: Counts() for t in spec.tables}
    records: list[Record] = []
    for line, cells in _rows(spec, data):
        report.rows += 1
        try:
            records.append(_records(kind, line, _cells(spec, cells)))
        except BadRow as exc:
            report.bad.append((line, str(exc)))
    records = _drop_duplicates(records, report.bad)
    records = _check_against_hub(db, kind, records, report.bad)
    try:
        with transaction(db):
            for record in records:
                try:
                    _write(db, record, report)
                except ValueError as exc:  # checked above: the hub changed meanwhile
                    report.bad.append((record.line, str(exc)))
            if dry_run or (report.bad and not skip_bad):
                raise _Rollback
            report.written = True
    except _Rollback:
        report.changes = 0
    report.bad.sort()
    for line, why in report.bad:
        log.info("%s line %d: %s", name, line, why)
    log.info("%s (%s): %s", name, kind, report.to_dict() | {"bad": len(report.bad)})
    return report


def _rows(spec: Spec, data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        header, table = read_table(data)
    except CsvError as exc:
        raise FileError(str(exc)) from None
    if not any(header):
        raise FileError("empty file: the first row names the columns")
    unknown = [h for h in header if h and h not in spec.columns]
    missing = [c for c, (required, _) in spec.columns.items() if required and c not in header]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    known = ", ".join(spec.columns)
    if unknown:
        raise FileError(f"unknown column(s) {', '.join(map(repr, unknown))} (known: {known})")
    if missing:
        raise FileError(f"missing column(s) {', '.join(missing)}")
    if repeated:
        raise FileError(f"column(s) {', '.join(repeated)} given twice")
    out = []
    for r in table:
        cells = dict(r.cells)
        if r.fields > len(header):
            cells[""] = f"{r.fields} cells for {len(header)} columns"
        out.append((r.line, cells))
    return out


def _cells(spec: Spec, cells: dict[str, str]) -> dict[str, Any]:
    if "" in cells:
        raise BadRow(cells[""])
    out, errors = {}, []
    for column, (required, parse) in spec.columns.items():
        value = cells.get(column) or ""
        try:
            if value:
                out[column] = parse(column, value)
            elif required:
                raise BadRow(f"{column} is empty")
        except BadRow as exc:
            errors.append(str(exc))  # all of a row's faults at once: one round of fixing
    if errors:
        raise BadRow("; ".join(errors))
    return out


def _drop_duplicates(records: list[Record], bad: list[tuple[int, str]]) -> list[Record]:
    # Every line of a repeated key is bad: which one is right is the warehouse's call.
    lines: dict[tuple[str, str], list[int]] = {}
    for record in records:
        for key in record.keys:
            lines.setdefault(key, []).append(record.line)
    why: dict[int, str] = {}
    for (what, value), at in lines.items():
        if len(at) > 1:
            where = ", ".join(f"line {n}" for n in at)
            for line in at:
                why.setdefault(line, f"{what} {value} is in the file more than once ({where})")
    bad += why.items()
    return [r for r in records if r.line not in why]


def _check_against_hub(
    db: sqlite_utils.Database, kind: str, records: list[Record], bad: list[tuple[int, str]]
) -> list[Record]:
    good = []
    for record in records:
        try:
            for table, row in record.writes:
                if table == "barcodes":
                    _check_barcode(db, kind, row)
            if kind == "operators":
                _set_pin_hash(db, record.writes[0][1])
        except BadRow as exc:
            bad.append((record.line, str(exc)))
        else:
            good.append(record)
    return good


def _check_barcode(db: sqlite_utils.Database, kind: str, row: dict[str, Any]) -> None:
    if kind == "barcodes":
        if db.execute("SELECT 1 FROM skus WHERE sku = ?", [row["sku"]]).fetchone() is None:
            raise BadRow(f"sku {row['sku']} is not in the catalogue (load it first)")
        return
    # From the catalogue a code may only be added: moving a barcode to another SKU is
    # what a barcodes file is for, not a side effect of a typo in a catalogue.
    owner = db.execute("SELECT sku FROM barcodes WHERE code = ?", [row["code"]]).fetchone()
    if owner is not None and owner[0] != row["sku"]:
        raise BadRow(
            f"{row['kind']} code {row['code']} is already the barcode of {owner[0]} "
            "(to move it, load a barcodes file)"
        )


def _set_pin_hash(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    pin = row.pop("pin", None)
    if pin is None:
        return  # no PIN in the file: the operator keeps theirs
    stored = db.execute("SELECT pin_hash FROM operators WHERE badge = ?", [row["badge"]])
    current = (stored.fetchone() or [None])[0]
    # hash_pin salts afresh: keep the stored hash when the PIN is the same, or loading
    # the same file twice would change every operator and stream them all again.
    row["pin_hash"] = current if current and pin_matches(pin, current) else hash_pin(pin)


def _write(db: sqlite_utils.Database, record: Record, report: LoadReport) -> None:
    with transaction(db):  # a savepoint: a catalogue row and its barcodes, or nothing
        for table, row in record.writes:
            pk = feed.MASTER_TABLES[table][0]
            existed = db.execute(f"SELECT 1 FROM {table} WHERE {pk} = ?", [row[pk]]).fetchone()
            heads = feed.upsert_master(db, table, row)
            counts = report.counts[table]
            if heads is None:
                counts.unchanged += 1
            elif existed:
                counts.updated += 1
            else:
                counts.added += 1
            report.changes += 0 if heads is None else len(heads)
