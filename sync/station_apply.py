"""Applying the hub's streams to the station replica: idempotent, gapless, recorded.

PROTOCOL.md, "Hub -> station": the station keeps one high-water mark per stream
(``sync_marks``) and applies a change only when its ``seq`` is the mark + 1, in the same
transaction as the new mark, so a crash can never apply a change without recording it
or record it without applying it. A :class:`~sync.messages.StreamBatch` is applied in one
transaction (each change in a savepoint): one commit per batch instead of one per change
keeps a catch-up of thousands of stock levels fast with ``synchronous=FULL``.

Change types and the ``data`` the station reads (unknown fields are ignored):

- ``sku_upserted``, ``barcode_upserted``, ``carton_upserted``, ``operator_upserted``: the
  columns of ``skus``, ``barcodes``, ``cartons``, ``operators`` (``station/store/schema.py``).
- ``stock_level``: ``sku``, ``on_hand``, ``available``, ``at``.
- ``order_assigned``: the columns of ``orders`` (``ship_to`` a map or JSON text) and
  ``lines: [{line_no, sku, qty, qty_short?, short_reason?}]`` (``routing/feed.py``). A
  new order is inserted; an order never opened here (``assigned``, or ``cancelled`` with
  no package yet) is replaced; one being packed, packed or on hold is left alone: the
  packer's work wins. It arrives ``assigned``, or ``on_hold`` when the hub says so (a
  wiped station must not pack again what waits for a lead); the hub's other statuses
  describe work this replica no longer has, so it starts afresh.
- ``order_cancelled``: ``order_id``, optional ``reason``. The order becomes ``cancelled``
  unless it is already packed (then the hub must stop the shipment; logged). An order
  being packed is cancelled too: the pack screen tells the packer to put it aside.

A change that cannot be applied (missing field, unknown type, broken reference) is
quarantined and skipped: the mark moves on so one bad row cannot stall the stream. An
``order_assigned`` naming a SKU the station does not know yet is different: the site
stream is behind, so the station stream stops there (:class:`NeedsCatalogue`) and is
retried after the catalogue has caught up.

Functions take a ``sqlite3.Connection`` in autocommit mode (``isolation_level=None``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from sync.messages import Change
from sync.quarantine import quarantine

log = logging.getLogger(__name__)

STREAMS = ("site", "station")
_REQUIRED = object()


class BadChange(ValueError):
    """A change that cannot be applied; ``str()`` is the reason to quarantine."""


class NeedsCatalogue(Exception):
    """An order names SKUs the station does not know yet; ``skus`` lists them."""

    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"order names SKUs not known here yet: {', '.join(skus)}")
        self.skus = skus


@dataclass(slots=True)
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0  # quarantined; the mark moved past them
    gap_from: int | None = None  # a gap was seen: the first missing seq (mark + 1)
    blocked: str | None = None  # stopped at an order whose SKUs are not known yet
    mark: int = 0  # the stream's mark after the batch


# -- small durable state ------------------------------------------------------------------
@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error). Immediate: take the
    write lock up front, so a concurrent writer makes us wait (busy_timeout) rather than
    fail half-way with SQLITE_BUSY."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def read_marks(conn: sqlite3.Connection) -> dict[str, int]:
    """``{"site": seq, "station": seq}``: the last change applied of each stream."""
    marks = dict.fromkeys(STREAMS, 0)
    marks.update(conn.execute("SELECT stream, seq FROM sync_marks").fetchall())
    return marks


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def set_state(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, None if value is None else str(value)],
    )


def _set_mark(conn: sqlite3.Connection, stream: str, seq: int) -> None:
    conn.execute(
        "INSERT INTO sync_marks (stream, seq) VALUES (?, ?) "
        "ON CONFLICT(stream) DO UPDATE SET seq = excluded.seq",
        [stream, seq],
    )


# -- batches and snapshots ----------------------------------------------------------------
def apply_batch(
    conn: sqlite3.Connection, stream: str, changes: Sequence[Change], *, topic: str, now: str
) -> BatchResult:
    """Apply the changes of ``stream`` that follow its mark, in one transaction.

    Returns what happened: duplicates (``seq <= mark``) are ignored; at a gap
    (``seq > mark + 1``) nothing past it is applied and ``gap_from`` says where to catch
    up from; ``blocked`` when an order waits for the catalogue. Bad changes are
    quarantined (with ``topic``) and skipped. Raises ValueError for an unknown stream and
    ``sqlite3.Error`` when the database fails (nothing is then applied).
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}")
    result = BatchResult()
    with transaction(conn):
        mark = read_marks(conn)[stream]
        for change in sorted(changes, key=lambda c: c.seq):
            if change.seq <= mark:
                result.duplicates += 1
                continue
            if change.seq > mark + 1:
                result.gap_from = mark + 1
                break
            outcome, why = _apply_one(conn, change, topic, f"{stream} change {change.seq}")
            if outcome == "blocked":
                result.blocked = why
                break
            if outcome == "skipped":
                result.skipped += 1
            else:
                result.applied += 1
            mark = change.seq
        _set_mark(conn, stream, mark)
        set_state(conn, "last_hub_contact_at", now)
    result.mark = mark
    return result


