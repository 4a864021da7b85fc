"""Photos and inbound inspection notes: what they write to the station database and outbox.

A photo's JPEG is kept in the station's photo store (``station/photos.py``); the hub hears
of it through a ``photo_taken`` event naming it by SHA-256, written in the transaction of
its ``photos`` row, and the file follows in chunks once the outbox is empty
(``sync/station_photos.py``). An inspection note of inbound goods is one ``inbound_inspected`` event listing the
hashes of its photos (``sync/PROTOCOL.md``); noted on an open receipt
(``station/receiving.py``), its units also count as damaged on that receipt, in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from drivers.camera import Photo
from station.packing.errors import Refused
from station.photos import PhotoStore, StoredPhoto
from station.receiving import add_damage
from station.store.db import tx
from station.store.outbox import record_event

# Short on purpose: an inspector picks one by number at the bench.
INBOUND_REASONS = ("crushed", "wet", "torn_packaging", "broken", "missing_parts", "other")


def record_photo(
    db: sqlite_utils.Database,
    store: PhotoStore,
    station_id: str,
    photo: Photo,
    operator: str,
    subject: str,
) -> StoredPhoto:
    """Store ``photo`` and record ``photo_taken`` in the same transaction as its row.

    A picture stored before is not recorded again (``created=False``: it already has its
    event). Raises OSError when the files cannot be written, sqlite3.Error when the
    database fails; either way nothing is recorded.
    """

    def event(stored: StoredPhoto) -> None:
        record_event(
            db,
            station_id,
            "photo_taken",
            {
                "sha256": stored.sha256,
                "subject": stored.subject,
                "taken_at": stored.taken_at,
                "width": stored.width,
                "height": stored.height,
                "operator": stored.operator,
            },
        )

    return store.add(photo, operator=operator, subject=subject, then=event)


def record_inspection(
    db: sqlite_utils.Database,
    station_id: str,
    operator: str,
    ref: str,
    sku: str,
    qty_damaged: int,
    reason: str,
    photos: Sequence[str] = (),
    receipt_id: int | None = None,
) -> int:
    """Record one inspection note as an ``inbound_inspected`` event; return its seq. With
    ``receipt_id``, the units are marked damaged on that open receipt in the same
    transaction (its ``goods_received`` carries them to the hub's stock).

    Raises Refused for an empty reference, a quantity below 1, a reason not in
    INBOUND_REASONS, or more damaged units than the receipt counted undamaged.
    """
    if not ref.strip():
        raise Refused("Scan the receipt or PO first.", kind="inspect")
    if qty_damaged < 1:
        raise Refused(f"Quantity {qty_damaged} is not allowed.", kind="qty")
    if reason not in INBOUND_REASONS:
        raise Refused(f"Unknown reason {reason!r}.", kind="inspect")
    with tx(db):
        if receipt_id is not None:
            add_damage(db, receipt_id, sku, qty_damaged, operator)
        return record_event(
            db,
            station_id,
            "inbound_inspected",
            {
                "ref": ref,
                "sku": sku,
                "qty_damaged": qty_damaged,
                "reason": reason,
                "photos": list(photos),
                "operator": operator,
            },
        )


def subject_text(subject: str) -> str:
    """A photo subject in words: ``line/SO-1/2`` -> ``order SO-1 line 2``."""
    kind, _, rest = subject.partition("/")
    if kind == "line":
        order_id, _, line_no = rest.rpartition("/")
        return f"order {order_id} line {line_no}"
    return f"{kind} {rest}"
