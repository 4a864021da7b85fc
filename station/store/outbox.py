"""The transactional outbox: every event is written in the transaction of its state change."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlite_utils

from doms.db import now_iso


def record_event(
    db: sqlite_utils.Database, station_id: str, type_: str, payload: dict[str, Any]
) -> int:
    """Append one event; return its sequence number. Call inside ``db.atomic()``."""
    assert db.conn.in_transaction, "events must be written in the state change's transaction"
    cur = db.execute(
        "INSERT INTO outbox (event_id, station_id, type, payload, at) VALUES (?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, station_id, type_, json.dumps(payload, sort_keys=True), now_iso()],
    )
    return int(cur.lastrowid)


def pending_events(db: sqlite_utils.Database, limit: int = 500) -> list[dict[str, Any]]:
    """Undelivered events, oldest first."""
    rows = db.execute(
        "SELECT seq, event_id, station_id, type, payload, at FROM outbox "
        "WHERE delivered_at IS NULL ORDER BY seq LIMIT ?",
        [limit],
    ).fetchall()
    return [
        {
            "seq": r[0],
            "event_id": r[1],
            "station_id": r[2],
            "type": r[3],
            "payload": json.loads(r[4]),
            "at": r[5],
        }
        for r in rows
    ]


def outbox_depth(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]


def next_counter(db: sqlite_utils.Database, name: str, start: int = 1) -> int:
    """Return the next value of a persistent counter. Call inside ``db.atomic()``."""
    assert db.conn.in_transaction
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1",
        [name, start],
    )
    return db.execute("SELECT value FROM counters WHERE name = ?", [name]).fetchone()[0]
