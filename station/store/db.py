"""Opening the station database: WAL, durable commits, migrations applied."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from doms.db import connect, transaction
from station.store.schema import migrate


def open_db(path: str | Path, *, synchronous: str = "FULL") -> sqlite_utils.Database:
    """Open (creating if needed) the station database at ``path`` and bring its schema up to date.

    WAL lets the print and sync threads read while the UI writes. ``synchronous=FULL``
    makes each confirmed scan survive a power cut, not only a killed process; NORMAL is
    enough for ``kill -9`` alone and is offered for slow disks.
    """
    db = connect(path, synchronous=synchronous, check_same_thread=False)
    migrate(db)
    return db


def integrity_ok(db: sqlite_utils.Database) -> bool:
    """True when ``PRAGMA integrity_check`` reports ``ok``."""
    return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# Station code says ``tx``; it is the shared BEGIN IMMEDIATE transaction.
tx = transaction
