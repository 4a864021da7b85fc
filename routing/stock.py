"""Stock in: receipts, counts, adjustments and transfers booked at the hub (``doms hub stock``).

Every operation is ledger movements, written in one transaction with one ``stock_level``
change per SKU moved on each site's stream (:func:`routing.feed.publish_stocks`), so a
file of 5,000 lines is one commit and the stations see each SKU change once.

Refs. A movement's ledger ref is ``<site>:<action>:<ref>:<sku>`` (``WH1:receive:PO-4711:
SKU-A``); the ledger keeps ``(ref, kind)`` unique, so booking the same thing twice is
recognised, not counted again:

* a **receipt** is idempotent per (site, ref, SKU): a PO received twice is one receipt,
  its lines of one SKU summed. The ref is ``--ref``, or the CSV's ``ref`` column per row;
  a file with neither gets ``file-<first 12 hex digits of its SHA-256>``, so importing the
  same file again changes nothing (two deliveries with identical lines need a ref). A
  single ``--sku/--qty`` receipt without ``--ref`` gets a ref of its own each time.
* a **count** sets each counted SKU's on hand to what was counted, by an ``adjustment`` of
  (counted - on hand). On hand is every movement but reservations
  (:func:`routing.store.stock`): units reserved for routed orders and not yet shipped are
  still in the building, so they are counted and the count leaves reservations alone. A
  count is a document (``stock_counts``): the same ref again is reported, not applied
  again (after stock moved, re-applying old figures would be wrong). Without ``--ref`` it
  is ``count-<UTC date>-<hash>``: the same file twice a day is one count.
* an **adjustment** keeps its reason (``stock_reasons``); a **transfer** is a ``transfer``
  movement out of one site and one into the other, booked at once.

Bad input (unknown site, a SKU not in the catalogue, a quantity that is not a whole number
of the right sign, a SKU counted twice) is reported per row with its line number; nothing
is written unless ``skip_bad`` is given, then the good rows are.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from doms.db import Migrations, now_iso, run_script, transaction
from routing.csvtable import CsvError, read_table
from routing.feed import insert_many, publish_stocks
from routing.store import stock_levels

MIGRATIONS = Migrations()
LEDGER_COLUMNS = ("site", "sku", "qty", "kind", "ref", "at")


@MIGRATIONS.register
def hub_stock_m001(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- One row per count applied: what was counted and what the ledger said then.
        CREATE TABLE stock_counts (
            site TEXT NOT NULL,
            ref TEXT NOT NULL,
            at TEXT NOT NULL,
            full INTEGER NOT NULL,     -- 1: SKUs not in the file were counted as 0
            source TEXT NOT NULL,      -- the file's name and SHA-256
            lines TEXT NOT NULL,       -- JSON [{sku, was, counted, adjustment, reserved}]
            PRIMARY KEY (site, ref)
        );
        -- Why a movement was made by hand (adjustments, transfers).
        CREATE TABLE stock_reasons (
            movement_id INTEGER PRIMARY KEY REFERENCES ledger(movement_id),
            reason TEXT NOT NULL
        );
        """,
    )


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Create or update this module's tables; return the migrations applied."""
    return MIGRATIONS.migrate(db)


class StockError(ValueError):
    """The whole operation is refused (unknown site, unreadable file, a reused ref)."""


@dataclass(frozen=True, slots=True)
class Bad:
    """A row (``line`` in the file; None for a command-line value) that cannot be booked."""

    line: int | None
    message: str
    sku: str = ""  # the row's SKU, when it has one

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(slots=True)
class Outcome:
    """What an operation did (or, on a dry run or with bad rows, would do)."""

    action: str
    site: str
    ref: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    dry_run: bool = False
    written: int = 0  # ledger movements written
    already: str = ""  # set when the whole operation was booked before
    held: bool = False  # nothing written because rows were bad (no skip_bad)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "site": self.site, "ref": self.ref, "lines": self.lines,
            "bad": [{"line": b.line, "error": b.message} for b in self.bad],
            "dry_run": self.dry_run, "written": self.written, "already": self.already,
            "held": self.held, "notes": self.notes,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Move:
    site: str
    sku: str
    qty: int
    kind: str
    ref: str


