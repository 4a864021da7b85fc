"""The hub's photos (PROTOCOL.md, "Photo files"): what events say was photographed, the
files stations upload in chunks, assembled and checked against their SHA-256, kept in the
station's layout (``photos/ab/<sha256>.jpg``) beside the hub database.

* :func:`record_refs` turns ``photo_taken`` and ``inbound_inspected`` events into rows of
  the ``photos`` table, in the transaction that applies them.
* :class:`PhotoAssembler` takes :class:`~sync.messages.PhotoChunk` messages on the hub's
  worker thread. A station sends one photo at a time, so it keeps at most one partial file
  per station (``photos/.partial/``): a chunk of another photo drops the older one, and
  whatever was partial when the hub stopped is deleted at the next start. A chunk marked
  ``ask`` (the last of a station's pass) that leaves the photo incomplete is answered with
  the indexes still missing, so the station sends only those.
* :func:`list_photos` and :func:`find` serve ``doms hub photos`` and ``doms hub photo``.

The ``photos`` table is this module's own: its migrations are registered here (named
``hub_photos_*`` in the hub's ``_migrations``), applied by :func:`migrate`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from doms.db import Migrations, now_iso, run_script, transaction
from sync.messages import CHUNK_BYTES, MAX_PHOTO_BYTES, PhotoAck, PhotoChunk
from sync.photo_files import SHA256, file_sha256, photo_path

log = logging.getLogger(__name__)

MIGRATIONS = Migrations()


@MIGRATIONS.register
def hub_photos_m001(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Photos stations took, from their events (photo_taken, inbound_inspected) and
        -- from the files they uploaded. received_at NULL: named by an event, file not here
        -- yet. The file is photos/ab/<sha256>.jpg beside this database.
        CREATE TABLE photos (
            sha256 TEXT PRIMARY KEY,
            station TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            taken_at TEXT,
            operator TEXT,
            size INTEGER,              -- bytes, once received
            received_at TEXT
        );
        CREATE INDEX photos_subject ON photos(subject, taken_at);
        CREATE INDEX photos_missing ON photos(station) WHERE received_at IS NULL;
        """,
    )


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Create or update the ``photos`` table; return the migrations applied."""
    return MIGRATIONS.migrate(db)


class Refused(ValueError):
    """A chunk that cannot be part of any photo; ``str()`` is the reason to quarantine."""


# -- references from events -------------------------------------------------------------
def record_refs(db: sqlite_utils.Database, station: str, events: Iterable[Any]) -> int:
    """Rows for the photos that ``photo_taken`` / ``inbound_inspected`` events name;
    return how many events named one. Call inside the transaction that applies them.
    ``photo_taken`` fills in a row the file made first; a bad hash is logged and skipped
    (the event itself stays in the inbox)."""
    named = 0
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.type == "photo_taken":
            sha = data.get("sha256")
            if not _is_sha(sha, station, event):
                continue
            db.execute(
                "INSERT INTO photos (sha256, station, subject, taken_at, operator) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET "
                "subject = excluded.subject, taken_at = excluded.taken_at, "
                "operator = excluded.operator WHERE photos.operator IS NULL",
                [sha, station, str(data.get("subject") or ""), data.get("taken_at"),
                 data.get("operator")],
            )  # fmt: skip
            named += 1
        elif event.type == "inbound_inspected":
            photos = data.get("photos")
            for sha in photos if isinstance(photos, list) else []:
                if _is_sha(sha, station, event):
                    db.execute(
                        "INSERT OR IGNORE INTO photos (sha256, station, subject) VALUES (?, ?, ?)",
                        [sha, station, f"receipt/{data.get('ref', '')}"],
                    )
                    named += 1
    return named


def _is_sha(value: object, station: str, event: Any) -> bool:
    if isinstance(value, str) and SHA256.match(value):
        return True
    log.warning("%s event %d of %s names no photo hash: %r", event.type, event.seq, station, value)
    return False


# -- files from stations ----------------------------------------------------------------
@dataclass(slots=True)
class _Partial:
    sha256: str
    size: int
    count: int
    path: Path
    received: set[int] = field(default_factory=set)


class PhotoAssembler:
    """Assembles uploaded photos under ``root``; used by the hub's worker thread only."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.partial_dir = self.root / ".partial"
        self._partials: dict[str, _Partial] = {}  # by station
        self.stored = 0  # photos assembled, checked and kept since start
        self.refused = 0  # photos whose assembled file did not match their hash
        self.missing_reports = 0  # answers naming the chunks a station must send again
        # Partials of an earlier run: their chunk lists died with it.
        if self.partial_dir.is_dir():
            for stale in self.partial_dir.glob("*.part"):
                stale.unlink(missing_ok=True)

    def receive(
        self, db: sqlite_utils.Database, station: str, chunk: PhotoChunk
    ) -> PhotoAck | None:
        """Take one chunk; return the ack to publish once the photo is complete (stored, or
        refused because the file does not match its hash), the chunks still missing when
        the chunk is marked ``ask`` and does not complete it, else None.

        A chunk of a photo already here is answered ``stored`` at once (its ack was lost).
        Raises :class:`Refused` for a chunk that contradicts itself (bad hash, size, index
        or length), OSError or sqlite3.Error when the disk or database fails."""
        _check(chunk)
        sha = chunk.sha256
        if self._have(db, sha):
            return PhotoAck(station=station, sha256=sha, stored=True)
        part = self._partials.get(station)
        if part is None or (part.sha256, part.size) != (sha, chunk.size):
            self._drop(station)
            self.partial_dir.mkdir(parents=True, exist_ok=True)
            part = _Partial(
                sha, chunk.size, chunk.count, self.partial_dir / f"{station}.{sha}.part"
            )
            part.path.write_bytes(b"")
            self._partials[station] = part
        with open(part.path, "r+b") as f:
            f.seek(chunk.index * CHUNK_BYTES)
            f.write(chunk.data)
        part.received.add(chunk.index)
        if len(part.received) < part.count:
            if not chunk.ask:
                return None
            # The station's pass is over and chunks are missing (lost by the broker, or
            # with this hub's partial at a restart): it sends just those.
            missing = sorted(set(range(part.count)) - part.received)
            self.missing_reports += 1
            return PhotoAck(station=station, sha256=sha, stored=False, missing=missing)
        return self._complete(db, station, part, chunk)

    def _complete(
        self, db: sqlite_utils.Database, station: str, part: _Partial, chunk: PhotoChunk
    ) -> PhotoAck:
        del self._partials[station]
        with open(part.path, "r+b") as f:
            os.fsync(f.fileno())
        got = file_sha256(part.path)
        if got != part.sha256:
            part.path.unlink(missing_ok=True)
            self.refused += 1
            reason = f"the {part.count} chunks received make a file whose SHA-256 is {got}"
            return PhotoAck(station=station, sha256=part.sha256, stored=False, reason=reason)
        final = photo_path(self.root, part.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part.path, final)
        with transaction(db):
            db.execute(
                "INSERT INTO photos (sha256, station, subject, taken_at, size, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET "
                "size = excluded.size, received_at = excluded.received_at",
                [part.sha256, station, chunk.subject, chunk.taken_at or None, part.size,
                 now_iso()],
            )  # fmt: skip
        self.stored += 1
        return PhotoAck(station=station, sha256=part.sha256, stored=True)

    def _have(self, db: sqlite_utils.Database, sha: str) -> bool:
        row = db.execute("SELECT received_at FROM photos WHERE sha256 = ?", [sha]).fetchone()
        return bool(row and row[0]) and photo_path(self.root, sha).exists()

    def _drop(self, station: str) -> None:
        old = self._partials.pop(station, None)
        if old is not None:
            log.info("%s started another photo: dropped %s half received", station, old.sha256)
            old.path.unlink(missing_ok=True)


