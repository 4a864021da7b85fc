"""Shipment confirmations: what left for each channel order, with which tracking number.

A station reports ``order_packed`` with its packages (:mod:`routing.apply` writes one
``shipments`` row each); the sales channel must then be told, or the store cannot email the
buyer and Amazon counts the order as confirmed late. :func:`write_ship_confirm` writes a
channel's confirmations as a file in the channel's own format (``doms hub ship-confirm``,
beside ``doms hub stock-feed``), for an uploader to send:

* ``shopify``: JSON lines, one fulfillment per shipped part (see :func:`shopify_jsonl`);
* ``amazon``: the flat-file shipping confirmation (``POST_FLAT_FILE_FULFILLMENT_DATA``);
* ``tiktok``: JSON lines, one Mark Package As Shipped request per shipped part;
* ``csv``: ``order_id,line_no,sku,qty,package_no,carrier,service,tracking,shipped_at``.

The unit of a confirmation is a **shipped part**: a hub order (the channel order itself, or
a part split off it: ``<order>-2``, ``-R1``, ``-B1``, see :mod:`routing.parts`) with its
packages. Every part confirms against the *parent* channel order and its channel line ids;
a line confirms the units that left (ordered less short). Stations report units per order,
not per package, so a part's lines ride with its first package and its further packages add
their tracking numbers (where the format has room for them).

Exactly once per package and channel: ``ship_confirmations`` keeps each package written
(order, package, tracking), recorded only after its file is in place (temp file + rename).
A confirmed package whose shipment row is gone or carries another tracking number was
voided at the station (``label_voided``) after the channel was told: it is reported as a
:class:`Correction` for a person, once, never dropped in silence.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from doms.db import Migrations, now_iso, run_script, transaction
from routing.intake.model import CHANNELS

MIGRATIONS = Migrations()


@MIGRATIONS.register
def hub_shipconfirm_m001(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- One row per package written to a channel's confirmation file.
        CREATE TABLE ship_confirmations (
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,          -- the hub order (part) the package left under
            package_no INTEGER NOT NULL,
            tracking TEXT NOT NULL,          -- '' when the station reported none
            channel_order_id TEXT NOT NULL,
            lines TEXT,                      -- JSON [{line_no, qty, ids}] it carried; NULL: none
            shipped_at TEXT NOT NULL,
            confirmed_at TEXT NOT NULL,
            feed TEXT NOT NULL,              -- the file it was written to
            void_reported_at TEXT,           -- when its void was reported as a correction
            PRIMARY KEY (channel, order_id, package_no, tracking)
        );
        CREATE INDEX ship_confirmations_channel_order
            ON ship_confirmations(channel, channel_order_id);
        """,
    )


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Create or update this module's tables; return the migrations applied."""
    return MIGRATIONS.migrate(db)


# -- carriers ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Carrier:
    """How each channel names a carrier, and where a buyer tracks a parcel."""

    shopify: str  # Shopify's tracking company (its list is case-sensitive)
    amazon: str  # Amazon's carrier-code; "Other" needs a carrier-name
    url: str  # tracking page, "{}" for the number


