"""Taking normalised orders into the hub database, once each.

:func:`take_in` stores each :class:`IncomingOrder` as a hub order (``orders`` +
``order_lines``, id ``SHP-<id>``, ``AMZ-<id>``, ``TTS-<id>`` or ``CSV-<id>``) with the
channel's view beside it (``channel_orders``, ``channel_order_lines``). ``(channel,
channel_order_id)`` is unique: the same order again is reported as a duplicate and
changes nothing, however it arrives (file, folder, webhook retry).

A stored order is ``new`` (waiting for the routing engine: no site, station, carrier or
service yet; nothing reserved) or, when a line's product is not linked to a SKU,
``on_hold`` with a reason per line ("line 2: Shopify variant 4432 not linked to a SKU")
and no ``order_lines`` until :func:`release_held` finds every line linked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing.intake import skumap
from routing.intake.formats import parse_bytes
from routing.intake.model import (
    Change,
    IncomingOrder,
    IntakeError,
    Line,
    Skipped,
    iso,
    ship_to_map,
)


class Intake(msgspec.Struct, frozen=True):
    """What became of one channel order."""

    order_id: str
    channel: str
    channel_order_id: str
    status: Literal["new", "on_hold", "duplicate", "amended", "cancelled", "not_cancelled"]
    hold_reason: str | None = None


class Report(msgspec.Struct, frozen=True):
    """What one file or request brought: its channel, each order's fate, the skips."""

    channel: str
    orders: list[Intake]
    skipped: list[Skipped]

    def lines(self) -> list[str]:
        """One line per order for people: ``SHP-5678 #1043 new``."""
        out = []
        for r in self.orders:
            note = f": {r.hold_reason}" if r.hold_reason else ""
            out.append(f"{r.order_id} {r.status}{note}")
        out += [f"{s.channel} {s.channel_order_id} skipped: {s.reason}" for s in self.skipped]
        return out


def import_bytes(
    db: sqlite_utils.Database,
    raw: bytes,
    *,
    channel: str | None = None,
    name: str = "",
    source: str | None = None,
) -> Report:
    """Parse ``raw`` (channel detected unless given; ``name`` is the file name, which
    tells a CSV) and take its orders in, all or none; orders the channel cancelled are
    cancelled at the hub when it has them (:mod:`routing.intake.cancel`), and changes
    (a Shopify order edit, an Amazon ORDER_CHANGE) applied to them
    (:func:`routing.intake.amend.apply_change`). Raises IntakeError for input that
    cannot be read; nothing is stored then."""
    from routing.intake.amend import apply_change
    from routing.intake.cancel import cancel_from_channel

    found, parsed = parse_bytes(raw, channel=channel, name=name)
    orders = [p for p in parsed if isinstance(p, IncomingOrder)]
    skipped = [p for p in parsed if isinstance(p, Skipped)]
    changes = [p for p in parsed if isinstance(p, Change)]
    with transaction(db):
        results = take_in(db, orders, source=source or f"file:{name or '-'}")
        cancelled, skipped = cancel_from_channel(db, skipped)
        for change in changes:
            outcome = apply_change(db, change)
            if outcome is None:
                skipped.append(unknown_order(change))
            else:
                results.append(outcome)
    return Report(found, results + cancelled, skipped)


def unknown_order(change: Change) -> Skipped:
    """The skip for a change of an order the hub never took in."""
    return Skipped(
        change.channel, change.channel_order_id,
        f"{change.change_id}: the order is not at the hub, so the change is not applied "
        "(the order, when it comes, is taken in as the channel sends it then)",
    )  # fmt: skip


def take_in(
    db: sqlite_utils.Database, orders: Iterable[IncomingOrder], *, source: str
) -> list[Intake]:
    """Store ``orders`` in one transaction (all or none); return what became of each.
    ``source`` says where they came from ("file:orders.json"). Raises IntakeError when an
    order's hub id is already taken by an order from elsewhere."""
    with transaction(db):
        return [_take_one(db, order, source) for order in orders]


