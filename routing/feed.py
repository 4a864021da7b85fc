"""The hub's write API: every change a station must know goes into a stream in the same
transaction as the change itself (the hub's transactional outbox).

Streams are gapless per key from 1: ``site:<site>`` carries the catalogue, cartons and
operators (global at the hub: each change goes on every site's stream) and the site's stock
levels; ``station:<id>`` the orders assigned to that station. Whoever writes them (the hub
process or another one, e.g. ``doms hub init``), ``sync.hub`` publishes them. Change ``data``
shapes (normative for stations):

* ``sku_upserted`` / ``barcode_upserted`` / ``carton_upserted`` / ``operator_upserted``:
  the row, column for column as in the station's table of the same name;
* ``stock_level``: ``{sku, on_hand, available, at}``;
* ``order_assigned``: the station's ``orders`` columns (``ship_to`` as a map, not JSON
  text) plus ``status``, ``hold_reason`` and ``lines: [{line_no, sku, qty, qty_short,
  short_reason}]``;
* ``order_cancelled``: ``{order_id, reason, at}``.

Each write function opens its own :func:`routing.store.transaction` (a savepoint when the
caller already has one) and raises ValueError for bad input, changing nothing; the two
building blocks that ``routing.apply`` runs inside its own transaction, :func:`settle_order`
and :func:`publish_stock`, say so.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing.store import (
    MOVEMENT_KINDS,
    OPEN_STATUSES,
    site_key,
    station_key,
    stock_levels,
    stream_head,
)

SKU_COLUMNS = (
    "sku", "name", "gtin", "weight_g", "length_mm", "width_mm", "height_mm", "tracking",
    "qty_keyable",
)  # fmt: skip
BARCODE_COLUMNS = ("code", "sku", "units", "kind")
CARTON_COLUMNS = ("code", "name", "length_mm", "width_mm", "height_mm", "tare_g", "max_weight_g")
OPERATOR_COLUMNS = ("badge", "name", "role", "pin_hash", "active")
ORDER_COLUMNS = (
    "order_id", "order_ref", "channel", "tote", "pick_list", "ship_by", "priority", "ship_to",
    "carrier", "service", "assigned_at",
)  # fmt: skip
_REQUIRED = {"order_id", "order_ref", "ship_by", "ship_to", "carrier", "service"}


# -- streams -------------------------------------------------------------------------------
def append_change(db: sqlite_utils.Database, key: str, type_: str, data: dict[str, Any]) -> int:
    """Append one change to stream ``key``; return its seq (head + 1)."""
    with transaction(db):
        return _append(db, key, type_, data)


def _append(db: sqlite_utils.Database, key: str, type_: str, data: dict[str, Any]) -> int:
    # No savepoint of its own: for callers already inside a transaction (or an event's
    # savepoint) that roll back as a whole, on hot paths.
    seq = db.execute(
        "INSERT INTO stream_heads (stream_key, seq) VALUES (?, 1) "
        "ON CONFLICT(stream_key) DO UPDATE SET seq = seq + 1 RETURNING seq",
        [key],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO streams (stream_key, seq, type, data, at) VALUES (?, ?, ?, ?, ?)",
        [key, seq, type_, json.dumps(data, ensure_ascii=False), now_iso()],
    )
    return seq


def append_many(
    db: sqlite_utils.Database, key: str, type_: str, items: Sequence[dict[str, Any]]
) -> int:
    """Append ``items`` to stream ``key`` as consecutive changes of one type, in the
    caller's transaction (three statements however many); return the last seq."""
    if not items:
        return stream_head(db, key)
    return append_changes(db, [(key, type_, data) for data in items])[key]