CARRIERS = {
    "ups": Carrier("UPS", "UPS", "https://www.ups.com/track?tracknum={}"),
    "usps": Carrier("USPS", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "fedex": Carrier("FedEx", "FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl": Carrier(
        "DHL Express",
        "DHL",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    ),  # fmt: skip
    "dhl ecommerce": Carrier(
        "DHL eCommerce",
        "DHL eCommerce",
        "https://webtrack.dhlecs.com/orders?trackingNumber={}",
    ),  # fmt: skip
}


def carrier(name: str) -> Carrier:
    """The channels' names for our carrier ``name`` (any case); an unknown carrier keeps
    its own name and goes to Amazon as ``Other`` with that name, with no tracking URL."""
    known = CARRIERS.get(name.strip().lower())
    return known or Carrier(name, "Other", "")


def tracking_url(carrier_name: str, number: str) -> str:
    """The carrier's tracking page for ``number`` ('' when unknown or no number)."""
    url = carrier(carrier_name).url
    return url.format(number) if url and number else ""


# -- what is to be confirmed ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Package:
    package_no: int
    tracking: str  # '' when the station reported none
    shipped_at: str  # when the station packed it (ISO, UTC)
    ship_date: str  # yyyy-mm-dd at the shipping site


@dataclass(frozen=True, slots=True)
class ShippedLine:
    line_no: int
    sku: str
    qty: int
    channel_line_id: str
    ids: tuple[str, ...]  # TikTok: the ids of the units shipped; else (channel_line_id,)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One shipped part: its packages, and the lines that ride with the first of them
    (none when an earlier package of the part already confirmed them)."""

    channel: str
    channel_order_id: str
    order_ref: str
    order_id: str
    carrier: str
    service: str
    packages: tuple[Package, ...]
    lines: tuple[ShippedLine, ...]


@dataclass(frozen=True, slots=True)
class Correction:
    """A package the channel was told about whose label was voided afterwards."""

    channel_order_id: str
    order_id: str
    package_no: int
    tracking: str
    confirmed_at: str
    feed: str
    now: str  # what the hub holds now, in words

    def line(self) -> str:
        return (
            f"{self.channel_order_id} ({self.order_id}) package {self.package_no} tracking "
            f"{self.tracking or '-'} confirmed {self.confirmed_at} in {self.feed}: {self.now}"
        )


@dataclass(slots=True)
class Feed:
    channel: str
    confirmations: list[Confirmation] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)

    @property
    def packages(self) -> int:
        return sum(len(c.packages) for c in self.confirmations)


def check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")


def parse_since(text: str) -> dt.datetime:
    """An ISO date or time (naive: UTC). Raises ValueError with the text."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r} is not an ISO date or time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _utc(iso: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# Packed parts with a package not confirmed to ``?2`` yet (every packed part with ``?1``),
# with their root channel order: a part's parent chain is walked up to the order intake
# stored (order_parts), whose channel row names the order. The seed is a scan of packed
# orders with index lookups, so a run with nothing new reads no more than it must.
_PACKAGES = """
WITH RECURSIVE up(order_id, root) AS (
    SELECT o.order_id, o.order_id FROM orders o WHERE o.status = 'packed' AND EXISTS (
        SELECT 1 FROM shipments sh WHERE sh.order_id = o.order_id AND (?1 OR NOT EXISTS (
            SELECT 1 FROM ship_confirmations k WHERE k.channel = ?2
            AND k.order_id = sh.order_id AND k.package_no = sh.package_no
            AND k.tracking = coalesce(sh.tracking, ''))))
    UNION ALL
    SELECT up.order_id, p.parent_order_id FROM up JOIN order_parts p ON p.order_id = up.root
)
SELECT o.order_id, c.order_id, c.channel_order_id, o.order_ref, o.carrier, o.service,
       coalesce(s.utc_offset_h, 0), sh.package_no, coalesce(sh.tracking, ''), sh.packed_at
FROM up
JOIN channel_orders c ON c.order_id = up.root AND c.channel = ?2
JOIN orders o ON o.order_id = up.order_id
JOIN shipments sh ON sh.order_id = o.order_id
LEFT JOIN sites s ON s.site = o.site
ORDER BY c.channel_order_id, o.order_id, sh.package_no
"""


def build_feed(
    db: sqlite_utils.Database,
    channel: str,
    *,
    since: dt.datetime | None = None,
    include_confirmed: bool = False,
) -> Feed:
    """What ``channel`` has not been told yet: a :class:`Confirmation` per shipped part
    with a package not confirmed (packed at or after ``since``), and the corrections not
    reported yet. ``include_confirmed`` lists every shipped package and every correction
    again, as if nothing had been sent. Raises ValueError for an unknown channel."""
    check_channel(channel)
    migrate(db)
    feed = Feed(channel)
    with db.atomic():
        rows = db.execute(_PACKAGES, [include_confirmed, channel]).fetchall()
        feed.corrections = _corrections(db, channel, include_confirmed)
        orders = sorted({r[2] for r in rows})
        sent = {} if include_confirmed else _confirmed(db, channel, orders)
        todo: dict[str, list[tuple]] = defaultdict(list)  # per part, the packages to send
        for r in rows:
            if (r[0], r[7], r[8]) not in sent and (since is None or _utc(r[9]) >= since):
                todo[r[0]].append(r)
        lines = _lines(db, [(oid, new[0][1]) for oid, new in todo.items()])
    # Unit ids (TikTok) already confirmed per channel line, so a further part of the same
    # line is confirmed with other units; and the parts whose lines a package still
    # shipped has confirmed (a further package of theirs carries no lines).
    used: dict[tuple[str, int], set[str]] = defaultdict(set)
    carried: set[str] = set()
    for (order_id, _, _), (channel_order_id, carried_lines, valid) in sent.items():
        if valid and carried_lines is not None:
            carried.add(order_id)
            for line in carried_lines:
                used[(channel_order_id, line["line_no"])].update(line["ids"])
    for order_id, new in todo.items():
        _, _, channel_order_id, ref, carrier_name, service, offset = new[0][:7]
        shipped: list[ShippedLine] = []
        if order_id not in carried:
            for line_no, sku, qty, line_id in lines.get(order_id, []):
                ids = _unit_ids(channel, line_id, qty, used[(channel_order_id, line_no)])
                shipped.append(ShippedLine(line_no, sku, qty, line_id, ids))
        packages = tuple(Package(r[7], r[8], r[9], _local_date(r[9], offset)) for r in new)
        feed.confirmations.append(
            Confirmation(channel, channel_order_id, ref, order_id, carrier_name, service,
                         packages, tuple(shipped))
        )  # fmt: skip
    return feed


def _confirmed(
    db: sqlite_utils.Database, channel: str, channel_order_ids: list[str]
) -> dict[tuple[str, int, str], tuple[str, list[dict] | None, bool]]:
    """``{(part, package_no, tracking): (channel order, lines carried, still shipped)}``
    of what was confirmed for these channel orders."""
    rows = db.execute(
        "SELECT k.order_id, k.package_no, k.tracking, k.channel_order_id, k.lines, "
        "sh.order_id IS NOT NULL FROM ship_confirmations k LEFT JOIN shipments sh "
        "ON sh.order_id = k.order_id AND sh.package_no = k.package_no "
        "AND coalesce(sh.tracking, '') = k.tracking WHERE k.channel = ? "
        "AND k.channel_order_id IN (SELECT value FROM json_each(?))",
        [channel, json.dumps(channel_order_ids)],
    ).fetchall()
    return {
        (oid, no, tracking): (coid, json.loads(lines) if lines else None, bool(valid))
        for oid, no, tracking, coid, lines, valid in rows
    }


def _lines(
    db: sqlite_utils.Database, parts: list[tuple[str, str]]
) -> dict[str, list[tuple[int, str, int, str]]]:
    """``{part: [(line_no, sku, units shipped, channel line id)]}``: ordered less short,
    lines that shipped nothing left out; ids from the root order's channel lines."""
    rows = db.execute(
        "SELECT p.part, l.line_no, l.sku, l.qty - l.qty_short, c.channel_line_id FROM "
        "(SELECT json_extract(value, '$[0]') AS part, json_extract(value, '$[1]') AS root "
        " FROM json_each(?)) p "
        "JOIN order_lines l ON l.order_id = p.part "
        "JOIN channel_order_lines c ON c.order_id = p.root AND c.line_no = l.line_no "
        "WHERE l.qty > l.qty_short ORDER BY p.part, l.line_no",
        [json.dumps(parts)],
    ).fetchall()
    out: dict[str, list[tuple[int, str, int, str]]] = defaultdict(list)
    for order_id, line_no, sku, qty, line_id in rows:
        out[order_id].append((line_no, sku, qty, line_id))
    return out


def _unit_ids(channel: str, line_id: str, qty: int, used: set[str]) -> tuple[str, ...]:
    # A TikTok line is one id per unit (intake joined them with commas): a shipment names
    # the units it holds, never one already confirmed for another part.
    if channel != "tiktok":
        return (line_id,)
    free = [u for u in line_id.split(",") if u and u not in used]
    ids = tuple(free[:qty])
    used.update(ids)
    return ids


def _local_date(iso: str, utc_offset_h: float) -> str:
    return (_utc(iso) + dt.timedelta(hours=utc_offset_h or 0)).date().isoformat()


def _corrections(
    db: sqlite_utils.Database, channel: str, include_reported: bool
) -> list[Correction]:
    rows = db.execute(
        "SELECT k.channel_order_id, k.order_id, k.package_no, k.tracking, k.confirmed_at, "
        "k.feed, o.status, coalesce(sh.tracking, ''), sh.order_id IS NOT NULL "
        "FROM ship_confirmations k LEFT JOIN orders o ON o.order_id = k.order_id "
        "LEFT JOIN shipments sh ON sh.order_id = k.order_id AND sh.package_no = k.package_no "
        "WHERE k.channel = ? AND (? OR k.void_reported_at IS NULL) "
        "AND (sh.order_id IS NULL OR coalesce(sh.tracking, '') != k.tracking) "
        "ORDER BY k.channel_order_id, k.order_id, k.package_no, k.tracking",
        [channel, include_reported],
    ).fetchall()
    out = []
    for coid, oid, no, tracking, at, feed, status, now_tracking, shipped in rows:
        if shipped:
            now = f"label voided; package {no} now ships as {now_tracking or 'no tracking'}"
        else:
            now = f"label voided; package {no} not shipped, order {status or 'unknown'}"
        out.append(Correction(coid, oid, no, tracking, at, feed, now))
    return out


# -- the formats ---------------------------------------------------------------------------
AMAZON_COLUMNS = (
    "order-id", "order-item-id", "quantity", "ship-date", "carrier-code", "carrier-name",
    "tracking-number", "ship-method",
)  # fmt: skip
CSV_COLUMNS = (
    "order_id", "line_no", "sku", "qty", "package_no", "carrier", "service", "tracking",
    "shipped_at",
)  # fmt: skip
TIKTOK_PATH = "/fulfillment/202309/orders/{}/packages"


def _id(value: str) -> int | str:
    # Shopify's ids are integers in its JSON; keep them so.
    return int(value) if value.isdigit() else value


def _tracking(c: Confirmation) -> list[dict]:
    return [
        {"package_no": p.package_no, "number": p.tracking,
         "url": tracking_url(c.carrier, p.tracking)}
        for p in c.packages
    ]  # fmt: skip


def shopify_jsonl(confirmations: list[Confirmation]) -> str:
    """One JSON object a line per part. ``fulfillment`` is the body of Shopify's
    ``POST /fulfillments.json`` but for ``line_items_by_fulfillment_order``, which needs
    fulfillment order ids the hub never sees: ``line_items`` names the order's line items
    (``id``, ``quantity``) for the uploader to find in the order's fulfillment orders."""
    out = []
    for c in confirmations:
        first = c.packages[0]
        info = {"number": first.tracking, "company": carrier(c.carrier).shopify}
        if url := tracking_url(c.carrier, first.tracking):
            info["url"] = url
        out.append({
            "order_id": _id(c.channel_order_id), "name": c.order_ref, "hub_order_id": c.order_id,
            "line_items": [{"id": _id(ln.channel_line_id), "quantity": ln.qty} for ln in c.lines],
            "fulfillment": {"notify_customer": True, "tracking_info": info},
            "tracking": _tracking(c),
        })  # fmt: skip
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out)


def amazon_tsv(confirmations: list[Confirmation]) -> str:
    """The flat-file shipping confirmation: a header row, then one row per order item
    with the part's first package's tracking number (the format has one per row)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(AMAZON_COLUMNS)
    for c in confirmations:
        first, names = c.packages[0], carrier(c.carrier)
        other = c.carrier if names.amazon == "Other" else ""
        for ln in c.lines:
            writer.writerow((c.channel_order_id, ln.channel_line_id, ln.qty, first.ship_date,
                             names.amazon, other, first.tracking, c.service))  # fmt: skip
    return out.getvalue()


def tiktok_jsonl(confirmations: list[Confirmation]) -> str:
    """One JSON object a line per part with lines: ``body`` is the request of TikTok
    Shop's Mark Package As Shipped (``POST`` ``path``) but for ``shipping_provider_id``,
    TikTok's own id of the carrier, which the uploader looks up by ``shipping_provider``
    (Get Shipping Providers)."""
    out = []
    for c in confirmations:
        if not c.lines:
            continue  # a further carton only: the request has no room for it
        out.append({
            "order_id": c.channel_order_id, "hub_order_id": c.order_id,
            "path": TIKTOK_PATH.format(c.channel_order_id),
            "shipping_provider": carrier(c.carrier).shopify,
            "body": {"order_line_item_ids": [i for ln in c.lines for i in ln.ids],
                     "tracking_number": c.packages[0].tracking},
            "tracking": _tracking(c),
        })  # fmt: skip
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out)


def doms_csv(confirmations: list[Confirmation]) -> str:
    """The doms confirmation CSV: a row per line with the part's first package, then a
    row per further package with no line (line_no and sku empty, qty 0)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in confirmations:
        first = c.packages[0]
        for ln in c.lines:
            writer.writerow((c.channel_order_id, ln.channel_line_id, ln.sku, ln.qty,
                             first.package_no, c.carrier, c.service, first.tracking,
                             first.shipped_at))  # fmt: skip
        for p in c.packages[1 if c.lines else 0 :]:
            writer.writerow((c.channel_order_id, "", "", 0, p.package_no, c.carrier,
                             c.service, p.tracking, p.shipped_at))  # fmt: skip
    return out.getvalue()


RENDER = {"shopify": shopify_jsonl, "amazon": amazon_tsv, "tiktok": tiktok_jsonl, "csv": doms_csv}


def render(feed: Feed) -> str:
    """The feed's confirmations in its channel's format."""
    return RENDER[feed.channel](feed.confirmations)


# -- writing and recording -----------------------------------------------------------------
def write_ship_confirm(
    db: sqlite_utils.Database,
    channel: str,
    out: str | Path,
    *,
    since: dt.datetime | None = None,
    include_confirmed: bool = False,
    mark: bool = True,
) -> Feed:
    """Write ``channel``'s confirmations to ``out`` atomically (temporary file renamed
    over it) and, with ``mark``, then record each package and each correction reported,
    in one transaction; return the :class:`Feed`. Nothing to confirm writes no file.

    With ``mark``, an ``out`` that exists is refused (FileExistsError): it is the last
    feed, not yet taken by the uploader, and writing over it would lose confirmations
    already recorded as sent. Raises ValueError for an unknown channel, OSError when
    the file cannot be written (nothing is recorded then)."""
    feed = build_feed(db, channel, since=since, include_confirmed=include_confirmed)
    out = Path(out)
    if feed.confirmations:
        if mark and out.exists():
            raise FileExistsError(
                f"{out} is still there: the last feed has not been taken by the uploader"
            )
        _write_atomic(out, render(feed))
    if mark:
        record(db, feed, out.name)
    return feed


def _write_atomic(out: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the rows are recorded as sent next: the file must last
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record(db: sqlite_utils.Database, feed: Feed, name: str) -> None:
    """Record ``feed``'s packages as confirmed (the first of a part with the lines it
    carried) and its corrections as reported. Recording twice changes nothing."""
    at = now_iso()
    with transaction(db):
        for c in feed.confirmations:
            carried = [{"line_no": ln.line_no, "qty": ln.qty, "ids": list(ln.ids)}
                       for ln in c.lines]  # fmt: skip
            for i, p in enumerate(c.packages):
                db.execute(
                    "INSERT OR IGNORE INTO ship_confirmations (channel, order_id, package_no, "
                    "tracking, channel_order_id, lines, shipped_at, confirmed_at, feed) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [feed.channel, c.order_id, p.package_no, p.tracking, c.channel_order_id,
                     json.dumps(carried) if i == 0 and carried else None, p.shipped_at, at,
                     name],
                )  # fmt: skip
        for k in feed.corrections:
            db.execute(
                "UPDATE ship_confirmations SET void_reported_at = ? WHERE channel = ? AND "
                "order_id = ? AND package_no = ? AND tracking = ? AND void_reported_at IS NULL",
                [at, feed.channel, k.order_id, k.package_no, k.tracking],
            )
