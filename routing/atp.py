"""Available to promise: what can still be sold, per SKU per site, in total, per channel.

From the ledger (:func:`routing.store.stock`): a site's ATP of a SKU is its on-hand stock
less what is reserved for orders routed there, never below 0 (a site short of stock owes
nothing to the others). The total is the sum over sites less the demand not routed yet:
``new`` orders and orders held at the hub, which will take stock somewhere but reserve
none until they are routed; without that, every store would go on selling the same units
between intake and routing.

A channel sees the total less its safety stock (``safety_stock``: units of a SKU, or of
every SKU with ``'*'``, held back from that channel; a SKU's own row wins over ``'*'``),
never below 0. :func:`stock_feed` lists it per channel product key, so each store can be
told the same availability (``doms hub stock-feed CHANNEL --out FILE``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from doms.db import transaction
from routing.intake.model import CHANNELS
from routing.intake.skumap import channel_keys

FEED_COLUMNS = ("sku", "key_type", "channel_product_key", "quantity")


@dataclass(frozen=True, slots=True)
class Atp:
    """A SKU's availability: per site, the unrouted demand, and the total."""

    sku: str
    by_site: dict[str, int] = field(default_factory=dict)
    unrouted: int = 0

    @property
    def total(self) -> int:
        return max(0, sum(self.by_site.values()) - self.unrouted)


def site_atp(db: sqlite_utils.Database) -> dict[tuple[str, str], int]:
    """``{(site, sku): units}``: on hand less reservations, floored at 0, for every
    site and SKU with a movement."""
    rows = db.execute("SELECT site, sku, sum(qty) FROM ledger GROUP BY site, sku").fetchall()
    return {(site, sku): max(0, int(available)) for site, sku, available in rows}


def available_at_sites(
    db: sqlite_utils.Database, skus: Iterable[str], sites: Iterable[str]
) -> dict[str, int]:
    """``{sku: units}``: the most available to promise of each of ``skus`` at any one of
    ``sites`` (SKUs with none left out). Read from ``stock_totals``, not the ledger: the
    routing loop asks on every run."""
    rows = db.execute(
        "SELECT sku, max(available) FROM stock_totals WHERE available > 0 "
        "AND sku IN (SELECT value FROM json_each(?)) "
        "AND site IN (SELECT value FROM json_each(?)) GROUP BY sku",
        [json.dumps(sorted(set(skus))), json.dumps(sorted(set(sites)))],
    ).fetchall()
    return {sku: int(units) for sku, units in rows}


def unrouted_demand(db: sqlite_utils.Database) -> dict[str, int]:
    """``{sku: units}`` of orders at the hub not yet routed (``new``, or held with their
    lines known), which reserve nothing yet."""
    rows = db.execute(
        "SELECT l.sku, sum(l.qty - l.qty_short) FROM order_lines l JOIN orders o "
        "USING (order_id) WHERE o.station IS NULL AND o.status IN ('new', 'on_hold') "
        "GROUP BY l.sku"
    ).fetchall()
    return {sku: int(units) for sku, units in rows}


def atp_all(db: sqlite_utils.Database) -> dict[str, Atp]:
    """:class:`Atp` of every SKU of the catalogue (and any SKU the ledger knows), read
    in one transaction."""
    with db.atomic():
        by_sku: dict[str, dict[str, int]] = {
            sku: {} for (sku,) in db.execute("SELECT sku FROM skus").fetchall()
        }
        for (site, sku), units in site_atp(db).items():
            by_sku.setdefault(sku, {})[site] = units
        demand = unrouted_demand(db)
    for sku in demand:
        by_sku.setdefault(sku, {})
    return {sku: Atp(sku, sites, demand.get(sku, 0)) for sku, sites in sorted(by_sku.items())}


