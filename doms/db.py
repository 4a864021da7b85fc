"""SQLite plumbing shared by the station and the hub: opening, transactions, migrations.

Both databases are SQLite through sqlite-utils, in WAL mode, with connections in
autocommit mode (``isolation_level=None``): the only transactions are the explicit ones of
:func:`transaction`, never an implicit one left open holding the write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def now_iso() -> str:
    """Now, UTC, ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(
    path: str | Path, *, synchronous: str = "FULL", check_same_thread: bool = True
) -> sqlite_utils.Database:
    """Open (creating if needed) a database file with our pragmas; no schema work."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), timeout=10.0, isolation_level=None, check_same_thread=check_same_thread
    )
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=10000")
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock at once (``BEGIN IMMEDIATE``); a
    savepoint when nested. Commits on exit; rolls back and re-raises on an exception.

    A deferred ``BEGIN`` that reads before it writes fails at once with "database is
    locked" when another connection committed in between, without waiting for the busy
    timeout; ``IMMEDIATE`` queues on the busy timeout instead.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def run_script(db: sqlite_utils.Database, sql: str) -> None:
    """Run several statements inside the current transaction. (``executescript()`` would
    COMMIT first and break a migration's transaction.)"""
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            db.execute(buf)
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf!r}")


class Migrations:
    """Schema migrations: functions registered in order, each applied once in its own
    transaction and recorded in ``_migrations``. Change a schema only by registering a
    new migration at the end."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Migration]] = []

    def register(self, fn: Migration) -> Migration:
        self.items.append((fn.__name__, fn))
        return fn

    def pending(self, db: sqlite_utils.Database) -> list[str]:
        """Names of the migrations not yet applied, in order."""
        done = _applied(db)
        return [name for name, _ in self.items if name not in done]

    def migrate(self, db: sqlite_utils.Database) -> list[str]:
        """Apply every pending migration, each in its own transaction; return their names."""
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        applied = []
        for name, fn in self.items:
            with transaction(db):
                # Checked inside the write lock: two processes opening a new file at once
                # must not both run a migration.
                if name in _applied(db):
                    continue
                fn(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, now_iso()]
                )
            applied.append(name)
        return applied


def _applied(db: sqlite_utils.Database) -> set[str]:
    if "_migrations" not in db.table_names():
        return set()
    return {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
