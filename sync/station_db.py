"""The station database, as sync sees it: connections of the sync threads, reading the
outbox, the hub's high-water mark, and timestamps. Plain functions on a connection, used by
:mod:`sync.station`, :mod:`sync.station_outbox` and :mod:`sync.station_streams`."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import msgspec

from sync.messages import Event


@contextlib.contextmanager
def no_fsync(conn: sqlite3.Connection, synchronous: str):
    """Commit without waiting for the disk (WAL, ``synchronous=NORMAL``) - only for writes
    the protocol can lose: an ack's ``delivered_at`` marks. Lost in a power cut, the rows
    are sent again and the hub's inbox drops them as duplicates. In WAL a commit cannot
    outlive an earlier one lost (frame checksums chain), so nothing later depends on a
    mark that vanished. Saves one fsync on the path of every event."""
    if synchronous.upper() not in ("FULL", "EXTRA"):
        yield
        return
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA synchronous={synchronous}")


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    # Autocommit mode: every transaction here is an explicit BEGIN IMMEDIATE ... COMMIT.
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    if synchronous.upper() in ("OFF", "NORMAL", "FULL", "EXTRA"):
        conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def read_events(conn: sqlite3.Connection, after: int, limit: int) -> list[Event]:
    rows = conn.execute(
        "SELECT seq, event_id, type, at, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        [after, limit],
    ).fetchall()
    return [
        Event(seq, event_id, type_, at, _data(payload))
        for seq, event_id, type_, at, payload in rows
    ]


def _data(payload: str) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(payload)  # json.loads, several times faster
    except msgspec.DecodeError:
        try:
            data = json.loads(payload)  # e.g. NaN, which only json reads
        except ValueError:
            data = None
    # Sent whatever it holds: the hub records what it cannot read, and the sequence
    # must not stall on one row.
    return data if isinstance(data, dict) else {"unreadable": payload}


def photos_waiting(conn: sqlite3.Connection) -> int:
    """Photos the hub has not acknowledged yet, leaving out those this station cannot send
    (``upload_error``): they will never go and are counted nowhere else."""
    # Walks the partial index photos_to_upload (WHERE uploaded_at IS NULL): only the
    # waiting photos, not every photo the station ever took.
    return conn.execute(
        "SELECT count(*) FROM photos WHERE uploaded_at IS NULL AND upload_error IS NULL"
    ).fetchone()[0]


def outbox_depth(conn: sqlite3.Connection) -> int:
    # Rows are marked delivered in seq order and seqs have no gaps, so the undelivered ones
    # are first..last: two index look-ups, where count(*) walked every undelivered row.
    first = conn.execute("SELECT min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
    if first is None:
        return 0
    return conn.execute("SELECT max(seq) FROM outbox").fetchone()[0] - first + 1


def last_acked(conn: sqlite3.Connection) -> int:
    """The hub's last known high-water mark: everything before the first undelivered
    event (delivered rows may have been pruned, AUTOINCREMENT never reuses a seq)."""
    first = conn.execute("SELECT min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
    if first is not None:
        return first - 1
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return row[0] if row else 0


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))