def append_changes(
    db: sqlite_utils.Database, changes: Sequence[tuple[str, str, Any]]
) -> dict[str, int]:
    """Append ``(key, type, data)`` changes, in the given order per stream, in the
    caller's transaction: each head read once, the rows numbered in memory, three
    statements however many changes and streams. Returns each stream's new head."""
    if not changes:
        return {}
    keys = list(dict.fromkeys(key for key, _, _ in changes))
    heads = dict(
        db.execute(
            "SELECT stream_key, seq FROM stream_heads "
            "WHERE stream_key IN (SELECT value FROM json_each(?))",
            [json.dumps(keys)],
        ).fetchall()
    )
    at = now_iso()
    rows = []
    for key, type_, data in changes:
        heads[key] = seq = heads.get(key, 0) + 1
        rows.append((key, seq, type_, _ENCODE(data).decode(), at))
    # executemany, not insert_many: payloads are long JSON text, which insert_many would
    # escape into its array and SQLite unescape again (3x slower for order payloads).
    db.conn.executemany(
        "INSERT INTO streams (stream_key, seq, type, data, at) VALUES (?, ?, ?, ?, ?)", rows
    )
    db.conn.executemany(
        "INSERT INTO stream_heads (stream_key, seq) VALUES (?, ?) "
        "ON CONFLICT(stream_key) DO UPDATE SET seq = excluded.seq",
        [(key, heads[key]) for key in keys],
    )
    return {key: heads[key] for key in keys}