def apply_snapshot(
    conn: sqlite3.Connection,
    changes: Sequence[Change],
    site_seq: int,
    station_seq: int,
    *,
    topic: str,
    now: str,
) -> int:
    """Apply a whole snapshot (its upserts in order) and set both marks, in one
    transaction. Returns how many changes were quarantined. Raises ``sqlite3.Error``
    when the database fails (nothing is then applied)."""
    skipped = 0
    with transaction(conn):
        for n, change in enumerate(changes):
            outcome, why = _apply_one(conn, change, topic, f"snapshot change {n}")
            if outcome == "blocked":
                # Inside one snapshot the catalogue comes first: an unknown SKU is the
                # hub's inconsistency, not a race, so it is recorded like a bad change.
                quarantine(conn, topic, f"snapshot change {n}: {why}", _encode(change))
            if outcome in ("skipped", "blocked"):
                skipped += 1
        _set_mark(conn, "site", site_seq)
        _set_mark(conn, "station", station_seq)
        set_state(conn, "last_hub_contact_at", now)
    return skipped


def _apply_one(conn: sqlite3.Connection, change: Change, topic: str, where: str) -> tuple[str, str]:
    """('applied' | 'skipped' (quarantined) | 'blocked', why). In a savepoint, so a
    change that fails half-way (an order and some of its lines) leaves nothing behind."""
    conn.execute("SAVEPOINT change")
    try:
        apply_change(conn, change.type, change.data)
    except BadChange as exc:
        conn.execute("ROLLBACK TO change")
        conn.execute("RELEASE change")
        quarantine(conn, topic, f"{where} ({change.type}): {exc}", _encode(change))
        return "skipped", str(exc)
    except NeedsCatalogue as exc:
        conn.execute("ROLLBACK TO change")
        conn.execute("RELEASE change")
        return "blocked", f"{change.data.get('order_id')}: {exc}"
    conn.execute("RELEASE change")
    return "applied", ""


def _encode(change: Change) -> bytes:
    return msgspec.msgpack.encode(change)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- one change ---------------------------------------------------------------------------
_UPSERTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sku_upserted": (
        "skus",
        "sku",
        {
            "sku": _REQUIRED,
            "name": _REQUIRED,
            "gtin": None,
            "weight_g": _REQUIRED,
            "length_mm": _REQUIRED,
            "width_mm": _REQUIRED,
            "height_mm": _REQUIRED,
            "tracking": "none",
            "qty_keyable": 0,
        },
    ),
    "barcode_upserted": (
        "barcodes",
        "code",
        {"code": _REQUIRED, "sku": _REQUIRED, "units": 1, "kind": _REQUIRED},
    ),
    "carton_upserted": (
        "cartons",
        "code",
        {
            "code": _REQUIRED,
            "name": _REQUIRED,
            "length_mm": _REQUIRED,
            "width_mm": _REQUIRED,
            "height_mm": _REQUIRED,
            "tare_g": _REQUIRED,
            "max_weight_g": _REQUIRED,
        },
    ),
    "operator_upserted": (
        "operators",
        "badge",
        {"badge": _REQUIRED, "name": _REQUIRED, "role": _REQUIRED, "pin_hash": None, "active": 1},
    ),
    "stock_level": (
        "stock",
        "sku",
        {"sku": _REQUIRED, "on_hand": _REQUIRED, "available": _REQUIRED, "at": None},
    ),
}

_ORDER_COLUMNS: dict[str, Any] = {
    "order_id": _REQUIRED,
    "order_ref": _REQUIRED,
    "channel": "web",
    "tote": None,
    "pick_list": None,
    "ship_by": _REQUIRED,
    "priority": 0,
    "ship_to": _REQUIRED,
    "carrier": _REQUIRED,
    "service": _REQUIRED,
    "assigned_at": _REQUIRED,
}


def apply_change(conn: sqlite3.Connection, type_: str, data: dict[str, Any]) -> None:
    """Apply one change to the replica (an upsert: applying it twice changes nothing
    more). Raises BadChange when it cannot be applied, NeedsCatalogue when an order
    names SKUs not known yet."""
    if type_ in _UPSERTS:
        table, key, columns = _UPSERTS[type_]
        _upsert(conn, table, key, _row(data, columns))
    elif type_ == "order_assigned":
        _order_assigned(conn, data)
    elif type_ == "order_cancelled":
        _order_cancelled(conn, data)
    else:
        raise BadChange(f"unknown change type {type_!r} (recorded, skipped)")