# -- input ---------------------------------------------------------------------------------
_WHOLE = re.compile(r"[+-]?\d+")


def parse_qty(text: str | None, *, signed: bool = False, zero: bool = False) -> int:
    """``text`` as a whole number: above 0 (``zero``: 0 too; ``signed``: any but 0).
    Raises ValueError saying what is wrong."""
    text = (text or "").strip()
    if not text:
        raise ValueError("no qty")
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"qty {text!r} is not a whole number")
    qty = int(text)
    if signed and qty == 0:
        raise ValueError("qty 0 changes nothing")
    if not signed and (qty < 0 or (qty == 0 and not zero)):
        raise ValueError(f"qty {qty} must be {'0 or more' if zero else 'above 0'}")
    return qty


def read_rows(
    raw: bytes, name: str, columns: tuple[str, ...], *, zero: bool
) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str, int]], list[Bad]]:
    """Parse a stock CSV (header row naming at least ``sku`` and ``qty``; ``columns`` are
    the optional ones read, any other column is ignored). Returns ``(rows, items, bad)``:
    every row by line number, ``(line, sku, qty)`` of the good ones, and the bad ones.
    Raises StockError when the file is not UTF-8 CSV with those columns."""
    try:
        header, table = read_table(raw)
    except CsvError as exc:
        raise StockError(f"{name}: {exc}") from None
    missing = [c for c in ("sku", "qty") if c not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "nothing"
        raise StockError(f"{name}: the header row needs columns sku and qty (found: {found})")
    wanted = ("sku", "qty", *columns)
    rows, items, bad = [], [], []
    for r in table:
        line = r.line
        if r.fields > len(header):
            bad.append(Bad(line, f"{r.fields} fields, the header has {len(header)}"))
            continue
        row = {h: v for h, v in r.cells.items() if h in wanted}
        rows.append((line, row))
        sku = row.get("sku", "")
        try:
            if not sku:
                raise ValueError("no sku")
            items.append((line, sku, parse_qty(row.get("qty"), zero=zero)))
        except ValueError as exc:
            bad.append(Bad(line, f"{sku}: {exc}" if sku else str(exc), sku))
    return rows, items, bad


def file_ref(raw: bytes) -> str:
    """The ref of a receipt file that names none: its content's hash."""
    return "file-" + hashlib.sha256(raw).hexdigest()[:12]


def manual_ref() -> str:
    """The ref of a one-off receipt given none: new each time (a retry books it again)."""
    return _unique_ref("manual")


def _unique_ref(prefix: str) -> str:
    return f"{prefix}-{now_iso()[:19].replace(':', '')}-{secrets.token_hex(3)}"


def _check_site(db: sqlite_utils.Database, site: str) -> None:
    if not db.execute("SELECT 1 FROM sites WHERE site = ?", [site]).fetchone():
        known = ", ".join(r[0] for r in db.execute("SELECT site FROM sites ORDER BY site"))
        raise StockError(f"site {site} is not registered (sites: {known or 'none'})")


def _unknown_skus(db: sqlite_utils.Database, skus: Iterable[str]) -> set[str]:
    wanted = sorted(set(skus))
    rows = db.execute(
        "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT sku FROM skus)",
        [json.dumps(wanted)],
    ).fetchall()
    return {r[0] for r in rows}


def _recorded(db: sqlite_utils.Database, kind: str, refs: Iterable[str]) -> dict[str, int]:
    """``{ref: qty}`` of the ``kind`` movements already in the ledger under ``refs``."""
    rows = db.execute(
        "SELECT ref, qty FROM ledger WHERE kind = ? AND ref IN (SELECT value FROM json_each(?))",
        [kind, json.dumps(sorted(set(refs)))],
    ).fetchall()
    return dict(rows)


def _book(db: sqlite_utils.Database, moves: list[_Move], reason: str = "") -> int:
    """Write ``moves`` and their stock levels (inside the caller's transaction); keep
    ``reason`` for each. Returns how many were written."""
    if not moves:
        return 0
    at = now_iso()
    insert_many(db, "ledger", LEDGER_COLUMNS,
                [(m.site, m.sku, m.qty, m.kind, m.ref, at) for m in moves])  # fmt: skip
    if reason:
        db.execute(
            "INSERT INTO stock_reasons (movement_id, reason) SELECT movement_id, ? FROM ledger "
            "WHERE kind = ? AND ref IN (SELECT value FROM json_each(?))",
            [reason, moves[0].kind, json.dumps([m.ref for m in moves])],
        )
    moved: dict[str, set[str]] = {}
    for m in moves:
        moved.setdefault(m.site, set()).add(m.sku)
    publish_stocks(db, moved)
    return len(moves)


# -- receipts ------------------------------------------------------------------------------
def receive(
    db: sqlite_utils.Database,
    site: str,
    items: list[tuple[int | None, str, int, str]],
    *,
    bad: list[Bad] | None = None,
    skip_bad: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Book ``(line, sku, qty, ref)`` receipts at ``site``; lines of one (ref, SKU) are one
    receipt, their quantities summed. A receipt already booked with the same quantity is
    reported as ``already``; with another quantity it is a bad row (correct it with an
    adjustment). ``bad``: rows the caller already found bad. Nothing is written when a row
    is bad (unless ``skip_bad``) or on a dry run. Raises StockError for an unknown site."""
    migrate(db)
    bad = list(bad or [])
    refs = sorted({ref for *_, ref in items})
    out = Outcome("receive", site, ", ".join(refs), bad=bad, dry_run=dry_run)
    with transaction(db):
        _check_site(db, site)
        unknown = _unknown_skus(db, (sku for _, sku, _, _ in items))
        groups: dict[tuple[str, str], list[tuple[int | None, int]]] = {}
        for line, sku, qty, ref in items:
            if sku in unknown:
                bad.append(Bad(line, f"{sku} is not in the catalogue"))
            else:
                groups.setdefault((ref, sku), []).append((line, qty))
        keys = {(ref, sku): f"{site}:receive:{ref}:{sku}" for ref, sku in groups}
        before = _recorded(db, "receipt", keys.values())
        moves = []
        for (ref, sku), lines in groups.items():
            qty, key = sum(q for _, q in lines), keys[ref, sku]
            numbers = [n for n, _ in lines if n is not None]
            row = {"sku": sku, "qty": qty, "ref": ref, "lines": numbers, "status": "new"}
            if key in before and before[key] != qty:
                for line, _ in lines:
                    bad.append(Bad(line, f"{sku} of {ref} was received as {before[key]}, "
                                         f"not {qty}: correct it with 'doms hub stock adjust'"))  # fmt: skip
                continue
            if key in before:
                row["status"] = "already"
            else:
                moves.append(_Move(site, sku, qty, "receipt", key))
            out.lines.append(row)
        bad.sort(key=lambda b: b.line or 0)
        out.held = bool(bad) and not skip_bad
        if not dry_run and not out.held:
            out.written = _book(db, moves)
    return out


def receive_file(
    db: sqlite_utils.Database,
    site: str,
    raw: bytes,
    *,
    name: str = "file",
    ref: str | None = None,
    skip_bad: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """:func:`receive` the rows of a receipt CSV (``sku,qty[,ref]``). A row's ``ref``
    wins over ``ref``; rows with neither take :func:`file_ref`. Raises StockError."""
    rows, items, bad = read_rows(raw, name, ("ref",), zero=False)
    by_line = dict(rows)
    default = ref or file_ref(raw)
    given = [(line, sku, qty, by_line[line].get("ref") or default) for line, sku, qty in items]
    return receive(db, site, given, bad=bad, skip_bad=skip_bad, dry_run=dry_run)


# -- counts --------------------------------------------------------------------------------
def count_ref(raw: bytes) -> str:
    """The ref of a count that names none: the UTC date and the file's hash (the same
    figures counted another day are another count)."""
    return f"count-{now_iso()[:10]}-{hashlib.sha256(raw).hexdigest()[:12]}"


def count(
    db: sqlite_utils.Database,
    site: str,
    raw: bytes,
    *,
    name: str = "file",
    ref: str | None = None,
    full: bool = False,
    skip_bad: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Apply a count CSV (``sku,qty``: the units physically at ``site``) as adjustments
    of (counted - on hand). SKUs not in the file are left alone, or with ``full`` counted
    as 0 (except SKUs on bad rows). A count whose ref was applied before is reported as
    ``already`` with the figures then. Raises StockError for an unknown site, an unreadable
    file, or a ref already used by another file."""
    migrate(db)
    _, items, bad = read_rows(raw, name, (), zero=True)
    ref = ref or count_ref(raw)
    source = f"{name} sha256:{hashlib.sha256(raw).hexdigest()}"
    out = Outcome("count", site, ref, bad=bad, dry_run=dry_run)
    with transaction(db):
        _check_site(db, site)
        done = db.execute(
            "SELECT at, source, lines FROM stock_counts WHERE site = ? AND ref = ?", [site, ref]
        ).fetchone()
        if done is not None:
            if done[1].split(" sha256:")[-1] != source.split(" sha256:")[-1]:
                raise StockError(f"count {ref} at {site} was applied at {done[0]} from another "
                                 f"file ({done[1]}): give this count a new --ref")  # fmt: skip
            out.already, out.lines = done[0], json.loads(done[2])
            return out
        first: dict[str, int] = {}
        unknown = _unknown_skus(db, (sku for _, sku, _ in items))
        lines_of = Counter(sku for _, sku, _ in items)
        doubled = {sku for sku, n in lines_of.items() if n > 1}
        counted: dict[str, tuple[int, int]] = {}
        for line, sku, qty in items:
            first.setdefault(sku, line)
            if sku in doubled:
                again = "" if first[sku] == line else f" (first on line {first[sku]})"
                bad.append(Bad(line, f"{sku} is counted on more than one line{again}", sku))
            elif sku in unknown:
                bad.append(Bad(line, f"{sku} is not in the catalogue", sku))
            else:
                counted[sku] = (line, qty)
        bad.sort(key=lambda b: b.line or 0)
        levels = stock_levels(db, site)
        if full:
            on_bad_rows = {b.sku for b in bad}  # not known to be 0: left alone
            for sku, (on_hand, _) in levels.items():
                if sku not in counted and sku not in on_bad_rows and on_hand:
                    counted[sku] = (None, 0)
        moves = []
        for sku, (line, qty) in sorted(counted.items()):
            on_hand, available = levels.get(sku, (0, 0))
            out.lines.append({"sku": sku, "line": line, "was": on_hand, "counted": qty,
                              "adjustment": qty - on_hand, "reserved": on_hand - available})  # fmt: skip
            if qty != on_hand:
                moves.append(_Move(site, sku, qty - on_hand, "adjustment",
                                   f"{site}:count:{ref}:{sku}"))  # fmt: skip
        out.held = bool(bad) and not skip_bad
        if dry_run or out.held:
            return out
        out.written = _book(db, moves)
        db.execute(
            "INSERT INTO stock_counts (site, ref, at, full, source, lines) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [site, ref, now_iso(), int(full), source, json.dumps(out.lines)],
        )
    return out


# -- adjustments and transfers -------------------------------------------------------------
def _check_sku(db: sqlite_utils.Database, sku: str) -> None:
    if _unknown_skus(db, [sku]):
        raise StockError(f"{sku} is not in the catalogue")


def _once(db: sqlite_utils.Database, kind: str, moves: list[_Move], ref: str) -> bool:
    """True when ``moves`` are already booked (the same ref given again); StockError when
    that ref was booked with other quantities."""
    before = _recorded(db, kind, (m.ref for m in moves))
    if not before:
        return False
    if all(before.get(m.ref) == m.qty for m in moves):
        return True
    raise StockError(f"{kind} {ref} is already booked with other quantities: give a new --ref")


def adjust(
    db: sqlite_utils.Database,
    site: str,
    sku: str,
    qty: int,
    reason: str,
    *,
    ref: str | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Correct ``sku``'s on hand at ``site`` by ``qty`` (signed), keeping ``reason``.
    Refused (StockError) for an unknown site or SKU, no reason, or a correction that takes
    on hand below 0; the same ``ref`` again is reported as ``already``."""
    migrate(db)
    if not reason.strip():
        raise StockError("an adjustment needs a --reason (damaged, found, ...)")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty == 0:
        raise StockError(f"an adjustment's qty is a non-zero whole number, not {qty!r}")
    ref = ref or _unique_ref("adjust")
    out = Outcome("adjust", site, ref, dry_run=dry_run)
    with transaction(db):
        _check_site(db, site)
        _check_sku(db, sku)
        move = _Move(site, sku, qty, "adjustment", f"{site}:adjust:{ref}:{sku}")
        on_hand, available = stock_levels(db, site).get(sku, (0, 0))
        if _once(db, "adjustment", [move], ref):
            out.already = ref
        elif on_hand + qty < 0:
            raise StockError(f"{site} has {on_hand} of {sku} on hand: cannot take {-qty} off "
                             "(a count sets what is there)")  # fmt: skip
        out.lines.append({"sku": sku, "qty": qty, "was": on_hand, "now": on_hand + qty,
                          "reason": reason.strip()})  # fmt: skip
        if not out.already and available + qty < 0 <= available:
            out.notes.append(f"{-(available + qty)} units of {sku} reserved for routed orders "
                             f"are no longer at {site}: those orders will be short")  # fmt: skip
        if not dry_run and not out.already:
            out.written = _book(db, [move], reason.strip())
    return out


def transfer(
    db: sqlite_utils.Database,
    from_site: str,
    to_site: str,
    sku: str,
    qty: int,
    *,
    ref: str | None = None,
    reason: str = "",
    dry_run: bool = False,
) -> Outcome:
    """Move ``qty`` of ``sku`` from one site to another: a ``transfer`` movement out of
    ``from_site`` and one into ``to_site``, in one transaction (book it when the goods
    arrive). Refused (StockError) for unknown sites or SKU, the same site twice, or more
    than is available at ``from_site`` (reserved units stay for their orders)."""
    migrate(db)
    if from_site == to_site:
        raise StockError(f"a transfer goes from one site to another, not {from_site} to itself")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
        raise StockError(f"a transfer's qty is a whole number above 0, not {qty!r}")
    ref = ref or _unique_ref("transfer")
    out = Outcome("transfer", from_site, ref, dry_run=dry_run)
    with transaction(db):
        _check_site(db, from_site)
        _check_site(db, to_site)
        _check_sku(db, sku)
        moves = [
            _Move(from_site, sku, -qty, "transfer", f"{from_site}:transfer:{ref}:{sku}"),
            _Move(to_site, sku, qty, "transfer", f"{to_site}:transfer:{ref}:{sku}"),
        ]
        available = stock_levels(db, from_site).get(sku, (0, 0))[1]
        if _once(db, "transfer", moves, ref):
            out.already = ref
        elif available < qty:
            raise StockError(f"{from_site} has {max(available, 0)} of {sku} available "
                             f"(on hand less reservations): cannot send {qty}")  # fmt: skip
        out.lines.append({"sku": sku, "qty": qty, "from": from_site, "to": to_site,
                          "reason": reason.strip()})  # fmt: skip
        if not dry_run and not out.already:
            out.written = _book(db, moves, reason.strip())
    return out