def insert_many(
    db: sqlite_utils.Database, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns`` order: text, numbers, None) in one statement,
    in the caller's transaction and in the given order. The rows travel as one JSON array:
    SQLite unpacks short values faster than executemany binds them one by one (about a
    third less time a row for the ledger); long text (JSON documents) is slower so."""
    if not rows:
        return
    values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM json_each(?)",
        [_ENCODE(rows).decode()],
    )


_ENCODE = msgspec.json.Encoder().encode  # what json.dumps(ensure_ascii=False) says, faster


# -- sites and stations --------------------------------------------------------------------
def ensure_site(db: sqlite_utils.Database, site: str, name: str = "") -> None:
    """Register ``site`` if it is new."""
    with transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO sites (site, name, created_at) VALUES (?, ?, ?)",
            [site, name, now_iso()],
        )


def ensure_station(db: sqlite_utils.Database, site: str, station: str) -> None:
    """Register ``station`` at ``site`` if it is new. Raises ValueError when it is
    already registered at another site."""
    row = db.execute("SELECT site FROM stations WHERE station_id = ?", [station]).fetchone()
    if row is not None and row[0] == site:
        return  # the usual case, on hot paths (every event batch, every routed order)
    with transaction(db):
        ensure_site(db, site)
        db.execute(
            "INSERT OR IGNORE INTO stations (station_id, site, created_at) VALUES (?, ?, ?)",
            [station, site, now_iso()],
        )
        row = db.execute("SELECT site FROM stations WHERE station_id = ?", [station]).fetchone()
        if row[0] != site:
            raise ValueError(f"station {station} belongs to site {row[0]}, not {site}")


# -- catalogue, cartons, operators (every site stream) --------------------------------------
MASTER_TABLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    # table: (key, columns, change type)
    "skus": ("sku", SKU_COLUMNS, "sku_upserted"),
    "barcodes": ("code", BARCODE_COLUMNS, "barcode_upserted"),
    "cartons": ("code", CARTON_COLUMNS, "carton_upserted"),
    "operators": ("badge", OPERATOR_COLUMNS, "operator_upserted"),
}


def upsert_master(
    db: sqlite_utils.Database, table: str, row: dict[str, Any]
) -> dict[str, int] | None:
    """Insert or update a row of ``table`` (one of :data:`MASTER_TABLES`; columns left
    out keep their value, or take the schema's default in a new row) and append the whole
    row as a change to the stream of every registered site. Master data is global at the
    hub: every site's stations hold all of it (a site registered later gets it in its
    stations' snapshots). Returns each site's new stream head (``{site: seq}``), or None
    when the row was already so and nothing is appended. Raises ValueError for a missing
    key or column, or a barcode of an unknown SKU, changing nothing."""
    pk, columns, change = MASTER_TABLES[table]
    if row.get(pk) in (None, ""):
        raise ValueError(f"a {table} row needs {pk}")
    clean = {c: row[c] for c in columns if c in row}
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {pk} = ?"
    try:
        with transaction(db):
            before = db.execute(sql, [clean[pk]]).fetchone()
            db[table].upsert(clean, pk=pk)
            after = db.execute(sql, [clean[pk]]).fetchone()
            if after == before:
                return None  # nothing changed: nothing for stations to apply
            data = dict(zip(columns, after, strict=True))
            sites = [s for (s,) in db.execute("SELECT site FROM sites ORDER BY site")]
            heads = append_changes(db, [(site_key(s), change, data) for s in sites])
            return {s: heads[site_key(s)] for s in sites}
    except sqlite3.IntegrityError as exc:  # a missing column, an unknown SKU
        raise ValueError(f"{table} {clean[pk]}: {exc}") from None


def _upsert_at(db, site: str, table: str, row: dict[str, Any]) -> int | None:
    with transaction(db):
        ensure_site(db, site)
        heads = upsert_master(db, table, row)
        return None if heads is None else heads[site]


def upsert_sku(db: sqlite_utils.Database, site: str, row: dict[str, Any]) -> int | None:
    """:func:`upsert_master` of a SKU, registering ``site`` first if it is new; return the
    change's seq on ``site``'s stream, or None when the row was already so (the same for
    every upsert below)."""
    return _upsert_at(db, site, "skus", row)


def upsert_barcode(db: sqlite_utils.Database, site: str, row: dict[str, Any]) -> int | None:
    """Insert or update a barcode (its SKU must exist); return the change's seq."""
    return _upsert_at(db, site, "barcodes", row)


def upsert_carton(db: sqlite_utils.Database, site: str, row: dict[str, Any]) -> int | None:
    """Insert or update a carton; return the ``carton_upserted`` seq."""
    return _upsert_at(db, site, "cartons", row)


def upsert_operator(db: sqlite_utils.Database, site: str, row: dict[str, Any]) -> int | None:
    """Insert or update an operator (``pin_hash`` travels: stations check PINs offline)."""
    return _upsert_at(db, site, "operators", row)


# -- the ledger ----------------------------------------------------------------------------
def insert_movement(db, site, sku, qty, kind, ref, order_id, line_no, at) -> int | None:
    """Insert one ledger movement, no ``stock_level`` change (the caller publishes once for
    its whole batch; :func:`record_movement` publishes per movement); return its id, or
    None when one of this ``kind`` with this ``ref`` is already recorded. Raises
    ValueError for an unknown kind or a zero quantity."""
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"movement kind must be one of {', '.join(MOVEMENT_KINDS)}")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty == 0:
        raise ValueError(f"a movement's qty is a non-zero integer, not {qty!r}")
    cur = db.execute(
        "INSERT OR IGNORE INTO ledger (site, sku, qty, kind, ref, order_id, line_no, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [site, sku, qty, kind, ref, order_id, line_no, at or now_iso()],
    )
    return int(cur.lastrowid) if cur.rowcount else None


def publish_stock(db: sqlite_utils.Database, site: str, skus: Iterable[str]) -> None:
    """Append a ``stock_level`` change for each SKU (current sums of the ledger), in SKU
    order. Call inside a transaction."""
    publish_stocks(db, {site: skus})


def publish_stocks(db: sqlite_utils.Database, moved: dict[str, Iterable[str]]) -> None:
    """:func:`publish_stock` for each ``{site: SKUs}``, site after site, in one query
    and one append: what a routing chunk does for every site it reserved stock at."""
    wanted = {site: sorted(set(skus)) for site, skus in moved.items()}
    pairs = [[site, sku] for site, skus in wanted.items() for sku in skus]
    if not pairs:
        return
    levels = {
        (site, sku): (int(on_hand), int(available))
        for site, sku, on_hand, available in db.execute(
            "SELECT t.site, t.sku, t.on_hand, t.available FROM json_each(?) j "
            "JOIN stock_totals t "
            "ON t.site = json_extract(j.value, '$[0]') AND t.sku = json_extract(j.value, '$[1]')",
            [json.dumps(pairs)],
        ).fetchall()
    }
    at = now_iso()
    changes = []
    for site, sku in pairs:
        on_hand, available = levels.get((site, sku), (0, 0))
        item = {"sku": sku, "on_hand": on_hand, "available": available, "at": at}
        changes.append((site_key(site), "stock_level", item))
    append_changes(db, changes)


