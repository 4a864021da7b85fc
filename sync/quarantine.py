"""Quarantine: where a receiver keeps what it refused, for a person to look at later.

PROTOCOL.md: a payload that does not decode, carries another version, arrives on the
wrong topic or speaks for another station is counted, stored here with the reason, and
never crashes the receiver. Station and hub both use :func:`quarantine`; each creates the
table in its own schema (the station in migration ``m002_sync``, the hub from
:data:`SCHEMA`).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB
)
"""

# A flood of huge garbage must not fill the disk: keep the head, enough to diagnose.
MAX_PAYLOAD = 64 * 1024


def quarantine(db: Any, topic: str, reason: str, payload: bytes | None) -> int:
    """Store one refused message; return its row id.

    ``db`` is a ``sqlite3.Connection`` or a ``sqlite_utils.Database``. The row joins the
    caller's transaction when one is open (so it commits or rolls back with it);
    otherwise it is committed at once. Raises ``sqlite3.Error`` only when the database
    itself fails (for example no ``quarantine`` table).
    """
    conn: sqlite3.Connection = getattr(db, "conn", db)
    in_transaction = conn.in_transaction
    data = bytes(payload or b"")
    if len(data) > MAX_PAYLOAD:
        reason = f"{reason} [payload truncated from {len(data)} bytes]"
        data = data[:MAX_PAYLOAD]
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    cur = conn.execute(
        "INSERT INTO quarantine (at, topic, reason, payload) VALUES (?, ?, ?, ?)",
        [at, topic, reason, data],
    )
    if not in_transaction and conn.in_transaction:
        conn.commit()  # a legacy-mode connection opened one implicitly: ours to close
    log.warning("quarantined a message on %s: %s", topic, reason)
    return int(cur.lastrowid)
