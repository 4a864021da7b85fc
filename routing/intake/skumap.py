"""The channel SKU map: which of our SKUs a channel's product key stands for.

A row of ``channel_skus`` links ``(channel, key_type, channel_key)`` to one SKU of the
catalogue: ``("shopify", "variant_id", "40213366587459") -> "TSH-ORG-M-BLK"``. Key types
per channel are in :data:`routing.intake.model.KEY_TYPES`. A line is linked through the
first of its keys found here, most specific first; the ``csv`` channel also takes our own
SKU as is (its column *is* the SKU). Nothing is guessed: a line with no linked key is
held, and linking it later releases the order (:func:`routing.intake.orders.release_held`).

The mapping CSV (``doms hub map-sku --csv FILE``) has a header row and the columns
``channel``, ``channel_key``, ``sku`` and optionally ``key_type`` (default: inferred as
:func:`infer_key_type` says).
"""

from __future__ import annotations

import csv
import io
import re

import sqlite_utils

from doms.db import now_iso, transaction
from routing.intake.model import CHANNELS, KEY_LABELS, KEY_TYPES, Line, ProductKey

_ASIN = re.compile(r"^(B0[0-9A-Z]{8}|\d{9}[\dX])$")  # an ASIN, or an ISBN-10 (books)


def infer_key_type(channel: str, key: str) -> str:
    """The key type a bare key most likely is: Shopify all digits -> ``variant_id``,
    else ``sku``; Amazon ``B0`` + 8 letters/digits (or an ISBN-10) -> ``asin``, else
    ``seller_sku``; TikTok 15+ digits -> ``sku_id``, else ``seller_sku``; csv -> ``sku``.
    Raises ValueError for an unknown channel."""
    if channel not in KEY_TYPES:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if channel == "shopify":
        return "variant_id" if key.isdigit() else "sku"
    if channel == "amazon":
        return "asin" if _ASIN.match(key) else "seller_sku"
    if channel == "tiktok":
        return "sku_id" if key.isdigit() and len(key) >= 15 else "seller_sku"
    return "sku"


def map_sku(
    db: sqlite_utils.Database, channel: str, key: str, sku: str, key_type: str | None = None
) -> bool:
    """Link ``key`` of ``channel`` to ``sku`` (re-linking it when it was linked to
    another SKU); return whether anything changed. Raises ValueError for an unknown
    channel or key type, an empty key, or a SKU not in the catalogue."""
    key = key.strip()
    key_type = key_type or infer_key_type(channel, key)
    if channel not in KEY_TYPES or key_type not in KEY_TYPES[channel]:
        raise ValueError(
            f"{channel} has no key type {key_type!r} (one of "
            f"{', '.join(KEY_TYPES.get(channel, ()))})"
        )
    if not key:
        raise ValueError("an empty channel key")
    with transaction(db):
        if db.execute("SELECT 1 FROM skus WHERE sku = ?", [sku]).fetchone() is None:
            raise ValueError(f"SKU {sku} is not in the catalogue")
        before = linked(db, channel, ProductKey(key_type, key))
        if before == sku:
            return False
        db.execute(
            "INSERT INTO channel_skus (channel, key_type, channel_key, sku, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, key_type, channel_key) "
            "DO UPDATE SET sku = excluded.sku, updated_at = excluded.updated_at",
            [channel, key_type, key, sku, now_iso()],
        )
        return True


def import_mapping_csv(db: sqlite_utils.Database, raw: bytes | str) -> int:
    """Link every row of a mapping CSV, all or nothing; return how many links changed.
    Raises ValueError naming the row (header = row 1)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(raw.lstrip("\ufeff"), newline=""))
    fields = {f.strip().casefold() for f in reader.fieldnames or ()}
    missing = {"channel", "channel_key", "sku"} - fields
    if missing:
        raise ValueError(f"row 1: no {', '.join(sorted(missing))} column")
    changed = 0
    with transaction(db):
        for row in reader:
            cells = {k.strip().casefold(): (v or "").strip() for k, v in row.items() if k}
            if not any(cells.values()):
                continue
            try:
                changed += map_sku(db, cells["channel"], cells["channel_key"], cells["sku"],
                                   cells.get("key_type") or None)  # fmt: skip
            except ValueError as exc:
                raise ValueError(f"row {reader.line_num}: {exc}") from None
    return changed


def linked(db: sqlite_utils.Database, channel: str, key: ProductKey) -> str | None:
    """The SKU ``key`` of ``channel`` is linked to, or None."""
    row = db.execute(
        "SELECT sku FROM channel_skus WHERE channel = ? AND key_type = ? AND channel_key = ?",
        [channel, key.type, key.value],
    ).fetchone()
    return row[0] if row else None


def resolve(db: sqlite_utils.Database, channel: str, line: Line) -> str | None:
    """The SKU ``line`` stands for (the first of its keys that is linked; for ``csv`` also
    a SKU of the catalogue as is), or None when none is."""
    for key in line.keys:
        sku = linked(db, channel, key)
        if sku is not None:
            return sku
    if channel == "csv":
        sku = line.key.value
        if db.execute("SELECT 1 FROM skus WHERE sku = ?", [sku]).fetchone():
            return sku
    return None


def unlinked_reason(channel: str, line_no: int, line: Line) -> str:
    """The hold reason for a line with no linked key:
    ``line 2: Shopify variant 4432 not linked to a SKU``."""
    label = KEY_LABELS[(channel, line.key.type)]
    if channel == "csv":
        return f"line {line_no}: SKU {line.key.value} is not in the catalogue nor linked"
    return f"line {line_no}: {label} {line.key.value} not linked to a SKU"


def channel_keys(db: sqlite_utils.Database, channel: str) -> list[tuple[str, str, str]]:
    """Every ``(sku, key_type, channel_key)`` linked for ``channel``, by SKU."""
    return [
        tuple(r)
        for r in db.execute(
            "SELECT sku, key_type, channel_key FROM channel_skus WHERE channel = ? "
            "ORDER BY sku, key_type, channel_key",
            [channel],
        ).fetchall()
    ]