def atp(db: sqlite_utils.Database, sku: str) -> Atp:
    """:class:`Atp` of one SKU (all zero for an unknown one)."""
    with db.atomic():
        rows = db.execute(
            "SELECT site, sum(qty) FROM ledger WHERE sku = ? GROUP BY site ORDER BY site", [sku]
        ).fetchall()
        demand = unrouted_demand(db).get(sku, 0)
    return Atp(sku, {site: max(0, int(units)) for site, units in rows}, demand)


# -- safety stock ----------------------------------------------------------------------
def set_safety_stock(db: sqlite_utils.Database, channel: str, sku: str, units: int) -> None:
    """Hold ``units`` of ``sku`` (``'*'``: of every SKU without its own row) back from
    ``channel``; 0 removes the row. Raises ValueError for an unknown channel, a negative
    or non-integer count, or a SKU not in the catalogue."""
    _check_channel(channel)
    if not isinstance(units, int) or isinstance(units, bool) or units < 0:
        raise ValueError(f"safety stock is a whole number >= 0, not {units!r}")
    with transaction(db):
        if sku != "*" and not db.execute("SELECT 1 FROM skus WHERE sku = ?", [sku]).fetchone():
            raise ValueError(f"SKU {sku} is not in the catalogue")
        if units == 0:
            db.execute("DELETE FROM safety_stock WHERE channel = ? AND sku = ?", [channel, sku])
        else:
            db.execute(
                "INSERT INTO safety_stock (channel, sku, units) VALUES (?, ?, ?) "
                "ON CONFLICT (channel, sku) DO UPDATE SET units = excluded.units",
                [channel, sku, units],
            )


def safety_stock(db: sqlite_utils.Database, channel: str) -> tuple[dict[str, int], int]:
    """``({sku: units}, units for every other SKU)`` held back from ``channel``."""
    rows = dict(
        db.execute("SELECT sku, units FROM safety_stock WHERE channel = ?", [channel]).fetchall()
    )
    default = rows.pop("*", 0)
    return rows, default


def channel_atp(
    db: sqlite_utils.Database, channel: str, totals: dict[str, Atp] | None = None
) -> dict[str, int]:
    """``{sku: units}`` ``channel`` may sell: total ATP less its safety stock, >= 0.
    ``totals``: :func:`atp_all` already read (a caller showing several channels)."""
    _check_channel(channel)
    with db.atomic():
        totals = atp_all(db) if totals is None else totals
        own, default = safety_stock(db, channel)
    return {sku: max(0, a.total - own.get(sku, default)) for sku, a in totals.items()}


# -- the stock feed --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeedRow:
    sku: str
    key_type: str
    channel_product_key: str
    quantity: int


def stock_feed(db: sqlite_utils.Database, channel: str) -> list[FeedRow]:
    """One row per product key linked for ``channel`` (a SKU linked by two keys, e.g.
    variant id and SKU, has two rows with the same quantity); for ``csv``, whose key is
    our SKU, one row per catalogue SKU. Raises ValueError for an unknown channel."""
    available = channel_atp(db, channel)
    keys = channel_keys(db, channel)
    if channel == "csv":
        linked = {(sku, key) for sku, _, key in keys}
        keys += [(sku, "sku", sku) for sku in available if (sku, sku) not in linked]
    return [
        FeedRow(sku, key_type, key, available.get(sku, 0)) for sku, key_type, key in sorted(keys)
    ]


def feed_csv(rows: list[FeedRow]) -> str:
    """The feed as CSV text with a header row: ``sku,key_type,channel_product_key,quantity``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FEED_COLUMNS)
    writer.writerows((r.sku, r.key_type, r.channel_product_key, r.quantity) for r in rows)
    return out.getvalue()


def write_stock_feed(db: sqlite_utils.Database, channel: str, out: str | Path) -> int:
    """Write ``channel``'s feed to ``out`` atomically (a temporary file renamed over it,
    so an uploader never reads half a feed); return the number of rows. Raises
    ValueError for an unknown channel, OSError when the file cannot be written."""
    rows = stock_feed(db, channel)
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(feed_csv(rows))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
