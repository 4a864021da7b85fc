"""The content-addressed photo layout that station and hub share: ``photos/ab/<sha256>.jpg``
beside a database, written atomically, checked against its name.

The station's :class:`station.photos.PhotoStore` stores pictures here; the station's sync
client reads them to upload (``sync/station_photos.py``); the hub keeps what it received in
the same layout beside the hub database (``sync/hub_photos.py``). One module, so the three
can never disagree on where a picture lives.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def root_beside(db_path: str | Path) -> Path:
    """The photo folder of the database file at ``db_path``: ``photos/`` next to it."""
    return Path(db_path).resolve().parent / "photos"


def photo_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.jpg"


def thumb_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.thumb.jpg"


def file_sha256(path: Path) -> str:
    """The lowercase hex SHA-256 of the file at ``path``. Raises OSError."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the name never holds half a file. Raises OSError."""
    # Temp file + fsync + rename: a crash never leaves a half picture under the final name,
    # which would otherwise pass for stored because the name exists.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
