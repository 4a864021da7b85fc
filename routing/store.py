"""The hub database: SQLite (WAL) through sqlite-utils, schema as registered migrations.

Tables mirror the station replica where the two meet (``skus``, ``barcodes``, ``cartons``,
``operators``, and the order columns), so a stream upsert maps 1:1 onto a station row. The
hub adds what only it knows: sites and stations, the inventory **ledger** (stock is always
a sum of movements), orders with their site, station and hub status, shipments, and the
sync tables (``sync_marks``, ``inbox``, ``streams`` + ``stream_heads``, ``presence``,
``quarantine``).

Every writer uses :func:`transaction`, which starts with ``BEGIN IMMEDIATE``: the hub
process and a CLI writing into the same file (``doms hub ...``) then queue on the busy
timeout instead of failing with ``SQLITE_BUSY_SNAPSHOT`` when a read turns into a write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

from doms.db import Migrations, connect, run_script, transaction

MIGRATIONS = Migrations()

ORDER_STATUSES = ("new", "assigned", "packing", "on_hold", "packed", "cancelled")
OPEN_STATUSES = ("assigned", "packing", "on_hold")  # at a station, stock reserved for it
MOVEMENT_KINDS = (
    "receipt", "pick", "ship", "adjustment", "transfer", "return", "reservation", "short",
)  # fmt: skip


@MIGRATIONS.register
def m001_hub(db: sqlite_utils.Database) -> None:
    statuses = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
    kinds = ", ".join(f"'{k}'" for k in MOVEMENT_KINDS)
    run_script(
        db,
        f"""
        CREATE TABLE sites (
            site TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE stations (
            station_id TEXT PRIMARY KEY,   -- globally unique, e.g. WH1-PACK-01
            site TEXT NOT NULL REFERENCES sites(site),
            created_at TEXT NOT NULL
        );
        CREATE INDEX stations_site ON stations(site);
        -- Catalogue, cartons and people: the station replica's shapes, column for column.
        CREATE TABLE operators (
            badge TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('packer', 'lead', 'inspector')),
            pin_hash TEXT,
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE skus (
            sku TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            gtin TEXT,
            weight_g REAL NOT NULL,
            length_mm INTEGER NOT NULL,
            width_mm INTEGER NOT NULL,
            height_mm INTEGER NOT NULL,
            tracking TEXT NOT NULL DEFAULT 'none'
                CHECK (tracking IN ('none', 'lot', 'lot_expiry', 'serial')),
            qty_keyable INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE barcodes (
            code TEXT PRIMARY KEY,
            sku TEXT NOT NULL REFERENCES skus(sku),
            units INTEGER NOT NULL DEFAULT 1,
            kind TEXT NOT NULL CHECK (kind IN ('gtin', 'sku'))
        );
        CREATE INDEX barcodes_sku ON barcodes(sku);
        CREATE TABLE cartons (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            length_mm INTEGER NOT NULL,
            width_mm INTEGER NOT NULL,
            height_mm INTEGER NOT NULL,
            tare_g REAL NOT NULL,
            max_weight_g REAL NOT NULL
        );
        -- Orders as the hub knows them: the station's columns + site, station, hub status.
        CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            site TEXT REFERENCES sites(site),
            station TEXT REFERENCES stations(station_id),
            order_ref TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT 'web',
            tote TEXT,
            pick_list TEXT,
            ship_by TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ({statuses})),
            hold_reason TEXT,
            ship_to TEXT NOT NULL,     -- JSON address
            carrier TEXT NOT NULL,
            service TEXT NOT NULL,
            assigned_at TEXT,
            packed_at TEXT,
            cancelled_at TEXT
        );
        CREATE INDEX orders_station ON orders(station, status);
        CREATE TABLE order_lines (
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL REFERENCES skus(sku),
            qty INTEGER NOT NULL CHECK (qty > 0),
            qty_short INTEGER NOT NULL DEFAULT 0,
            short_reason TEXT,
            PRIMARY KEY (order_id, line_no)
        );
        CREATE TABLE shipments (
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            package_no INTEGER NOT NULL,
            station TEXT,
            sscc TEXT,
            tracking TEXT,
            carton TEXT,
            grams REAL,
            packed_at TEXT NOT NULL,
            PRIMARY KEY (order_id, package_no)
        );
        -- The inventory ledger. Stock is a sum of movements, never a stored count.
        -- (ref, kind) is unique: ref names the cause ("WH1-PACK-01:42/1" = station event 42,
        -- order line 1; "assign:SO-1/1"), kind what it did, so no movement lands twice.
        CREATE TABLE ledger (
            movement_id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            sku TEXT NOT NULL,         -- no FK: a station's fact is never refused
            qty INTEGER NOT NULL CHECK (qty != 0),
            kind TEXT NOT NULL CHECK (kind IN ({kinds})),
            ref TEXT NOT NULL,
            order_id TEXT,
            line_no INTEGER,
            at TEXT NOT NULL,
            UNIQUE (ref, kind)
        );
        CREATE INDEX ledger_stock ON ledger(site, sku, kind, qty);
        CREATE INDEX ledger_order ON ledger(order_id, line_no, kind, qty);
        -- Sync: per station, every event up to applied_seq is applied (PROTOCOL.md).
        CREATE TABLE sync_marks (
            station TEXT PRIMARY KEY,
            applied_seq INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- Every applied station event; error set when its effect was refused.
        CREATE TABLE inbox (
            station TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,        -- JSON
            at TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            error TEXT,
            PRIMARY KEY (station, seq)
        );
        -- Hub -> station streams, gapless per stream_key from 1 ("site:WH1",
        -- "station:WH1-PACK-01"). stream_heads keeps the last seq even after pruning, and
        -- how far the hub has published.
        CREATE TABLE streams (
            stream_key TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,        -- JSON
            at TEXT NOT NULL,
            PRIMARY KEY (stream_key, seq)
        );
        CREATE TABLE stream_heads (
            stream_key TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            published_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE presence (
            station TEXT PRIMARY KEY,
            online INTEGER NOT NULL,
            bd_seq INTEGER NOT NULL,
            status TEXT NOT NULL,      -- JSON: the last StationStatus
            updated_at TEXT NOT NULL
        );
        -- What the hub refused; the shape of sync/quarantine.py, which writes it.
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload BLOB
        );
        CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        """,
    )


# -- opening and transactions --------------------------------------------------------------
def open_db(
    path: str | Path = ":memory:", *, synchronous: str = "FULL", check_same_thread: bool = True
) -> sqlite_utils.Database:
    """Open (creating if needed) the hub database and bring its schema up to date.

    ``synchronous=FULL`` by default: the hub acknowledges an event only after its commit,
    and a station may then prune it, so a commit must survive a power cut. The connection
    is in autocommit mode (``isolation_level=None``): transactions are only the explicit
    ones of :func:`transaction` / ``db.atomic()``, never an implicit one left open.
    """
    db = connect(path, synchronous=synchronous, check_same_thread=check_same_thread)
    MIGRATIONS.migrate(db)
    return db


# -- streams (read side) -----------------------------------------------------------------
def site_key(site: str) -> str:
    return f"site:{site}"


def station_key(station: str) -> str:
    return f"station:{station}"


def stream_head(db: sqlite_utils.Database, key: str) -> int:
    """The last seq written to stream ``key`` (0 for an empty stream)."""
    row = db.execute("SELECT seq FROM stream_heads WHERE stream_key = ?", [key]).fetchone()
    return row[0] if row else 0


def stream_floor(db: sqlite_utils.Database, key: str) -> int:
    """The lowest seq of ``key`` still kept (head + 1 when every row was pruned): a
    catch-up from below it cannot be served and gets a snapshot instead."""
    row = db.execute("SELECT min(seq) FROM streams WHERE stream_key = ?", [key]).fetchone()
    return row[0] if row[0] is not None else stream_head(db, key) + 1


def read_stream(
    db: sqlite_utils.Database, key: str, from_seq: int, limit: int = 500, to_seq: int | None = None
) -> list[tuple[int, str, dict[str, Any]]]:
    """Up to ``limit`` rows ``(seq, type, data)`` of ``key`` with ``from_seq <= seq
    [<= to_seq]``, in seq order."""
    rows = db.execute(
        "SELECT seq, type, data FROM streams WHERE stream_key = ? AND seq >= ? AND seq <= ? "
        "ORDER BY seq LIMIT ?",
        [key, from_seq, to_seq if to_seq is not None else 2**62, limit],
    ).fetchall()
    return [(seq, type_, json.loads(data)) for seq, type_, data in rows]


def prune_stream(db: sqlite_utils.Database, key: str, below_seq: int) -> int:
    """Delete rows of ``key`` with seq < ``below_seq``; return how many. The head is kept
    in ``stream_heads``, so numbering goes on without reuse."""
    with transaction(db):
        cur = db.execute("DELETE FROM streams WHERE stream_key = ? AND seq < ?", [key, below_seq])
        return cur.rowcount


def prune_published(db: sqlite_utils.Database, site: str, before: str) -> int:
    """Delete the changes of ``site``'s streams (the site stream and each of its stations')
    written before ``before`` (ISO time) and already published; return how many. A
    station that comes back asking from below what is kept gets a snapshot
    (PROTOCOL.md), so streams need not grow for ever. Unpublished changes stay."""
    with transaction(db):
        cur = db.execute(
            "DELETE FROM streams WHERE stream_key IN "
            "  (SELECT ? UNION ALL SELECT 'station:' || station_id FROM stations WHERE site = ?) "
            "AND at < ? AND seq <= "
            "  (SELECT published_seq FROM stream_heads h WHERE h.stream_key = streams.stream_key)",
            [site_key(site), site, before],
        )
        return cur.rowcount


# -- stock -------------------------------------------------------------------------------
def stock(db: sqlite_utils.Database, site: str, sku: str) -> tuple[int, int]:
    """``(on_hand, available)`` of ``sku`` at ``site``: on hand is every movement but
    reservations; available is on hand minus what is reserved (reservations are negative).
    Read from ``stock_totals``, which triggers keep equal to the ledger's sums: summing
    the ledger costs time in proportion to the SKU's history."""
    row = db.execute(
        "SELECT on_hand, available FROM stock_totals WHERE site = ? AND sku = ?", [site, sku]
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def stock_levels(db: sqlite_utils.Database, site: str) -> dict[str, tuple[int, int]]:
    """``{sku: (on_hand, available)}`` for every SKU with a movement at ``site``."""
    rows = db.execute(
        "SELECT sku, on_hand, available FROM stock_totals WHERE site = ? ORDER BY sku", [site]
    ).fetchall()
    return {sku: (int(on_hand), int(available)) for sku, on_hand, available in rows}


@MIGRATIONS.register
def m002_intake(db: sqlite_utils.Database) -> None:
    """Channel orders as they came in, the channel SKU map, split parts, safety stock."""
    run_script(
        db,
        """
        -- (channel, key_type, channel_key) -> our SKU: ("shopify", "variant_id", "4432").
        CREATE TABLE channel_skus (
            channel TEXT NOT NULL,
            key_type TEXT NOT NULL,
            channel_key TEXT NOT NULL,
            sku TEXT NOT NULL REFERENCES skus(sku),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, key_type, channel_key)
        );
        CREATE INDEX channel_skus_sku ON channel_skus(sku, channel);
        -- One row per channel order: the idempotency key, and the normalised order.
        CREATE TABLE channel_orders (
            channel TEXT NOT NULL,
            channel_order_id TEXT NOT NULL,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(order_id),
            placed_at TEXT NOT NULL,
            deliver_by TEXT,
            unlinked INTEGER NOT NULL DEFAULT 0,  -- lines with no SKU: the order is held
            source TEXT NOT NULL,      -- "file:orders.json", "webhook:shopify", ...
            received_at TEXT NOT NULL,
            incoming TEXT NOT NULL,    -- JSON: the IncomingOrder (money as decimal strings)
            PRIMARY KEY (channel, channel_order_id)
        );
        -- The lines as the channel sent them; sku stays NULL while the product is not linked.
        CREATE TABLE channel_order_lines (
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            line_no INTEGER NOT NULL,
            channel_line_id TEXT NOT NULL,
            keys TEXT NOT NULL,        -- JSON [[key_type, value], ...], most specific first
            sku TEXT REFERENCES skus(sku),
            qty INTEGER NOT NULL CHECK (qty > 0),
            unit_price TEXT,           -- decimal string, in the order's currency
            title TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (order_id, line_no)
        );
        -- An order routed to several sites: each further part is an order of its own.
        CREATE TABLE order_parts (
            order_id TEXT PRIMARY KEY REFERENCES orders(order_id),
            parent_order_id TEXT NOT NULL REFERENCES orders(order_id)
        );
        -- Units of a SKU ('*': of every SKU without its own row) kept back from a channel.
        CREATE TABLE safety_stock (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            units INTEGER NOT NULL CHECK (units >= 0),
            PRIMARY KEY (channel, sku)
        );
        CREATE INDEX orders_queue ON orders(status, station, ship_by);
        """,
    )


@MIGRATIONS.register
def m003_stock_totals(db: sqlite_utils.Database) -> None:
    """The ledger's sums per (site, SKU), kept by triggers in the writer's transaction."""
    run_script(
        db,
        """
        CREATE TABLE stock_totals (
            site TEXT NOT NULL,
            sku TEXT NOT NULL,
            on_hand INTEGER NOT NULL,
            available INTEGER NOT NULL,
            PRIMARY KEY (site, sku)
        ) WITHOUT ROWID;
        INSERT INTO stock_totals (site, sku, on_hand, available)
            SELECT site, sku, coalesce(sum(qty) FILTER (WHERE kind != 'reservation'), 0),
                   sum(qty)
            FROM ledger GROUP BY site, sku;
        CREATE TRIGGER ledger_totals_insert AFTER INSERT ON ledger BEGIN
            INSERT INTO stock_totals (site, sku, on_hand, available)
            VALUES (NEW.site, NEW.sku,
                    CASE WHEN NEW.kind = 'reservation' THEN 0 ELSE NEW.qty END, NEW.qty)
            ON CONFLICT (site, sku) DO UPDATE SET
                on_hand = on_hand + excluded.on_hand,
                available = available + excluded.available;
        END;
        CREATE TRIGGER ledger_totals_delete AFTER DELETE ON ledger BEGIN
            UPDATE stock_totals SET
                on_hand = on_hand - CASE WHEN OLD.kind = 'reservation' THEN 0 ELSE OLD.qty END,
                available = available - OLD.qty
            WHERE site = OLD.site AND sku = OLD.sku;
        END;
        CREATE TRIGGER ledger_totals_update AFTER UPDATE OF site, sku, qty, kind ON ledger BEGIN
            UPDATE stock_totals SET
                on_hand = on_hand - CASE WHEN OLD.kind = 'reservation' THEN 0 ELSE OLD.qty END,
                available = available - OLD.qty
            WHERE site = OLD.site AND sku = OLD.sku;
            INSERT INTO stock_totals (site, sku, on_hand, available)
            VALUES (NEW.site, NEW.sku,
                    CASE WHEN NEW.kind = 'reservation' THEN 0 ELSE NEW.qty END, NEW.qty)
            ON CONFLICT (site, sku) DO UPDATE SET
                on_hand = on_hand + excluded.on_hand,
                available = available + excluded.available;
        END;
        """,
    )


# -- routing (routing/sites.py, routing/dispatch.py, routing/parts.py) -----------------------
@MIGRATIONS.register
def m004_routing(db: sqlite_utils.Database) -> None:
    """What the routing engine needs of a site, the decisions it made, and why a part was
    split off its parent order."""
    run_script(
        db,
        """
        -- A site without lat/lon is not routed to (no distance to rank it by).
        ALTER TABLE sites ADD COLUMN lat REAL;
        ALTER TABLE sites ADD COLUMN lon REAL;
        ALTER TABLE sites ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
        ALTER TABLE sites ADD COLUMN country TEXT NOT NULL DEFAULT 'US';
        ALTER TABLE sites ADD COLUMN market TEXT NOT NULL DEFAULT '';
        ALTER TABLE sites ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sites ADD COLUMN capacity INTEGER;      -- packages a day; NULL: no limit
        ALTER TABLE sites ADD COLUMN cutoff_hour REAL NOT NULL DEFAULT 14;
        ALTER TABLE sites ADD COLUMN utc_offset_h REAL NOT NULL DEFAULT 0;
        -- 'split': a further shipment of the plan; 'backorder': units no site could fill
        -- when the rest was routed; 'short': units a station found missing, routed again.
        ALTER TABLE order_parts ADD COLUMN kind TEXT NOT NULL DEFAULT 'split'
            CHECK (kind IN ('split', 'backorder', 'short'));
        CREATE INDEX order_parts_parent ON order_parts(parent_order_id, kind);
        -- Every routing decision, newest last: the plan as JSON (Plan.to_dict()).
        CREATE TABLE routing_decisions (
            decision_id INTEGER PRIMARY KEY,
            order_id TEXT NOT NULL,
            at TEXT NOT NULL,
            policy TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('routed', 'partial', 'held')),
            plan TEXT NOT NULL
        );
        CREATE INDEX routing_decisions_order ON routing_decisions(order_id, decision_id);
        """,
    )


@MIGRATIONS.register
def m005_returns(db: sqlite_utils.Database) -> None:
    """Customer returns booked from a station's ``goods_returned`` (routing/returns.py)."""
    run_script(
        db,
        """
        -- One row per order line a return named: what came back, for the channel's refund.
        CREATE TABLE returns (
            station TEXT NOT NULL,
            seq INTEGER NOT NULL,          -- the goods_returned event: (station, seq)
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL,
            qty_returned INTEGER NOT NULL CHECK (qty_returned > 0),
            qty_damaged INTEGER NOT NULL CHECK (qty_damaged BETWEEN 0 AND qty_returned),
            site TEXT NOT NULL,            -- where the units went back into stock
            operator TEXT,
            at TEXT NOT NULL,              -- the hub's time of booking
            PRIMARY KEY (station, seq, order_id, line_no)
        );
        CREATE INDEX returns_order ON returns(order_id, line_no);
        CREATE INDEX returns_at ON returns(at);
        """,
    )
