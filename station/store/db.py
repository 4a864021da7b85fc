"""Opening the station database: WAL, durable commits, migrations applied."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from station.store.schema import migrate


def open_db(path: str | Path, *, synchronous: str = "FULL") -> sqlite_utils.Database:
    """Open (creating if needed) the station database at ``path`` and bring its schema up to date.

    WAL lets the print and sync threads read while the UI writes. ``synchronous=FULL``
    makes each confirmed scan survive a power cut, not only a killed process; NORMAL is
    enough for ``kill -9`` alone and is offered for slow disks.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    with db.ensure_autocommit_on():
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
    migrate(db)
    return db


def integrity_ok(db: sqlite_utils.Database) -> bool:
    """True when ``PRAGMA integrity_check`` reports ``ok``."""
    return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@contextlib.contextmanager
def tx(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock at once (``BEGIN IMMEDIATE``).

    A deferred ``BEGIN`` that reads before it writes fails at once with "database is
    locked" when another thread (print worker, sync) committed in between, without
    waiting for the busy timeout. Nested use becomes a savepoint, as ``db.atomic()``.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")
