"""Inspectors' photos: content-addressed files beside the station database, one row each.

    store = PhotoStore.beside(db, config.database)       # var/photos/
    stored = store.add(camera.capture(), operator="B042", subject="receipt/RCV-1001")

A photo is stored as ``photos/ab/abcdef....jpg`` (its SHA-256) with a 160 px wide
thumbnail ``photos/ab/abcdef....thumb.jpg``; the ``photos`` table says who took it, when,
and of what. The same picture added twice is stored once. Files are written (and synced)
before the row, so a row never points at a missing file; a crash in between leaves at most
a file without a row, which the next add of that picture adopts.

The station's sync client uploads every photo to the hub once the event outbox is empty
and sets ``uploaded_at`` when the hub has acknowledged the whole, checked file
(``sync/station_photos.py``, PROTOCOL.md "Photo files"). The layout of the folder is
``sync.photo_files``, which the hub shares.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from doms.db import now_iso, transaction
from drivers.camera import Photo
from sync.photo_files import photo_path, root_beside, thumb_path, write_atomic

THUMB_WIDTH = 160


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    sha256: str
    taken_at: str
    operator: str
    subject: str
    note: str
    width: int
    height: int
    size: int
    path: Path
    thumb_path: Path
    created: bool = False  # False when the picture was already stored


class PhotoStore:
    def __init__(self, db: sqlite_utils.Database, root: str | Path) -> None:
        self.db = db
        self.root = Path(root)

    @classmethod
    def beside(cls, db: sqlite_utils.Database, db_path: str | Path) -> PhotoStore:
        """The store in ``photos/`` next to the database file at ``db_path``."""
        return cls(db, root_beside(db_path))

    def path(self, sha256: str) -> Path:
        return photo_path(self.root, sha256)

    def thumb_path(self, sha256: str) -> Path:
        return thumb_path(self.root, sha256)

    def add(
        self,
        photo: Photo,
        operator: str,
        subject: str,
        note: str = "",
        then: Callable[[StoredPhoto], object] | None = None,
    ) -> StoredPhoto:
        """Store ``photo`` (once) and record it; return the stored photo.

        A picture already stored keeps its first row (who, when, subject): the returned
        record has ``created=False``. ``then`` runs inside the row's transaction when the
        row is new, so what it writes (an outbox event) commits with the row or not at all.
        Raises OSError if the files cannot be written.
        """
        sha = hashlib.sha256(photo.jpeg).hexdigest()
        path, thumb = self.path(sha), self.thumb_path(sha)
        if not path.exists():
            write_atomic(path, photo.jpeg)
        if not thumb.exists():
            write_atomic(thumb, thumbnail(photo.jpeg))
        taken_at = photo.taken_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with transaction(self.db):
            cur = self.db.execute(
                "INSERT OR IGNORE INTO photos (sha256, taken_at, operator, subject, note, "
                "width, height, size, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sha,
                    taken_at,
                    operator,
                    subject,
                    note,
                    photo.width,
                    photo.height,
                    len(photo.jpeg),
                    now_iso(),
                ],
            )
            created = cur.rowcount == 1
            stored = self.get(sha)
            assert stored is not None
            stored = dataclasses.replace(stored, created=created)
            if created and then is not None:
                then(stored)
        return stored

    def get(self, sha256: str) -> StoredPhoto | None:
        rows = list(self.db.query("SELECT * FROM photos WHERE sha256 = ?", [sha256]))
        return self._record(rows[0]) if rows else None

    def for_subject(self, subject: str) -> list[StoredPhoto]:
        """Photos of ``subject``, oldest first."""
        rows = self.db.query(
            "SELECT * FROM photos WHERE subject = ? ORDER BY taken_at, sha256", [subject]
        )
        return [self._record(r) for r in rows]

    def _record(self, row: dict) -> StoredPhoto:
        sha = row["sha256"]
        return StoredPhoto(
            sha256=sha,
            taken_at=row["taken_at"],
            operator=row["operator"],
            subject=row["subject"],
            note=row["note"],
            width=row["width"],
            height=row["height"],
            size=row["size"],
            path=self.path(sha),
            thumb_path=self.thumb_path(sha),
        )


def thumbnail(jpeg: bytes, width: int = THUMB_WIDTH) -> bytes:
    """A JPEG ``width`` px wide (never enlarged), keeping the aspect ratio."""
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as img:
        img = img.convert("RGB")
        if img.width > width:
            height = max(1, round(img.height * width / img.width))
            img = img.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=85)
    return out.getvalue()