def _take_one(db: sqlite_utils.Database, order: IncomingOrder, source: str) -> Intake:
    key = (order.channel, order.channel_order_id)
    row = db.execute(
        "SELECT order_id FROM channel_orders WHERE channel = ? AND channel_order_id = ?", key
    ).fetchone()
    if row is not None:
        from routing.intake.amend import reconcile

        return reconcile(db, row[0], order)
    order_id = order.order_id
    if db.execute("SELECT 1 FROM orders WHERE order_id = ?", [order_id]).fetchone():
        raise IntakeError(f"order id {order_id} is taken by an order that came another way")
    skus = [skumap.resolve(db, order.channel, line) for line in order.lines]
    # A line at quantity 0 (every unit removed before we saw the order) keeps its number,
    # so line numbers stay positions in the channel's order, but has no row to ship.
    reasons = [
        skumap.unlinked_reason(order.channel, n, line)
        for n, (line, sku) in enumerate(zip(order.lines, skus, strict=True), 1)
        if sku is None and line.qty
    ]
    status = "on_hold" if reasons else "new"
    hold_reason = "; ".join(reasons) or None
    db["orders"].insert(
        {
            "order_id": order_id,
            "order_ref": order.order_ref,
            "channel": order.channel,
            "ship_by": iso(order.ship_by),
            "priority": order.priority,
            "status": status,
            "hold_reason": hold_reason,
            "ship_to": json.dumps(ship_to_map(order.ship_to), ensure_ascii=False),
            "carrier": "",  # the routing engine chooses carrier and service
            "service": "",
        }
    )
    db["channel_orders"].insert(
        {
            "channel": order.channel,
            "channel_order_id": order.channel_order_id,
            "order_id": order_id,
            "placed_at": iso(order.placed_at),
            "deliver_by": iso(order.deliver_by) if order.deliver_by else None,
            "unlinked": len(reasons),
            "source": source,
            "received_at": now_iso(),
            "incoming": msgspec.json.encode(order).decode(),
        }
    )
    for n, (line, sku) in enumerate(zip(order.lines, skus, strict=True), 1):
        if not line.qty:
            continue
        db["channel_order_lines"].insert(channel_line_row(order_id, n, line, sku))
    if not reasons:
        _write_lines(db, order_id)
    return Intake(order_id, *key, status, hold_reason)


def channel_line_row(order_id: str, line_no: int, line: Line, sku: str | None) -> dict:
    """The ``channel_order_lines`` row of a channel's line: what it said, and our SKU."""
    return {
        "order_id": order_id,
        "line_no": line_no,
        "channel_line_id": line.line_id,
        "keys": json.dumps([[k.type, k.value] for k in line.keys]),
        "sku": sku,
        "qty": line.qty,
        "unit_price": str(line.unit_price) if line.unit_price is not None else None,
        "title": line.title,
    }


def _write_lines(db: sqlite_utils.Database, order_id: str) -> None:
    db.execute(
        "INSERT INTO order_lines (order_id, line_no, sku, qty) "
        "SELECT order_id, line_no, sku, qty FROM channel_order_lines WHERE order_id = ? "
        "ORDER BY line_no",
        [order_id],
    )


def release_held(db: sqlite_utils.Database) -> list[str]:
    """Link again the lines of orders held for unlinked products; each order whose lines
    are now all linked becomes ``new`` (its reason updated otherwise). Returns the ids of
    the released orders. Call it after linking keys (``doms hub map-sku`` does)."""
    with transaction(db):
        held = db.execute(
            "SELECT c.order_id FROM channel_orders c JOIN orders o USING (order_id) "
            "WHERE c.unlinked > 0 AND o.status = 'on_hold' ORDER BY o.ship_by, c.order_id"
        ).fetchall()
        return [order_id for (order_id,) in held if relink(db, order_id)]


def relink(db: sqlite_utils.Database, order_id: str) -> bool:
    """Link again the lines of ``order_id``, held for unlinked products (call inside a
    transaction); when every line with units is linked, write its lines and make it
    ``new``, and return True."""
    channel, raw = db.execute(
        "SELECT channel, incoming FROM channel_orders WHERE order_id = ?", [order_id]
    ).fetchone()
    incoming = msgspec.json.decode(raw, type=IncomingOrder)
    reasons = []
    for n, line in enumerate(incoming.lines, 1):
        if not line.qty:
            continue  # removed by the channel: nothing to link
        sku = skumap.resolve(db, channel, line)
        db.execute(
            "UPDATE channel_order_lines SET sku = ? WHERE order_id = ? AND line_no = ?",
            [sku, order_id, n],
        )
        if sku is None:
            reasons.append(skumap.unlinked_reason(channel, n, line))
    db.execute(
        "UPDATE channel_orders SET unlinked = ? WHERE order_id = ?", [len(reasons), order_id]
    )
    if reasons:
        db.execute(
            "UPDATE orders SET hold_reason = ? WHERE order_id = ?", ["; ".join(reasons), order_id]
        )
        return False
    _write_lines(db, order_id)
    db.execute(
        "UPDATE orders SET status = 'new', hold_reason = NULL WHERE order_id = ?", [order_id]
    )
    return True


def incoming_order(db: sqlite_utils.Database, order_id: str) -> IncomingOrder | None:
    """The normalised channel order behind hub order ``order_id`` (None when it did not
    come through intake)."""
    row = db.execute(
        "SELECT incoming FROM channel_orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return msgspec.json.decode(row[0], type=IncomingOrder) if row else None