def record_movement(
    db: sqlite_utils.Database,
    site: str,
    sku: str,
    qty: int,
    kind: str,
    ref: str,
    *,
    at: str | None = None,
) -> int | None:
    """Record one stock movement (signed ``qty``) and its ``stock_level`` change.

    Returns the movement id, or None when a movement of this ``kind`` with this ``ref`` is
    already recorded (nothing changes: a retried receipt is not counted twice). Raises
    ValueError for an unknown kind or a zero quantity."""
    with transaction(db):
        ensure_site(db, site)
        movement = insert_movement(db, site, sku, qty, kind, ref, None, None, at)
        if movement is not None:
            publish_stock(db, site, [sku])
        return movement


def settle_order(
    db: sqlite_utils.Database,
    order_id: str,
    ref: str,
    at: str | None,
    *,
    moved: set[str] | None = None,
) -> set[str]:
    """Bring the ledger in line with the order's state (call inside a transaction);
    return the SKUs that moved. Their ``stock_level`` changes are written now, or, when a ``moved`` set is given, the
    SKUs are added to it for the caller to publish once per batch (a batch of 500 events
    then writes one level per SKU, not one per event).

    For each line, the target sums by kind are: ``short`` = -qty_short (missing stock is
    gone from on hand); ``ship`` = -(qty - qty_short) once packed, else 0; ``reservation``
    = -(qty - qty_short) while the order is open at a station, else 0. Each difference
    from the current sums becomes one movement with ref ``<ref>/<line_no>``. Being a
    difference, settling twice adds nothing, and a void simply reverses the shipment.
    """
    order = db.execute("SELECT site, status FROM orders WHERE order_id = ?", [order_id]).fetchone()
    site, status = order
    touched: set[str] = set()
    lines = db.execute(
        "SELECT line_no, sku, qty, qty_short FROM order_lines WHERE order_id = ? ORDER BY line_no",
        [order_id],
    ).fetchall()
    for line_no, sku, qty, qty_short in lines:
        to_ship = qty - qty_short
        target = {
            "short": -qty_short,
            "ship": -to_ship if status == "packed" else 0,
            "reservation": -to_ship if status in OPEN_STATUSES else 0,
        }
        current = dict(db.execute(
            "SELECT kind, sum(qty) FROM ledger WHERE order_id = ? AND line_no = ? GROUP BY kind",
            [order_id, line_no],
        ).fetchall())  # fmt: skip
        for kind, want in target.items():
            delta = want - current.get(kind, 0)
            if delta:
                line_ref = f"{ref}/{line_no}"
                if insert_movement(db, site, sku, delta, kind, line_ref, order_id, line_no, at):
                    touched.add(sku)
                else:
                    raise ValueError(f"movement {kind} {line_ref} is already recorded")
    if moved is not None:
        moved |= touched
    elif touched:
        publish_stock(db, site, touched)
    return touched