def _check(chunk: PhotoChunk) -> None:
    if not SHA256.match(chunk.sha256):
        raise Refused(f"photo hash {chunk.sha256!r} is not a lowercase hex SHA-256")
    if not 0 < chunk.size <= MAX_PHOTO_BYTES:
        raise Refused(f"photo size {chunk.size} outside 1..{MAX_PHOTO_BYTES}")
    if chunk.count != math.ceil(chunk.size / CHUNK_BYTES):
        raise Refused(f"{chunk.count} chunks cannot carry {chunk.size} bytes")
    if not 0 <= chunk.index < chunk.count:
        raise Refused(f"chunk {chunk.index} of {chunk.count}")
    want = min(CHUNK_BYTES, chunk.size - chunk.index * CHUNK_BYTES)
    if len(chunk.data) != want:
        raise Refused(f"chunk {chunk.index} has {len(chunk.data)} bytes, not {want}")


# -- reading ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HubPhoto:
    sha256: str
    station: str
    subject: str
    taken_at: str | None
    operator: str | None
    size: int | None
    received_at: str | None


def list_photos(
    db: sqlite_utils.Database, subject: str | None = None, missing: bool = False
) -> list[HubPhoto]:
    """Photos the hub knows of, oldest first: of ``subject`` only when given, and only
    those named by events whose file has not arrived when ``missing``."""
    where, params = [], []
    if subject is not None:
        where.append("subject = ?")
        params.append(subject)
    if missing:
        where.append("received_at IS NULL")
    sql = "SELECT sha256, station, subject, taken_at, operator, size, received_at FROM photos"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # Undated last: named only by an inspection, their photo_taken not here yet.
    sql += (
        " ORDER BY coalesce(taken_at, received_at) IS NULL, coalesce(taken_at, received_at), sha256"
    )
    return [HubPhoto(*row) for row in db.execute(sql, params).fetchall()]


def find(db: sqlite_utils.Database, prefix: str) -> HubPhoto:
    """The one photo whose hash starts with ``prefix`` (at least 6 hex digits, as the
    station's screen shows them). Raises LookupError when none or several match,
    ValueError for a prefix that is no hash."""
    prefix = prefix.strip().lower()
    if not (6 <= len(prefix) <= 64 and all(c in "0123456789abcdef" for c in prefix)):
        raise ValueError(f"{prefix!r} is not a photo hash (6 to 64 hex digits)")
    rows = db.execute(
        "SELECT sha256, station, subject, taken_at, operator, size, received_at FROM photos "
        "WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 2",
        [prefix, prefix + "g"],
    ).fetchall()
    if not rows:
        raise LookupError(f"no photo {prefix} at this hub")
    if len(rows) > 1:
        raise LookupError(f"{prefix} names several photos: give more of the hash")
    return HubPhoto(*rows[0])