def _row(data: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for column, default in columns.items():
        value = data.get(column, default)
        if value is _REQUIRED:
            raise BadChange(f"missing field {column!r}")
        if isinstance(value, bool):
            value = int(value)
        elif value is not None and not isinstance(value, str | int | float):
            raise BadChange(f"field {column!r} must be a scalar, not {type(value).__name__}")
        row[column] = value
    return row


def _upsert(conn: sqlite3.Connection, table: str, key: str, row: dict[str, Any]) -> None:
    # ON CONFLICT DO UPDATE, not INSERT OR REPLACE: a replace deletes the row first and
    # would break the order lines and scans that reference a SKU.
    columns = ", ".join(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != key)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))}) "
        f"ON CONFLICT({key}) DO UPDATE SET {updates}"
    )
    try:
        conn.execute(sql, list(row.values()))
    except sqlite3.IntegrityError as exc:
        raise BadChange(str(exc)) from None


def _check_skus(conn: sqlite3.Connection, lines: list[dict[str, Any]]) -> None:
    skus = sorted({str(line.get("sku")) for line in lines})
    known = {
        r[0]
        for r in conn.execute(
            f"SELECT sku FROM skus WHERE sku IN ({', '.join('?' * len(skus))})", skus
        )
    }
    missing = [s for s in skus if s not in known]
    if missing:
        raise NeedsCatalogue(missing)


def _order_assigned(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    data = dict(data)
    if isinstance(data.get("ship_to"), dict):
        data["ship_to"] = json.dumps(data["ship_to"], sort_keys=True)
    # assigned_at only breaks ties in the queue: the hub's time if it sent one.
    data["assigned_at"] = data.get("assigned_at") or data.get("at") or _now()
    order = _row(data, _ORDER_COLUMNS)
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines or not all(isinstance(x, dict) for x in lines):
        raise BadChange("'lines' must be a non-empty list of {line_no, sku, qty}")
    line_columns = {
        "line_no": _REQUIRED, "sku": _REQUIRED, "qty": _REQUIRED, "qty_short": 0,
        "short_reason": None,
    }  # fmt: skip
    rows = [_row(line, line_columns) for line in lines]
    held = data.get("status") == "on_hold"
    status, hold_reason = ("on_hold", data.get("hold_reason")) if held else ("assigned", None)
    order_id = order["order_id"]
    current = conn.execute("SELECT status FROM orders WHERE order_id = ?", [order_id]).fetchone()
    if current is not None:
        opened = conn.execute(
            "SELECT 1 FROM packages WHERE order_id = ? LIMIT 1", [order_id]
        ).fetchone()
        if current[0] not in ("assigned", "cancelled") or opened:
            log.info("order %s is %s here: assignment update left alone", order_id, current[0])
            return
    _check_skus(conn, rows)
    try:
        if current is None:
            cols = ", ".join(order)
            conn.execute(
                f"INSERT INTO orders ({cols}, status, hold_reason) "
                f"VALUES ({', '.join('?' * len(order))}, ?, ?)",
                [*order.values(), status, hold_reason],
            )
        else:
            sets = ", ".join(f"{c} = ?" for c in order if c != "order_id")
            conn.execute(
                f"UPDATE orders SET {sets}, status = ?, hold_reason = ? WHERE order_id = ?",
                [v for c, v in order.items() if c != "order_id"] + [status, hold_reason, order_id],
            )
            conn.execute("DELETE FROM order_lines WHERE order_id = ?", [order_id])
        conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, sku, qty, qty_short, short_reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                [order_id, r["line_no"], r["sku"], r["qty"], r["qty_short"] or 0, r["short_reason"]]
                for r in rows
            ],
        )
    except sqlite3.IntegrityError as exc:
        raise BadChange(str(exc)) from None


def _order_cancelled(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    order_id = data.get("order_id")
    if not isinstance(order_id, str):
        raise BadChange("missing field 'order_id'")
    row = conn.execute("SELECT status FROM orders WHERE order_id = ?", [order_id]).fetchone()
    if row is None:
        log.info("cancellation of %s: no such order here, nothing to do", order_id)
        return
    if row[0] == "packed":
        log.warning("order %s cancelled after it was packed here: the hub must stop it", order_id)
        return
    reason = data.get("reason") or "cancelled by the hub"
    conn.execute(
        "UPDATE orders SET status = 'cancelled', hold_reason = ? WHERE order_id = ?",
        [str(reason), order_id],
    )