# -- orders (station stream) ---------------------------------------------------------------
def order_payload(db: sqlite_utils.Database, order_id: str) -> dict[str, Any]:
    """The ``order_assigned`` data of a hub order (see the module docstring)."""
    columns = (*ORDER_COLUMNS, "status", "hold_reason")
    row = db.execute(
        f"SELECT {', '.join(columns)} FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    data = dict(zip(columns, row, strict=True))
    data["ship_to"] = json.loads(data["ship_to"])
    data["lines"] = [
        dict(zip(("line_no", "sku", "qty", "qty_short", "short_reason"), r, strict=True))
        for r in db.execute(
            "SELECT line_no, sku, qty, qty_short, short_reason FROM order_lines "
            "WHERE order_id = ? ORDER BY line_no",
            [order_id],
        ).fetchall()
    ]
    return data


def assign_order(
    db: sqlite_utils.Database,
    site: str,
    station: str,
    order: dict[str, Any],
    *,
    moved: set[str] | None = None,
) -> int:
    """Create the hub order from ``order`` (the station's order columns, ``ship_to`` a map
    or JSON text, ``lines: [{line_no, sku, qty}]``), assign it to ``station``, reserve its
    stock and write ``order_assigned`` to the station stream. Returns that change's seq.
    ``moved``: as for :func:`settle_order` (the caller publishes the stock levels).
    Raises ValueError for a missing field, no lines, an existing order id, or an unknown
    SKU (sqlite3.IntegrityError is turned into ValueError)."""
    missing = sorted(k for k in _REQUIRED if order.get(k) in (None, ""))
    lines = order.get("lines") or []
    if missing or not lines:
        raise ValueError(f"order needs {', '.join(missing) or 'lines'}")
    row = {c: order[c] for c in ORDER_COLUMNS if c in order}
    if not isinstance(row["ship_to"], str):
        row["ship_to"] = json.dumps(row["ship_to"], ensure_ascii=False)
    row |= {"site": site, "station": station, "status": "assigned"}
    row.setdefault("assigned_at", now_iso())
    try:
        with transaction(db):
            ensure_station(db, site, station)
            if db.execute("SELECT 1 FROM orders WHERE order_id = ?", [row["order_id"]]).fetchone():
                raise ValueError(f"order {row['order_id']} already exists")
            db["orders"].insert(row)
            for line in lines:
                values = [row["order_id"], int(line["line_no"]), line["sku"], int(line["qty"])]
                db.execute(
                    "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
                    values,
                )
            ref = f"assign:{row['order_id']}"
            settle_order(db, row["order_id"], ref, row["assigned_at"], moved=moved)
            payload = order_payload(db, row["order_id"])
            return _append(db, station_key(station), "order_assigned", payload)
    except sqlite3.IntegrityError as exc:  # an unknown SKU, a repeated line number
        raise ValueError(f"order {row['order_id']}: {exc}") from None


def cancel_order(db: sqlite_utils.Database, order_id: str, reason: str = "") -> int | None:
    """Cancel an order not yet packed: its reservation is released and, when it is at a
    station, ``order_cancelled`` goes on that station's stream (its seq is returned; None
    when the order was at no station or was already cancelled). Raises ValueError for an
    unknown or packed order."""
    with transaction(db):
        row = db.execute(
            "SELECT status, station FROM orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is None:
            raise ValueError(f"no order {order_id}")
        status, station = row
        if status == "packed":
            raise ValueError(f"order {order_id} is packed: too late to cancel")
        if status == "cancelled":
            return None
        at = now_iso()
        db.execute(
            "UPDATE orders SET status = 'cancelled', cancelled_at = ? WHERE order_id = ?",
            [at, order_id],
        )
        settle_order(db, order_id, f"cancel:{order_id}", at)
        if station is None:
            return None
        data = {"order_id": order_id, "reason": reason, "at": at}
        return _append(db, station_key(station), "order_cancelled", data)


# -- snapshots -----------------------------------------------------------------------------
def snapshot_changes(
    db: sqlite_utils.Database, site: str, station: str
) -> tuple[int, int, list[tuple[str, dict[str, Any]]]]:
    """Everything a new station needs: ``(site_seq, station_seq, [(type, data)])`` with
    upserts of the whole catalogue, cartons, operators and stock levels, then the
    station's open orders. Read in one transaction, so the positions match the rows."""
    with db.atomic():  # a read transaction: one consistent view in WAL
        site_seq = stream_head(db, site_key(site))
        station_seq = stream_head(db, station_key(station))
        changes: list[tuple[str, dict[str, Any]]] = []
        for table, columns, order_by, type_ in (
            ("skus", SKU_COLUMNS, "sku", "sku_upserted"),
            ("barcodes", BARCODE_COLUMNS, "code", "barcode_upserted"),
            ("cartons", CARTON_COLUMNS, "code", "carton_upserted"),
            ("operators", OPERATOR_COLUMNS, "badge", "operator_upserted"),
        ):
            sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order_by}"
            changes += [(type_, dict(zip(columns, r, strict=True))) for r in db.execute(sql)]
        at = now_iso()
        for sku, (on_hand, available) in stock_levels(db, site).items():
            data = {"sku": sku, "on_hand": on_hand, "available": available, "at": at}
            changes.append(("stock_level", data))
        placeholders = ", ".join("?" for _ in OPEN_STATUSES)
        orders = db.execute(
            f"SELECT order_id FROM orders WHERE station = ? AND status IN ({placeholders}) "
            "ORDER BY ship_by, order_id",
            [station, *OPEN_STATUSES],
        ).fetchall()
        changes += [("order_assigned", order_payload(db, oid)) for (oid,) in orders]
    return site_seq, station_seq, changes


# -- the demo ------------------------------------------------------------------------------
def load_sample_hub(
    db: sqlite_utils.Database,
    site: str,
    stations: list[str],
    *,
    seed: int = 7,
    orders: int = 40,
    skus: int = 300,
    stock_per_sku: tuple[int, int] = (20, 200),
) -> dict[str, int]:
    """Seed the hub with the station demo's sample: catalogue, cartons and operators on the
    site stream, a receipt of stock per SKU, and the orders assigned round-robin to
    ``stations``, all in one transaction. A site without a location is put in Newark, NJ
    (07102), so that ``doms hub route-pending`` has somewhere to route to. Rows whose keys
    exist are skipped, never overwritten, so loading twice adds nothing. Returns how many
    rows of each kind were added. Raises ValueError without stations."""
    # The station's generator is the one source of sample data. Imported here, not at the
    # top, so that routing/ imports station/ only for the demo (see STYLE.md, rule 3).
    import random

    from station.demo_data import load_sample

    if not stations:
        raise ValueError("the sample needs at least one station")
    sample = sqlite_utils.Database(memory=True)
    load_sample(sample, seed=seed, orders=orders, skus=skus)
    rng = random.Random(seed)
    counts = {"skus": 0, "barcodes": 0, "cartons": 0, "operators": 0, "orders": 0}
    with transaction(db):
        for station in stations:
            ensure_station(db, site, station)
        if db.execute("SELECT lat FROM sites WHERE site = ?", [site]).fetchone()[0] is None:
            # Somewhere, so the demo can route: Newark, NJ (given as coordinates, which
            # spares the demo loading the ZIP database).
            from routing.sites import set_site

            set_site(db, site, postal_code="07102", lat=40.7357, lon=-74.1724)
        for table, pk, fn in (
            ("skus", "sku", upsert_sku),
            ("barcodes", "code", upsert_barcode),
            ("cartons", "code", upsert_carton),
            ("operators", "badge", upsert_operator),
        ):
            have = {r[0] for r in db.execute(f"SELECT {pk} FROM {table}")}
            for row in sample[table].rows:
                if row[pk] not in have:  # as the station's sample: never overwrite
                    counts[table] += fn(db, site, row) is not None
        for row in sample["skus"].rows:
            qty = rng.randint(*stock_per_sku)
            record_movement(db, site, row["sku"], qty, "receipt", f"sample:{site}:{row['sku']}")
        lines: dict[str, list[dict]] = {}
        for line in sample["order_lines"].rows:
            lines.setdefault(line["order_id"], []).append(line)
        for i, order in enumerate(sample["orders"].rows_where(order_by="order_id")):
            if db.execute(
                "SELECT 1 FROM orders WHERE order_id = ?", [order["order_id"]]
            ).fetchone():
                continue
            order["lines"] = lines[order["order_id"]]
            assign_order(db, site, stations[i % len(stations)], order)
            counts["orders"] += 1
    return counts
