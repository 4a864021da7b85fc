"""The routing queue: the hub takes ``new`` orders from here and hands back its plan.

:func:`new_orders` lists orders waiting to be routed; :func:`mark_routed` assigns one to
the station(s) of the plan (reserving its stock and streaming ``order_assigned``, as
:func:`routing.feed.assign_order` does for an order created at once); :func:`hold_order`
parks one the plan cannot fill (back order) and :func:`requeue_order` puts it back.
An order is at no station and reserves nothing until it is routed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed
from routing.store import station_key


class Part(msgspec.Struct, frozen=True, kw_only=True):
    """One shipment of a plan: the station that packs it, how it ships, and which units
    (``{line_no: qty}``; None = every line in full, for a plan of one part)."""

    site: str
    station: str
    carrier: str
    service: str
    lines: dict[int, int] | None = None


def new_orders(db: sqlite_utils.Database, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Orders waiting to be routed, earliest ship-by first (then higher priority): each
    the ``order_assigned`` shape of :func:`routing.feed.order_payload` (``ship_to`` a map,
    ``lines: [{line_no, sku, qty, ...}]``) plus ``placed_at`` and ``deliver_by`` (None
    for an order that did not come through intake or has no promise)."""
    rows = db.execute(
        "SELECT o.order_id, c.placed_at, c.deliver_by FROM orders o "
        "LEFT JOIN channel_orders c USING (order_id) "
        "WHERE o.status = 'new' AND o.station IS NULL "
        "ORDER BY o.ship_by, o.priority DESC, o.order_id LIMIT ?",
        [-1 if limit is None else limit],
    ).fetchall()
    return [
        feed.order_payload(db, order_id) | {"placed_at": placed_at, "deliver_by": deliver_by}
        for order_id, placed_at, deliver_by in rows
    ]


def mark_routed(
    db: sqlite_utils.Database,
    order_id: str,
    parts: Sequence[Part],
    *,
    moved: dict[str, set[str]] | None = None,
) -> list[str]:
    """Assign the ``new`` order ``order_id`` as planned, in one transaction; return the
    ids of the orders now at stations. ``moved``: ``{site: SKUs}`` to add the SKUs whose
    stock moved to, for the caller to publish their levels once for many orders
    (:func:`routing.feed.publish_stock`); None publishes them now.

    The first part keeps ``order_id``; each further part becomes order
    ``<order_id>-2``, ``-3`` ... (same reference, address and ship-by; its parent in
    ``order_parts``), so a station always packs one order per shipment. Each part's
    stock is reserved at its site and ``order_assigned`` goes on its station's stream.
    Raises ValueError when the order is not ``new``, a part names an unknown line, or
    the parts do not add up to every unit of every line."""
    if not parts:
        raise ValueError("a plan needs at least one part")
    with transaction(db):
        row = db.execute(
            "SELECT status, station FROM orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is None:
            raise ValueError(f"no order {order_id}")
        if row[0] != "new" or row[1] is not None:
            raise ValueError(f"order {order_id} is {row[0]}, not new")
        order = feed.order_payload(db, order_id)
        lines = {line["line_no"]: line for line in order["lines"]}
        split = [_units(order_id, lines, part) for part in parts]
        for line_no, line in lines.items():
            planned = sum(units.get(line_no, 0) for units in split)
            if planned != line["qty"]:
                raise ValueError(
                    f"order {order_id} line {line_no}: the plan ships {planned} of {line['qty']}"
                )
        at = now_iso()

        def moved_at(site: str) -> set[str] | None:
            return None if moved is None else moved.setdefault(site, set())

        first = _assign_in_place(
            db, order_id, lines, parts[0], split[0], at, moved_at(parts[0].site)
        )
        placed = [first]
        for n, (part, units) in enumerate(zip(parts[1:], split[1:], strict=True), 2):
            part_id = f"{order_id}-{n}"
            data = {k: order[k] for k in feed.ORDER_COLUMNS if k in order}
            data |= {
                "order_id": part_id, "carrier": part.carrier, "service": part.service,
                "assigned_at": at,
                "lines": [{"line_no": no, "sku": lines[no]["sku"], "qty": q}
                          for no, q in sorted(units.items())],
            }  # fmt: skip
            feed.assign_order(db, part.site, part.station, data, moved=moved_at(part.site))
            db.execute(
                "INSERT INTO order_parts (order_id, parent_order_id) VALUES (?, ?)",
                [part_id, order_id],
            )
            placed.append(part_id)
        return placed


def assign_whole(
    db: sqlite_utils.Database,
    orders: Sequence[tuple[dict[str, Any], Part]],
    *,
    moved: dict[str, set[str]] | None = None,
) -> list[str]:
    """The bulk form of :func:`mark_routed` for plans of one part that ships the whole
    order: each ``(order, part)`` with ``order`` as :func:`new_orders` returned it inside
    the caller's transaction (so still ``new``, its lines as read). The effects are
    mark_routed's (status ``assigned``, reservation movements ``assign:<id>/<line>``,
    ``order_assigned`` on the station's stream), written with one statement per kind for
    all the orders, which is what lets the hub route thousands of orders a second.
    Returns the order ids. Raises ValueError when a part does not ship every unit of
    its order, or an order is no longer ``new``; nothing is written then."""
    at = now_iso()
    updates, movements, streams = [], [], {}
    for order, part in orders:
        oid = order["order_id"]
        lines = {line["line_no"]: line for line in order["lines"]}
        if _units(oid, lines, part) != {n: line["qty"] for n, line in lines.items()}:
            raise ValueError(f"order {oid}: the plan does not ship every unit in one part")
        updates.append((part.site, part.station, part.carrier, part.service, at, oid))
        for line in order["lines"]:
            qty = line["qty"] - line["qty_short"]
            ref = f"assign:{oid}/{line['line_no']}"
            movements.append((part.site, line["sku"], -qty, ref, oid, line["line_no"], at))
            if moved is not None:
                moved.setdefault(part.site, set()).add(line["sku"])
        data = {k: order[k] for k in (*feed.ORDER_COLUMNS, "lines") if k in order}
        data |= {"carrier": part.carrier, "service": part.service, "assigned_at": at,
                 "status": "assigned", "hold_reason": None}  # fmt: skip
        streams.setdefault(part.station, (part.site, []))[1].append(data)
    try:
        with transaction(db):
            for station, (site, _) in streams.items():
                feed.ensure_station(db, site, station)
            cur = db.conn.executemany(
                "UPDATE orders SET site = ?, station = ?, carrier = ?, service = ?, "
                "status = 'assigned', hold_reason = NULL, assigned_at = ? "
                "WHERE order_id = ? AND status = 'new' AND station IS NULL",
                updates,
            )
            if cur.rowcount != len(updates):
                raise ValueError("an order of the batch is no longer new")
            db.conn.executemany(
                "INSERT INTO ledger (site, sku, qty, kind, ref, order_id, line_no, at) "
                "VALUES (?, ?, ?, 'reservation', ?, ?, ?, ?)",
                [m for m in movements if m[2]],
            )
            for station, (_, items) in streams.items():
                feed.append_many(db, station_key(station), "order_assigned", items)
            if moved is None:
                skus: dict[str, set[str]] = {}
                for site, sku, *_ in movements:
                    skus.setdefault(site, set()).add(sku)
                for site, these in skus.items():
                    feed.publish_stock(db, site, these)
    except sqlite3.IntegrityError as exc:  # a reservation already recorded
        raise ValueError(f"assigning the batch: {exc}") from None
    return [u[-1] for u in updates]


def _units(order_id: str, lines: dict[int, dict], part: Part) -> dict[int, int]:
    if part.lines is None:
        return {no: line["qty"] for no, line in lines.items()}
    for no, qty in part.lines.items():
        if no not in lines:
            raise ValueError(f"order {order_id} has no line {no}")
        if not isinstance(qty, int) or qty < 0:
            raise ValueError(f"order {order_id} line {no}: {qty!r} units")
    return {no: qty for no, qty in part.lines.items() if qty}


def _assign_in_place(db, order_id: str, lines, part: Part, units: dict[int, int], at, moved) -> str:
    if not units:
        raise ValueError(f"order {order_id}: the first part of the plan ships nothing")
    feed.ensure_station(db, part.site, part.station)
    for line_no, line in lines.items():
        qty = line["qty"]
        if line_no not in units:
            db.execute(
                "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?", [order_id, line_no]
            )
        elif units[line_no] != qty:
            db.execute(
                "UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ?",
                [units[line_no], order_id, line_no],
            )
    db.execute(
        "UPDATE orders SET site = ?, station = ?, carrier = ?, service = ?, "
        "status = 'assigned', hold_reason = NULL, assigned_at = ? WHERE order_id = ?",
        [part.site, part.station, part.carrier, part.service, at, order_id],
    )
    feed.settle_order(db, order_id, f"assign:{order_id}", at, moved=moved)
    feed.append_change(
        db, station_key(part.station), "order_assigned", feed.order_payload(db, order_id)
    )
    return order_id


def hold_order(db: sqlite_utils.Database, order_id: str, reason: str) -> None:
    """Park a ``new`` order (e.g. no site can fill it: a back order) with ``reason``.
    Raises ValueError when it is not ``new`` or the reason is empty."""
    if not reason.strip():
        raise ValueError("a hold needs a reason")
    _move(db, order_id, "new", "on_hold", reason)


def requeue_order(db: sqlite_utils.Database, order_id: str) -> None:
    """Put an order parked by :func:`hold_order` back in the queue. Raises ValueError
    when it is not on hold at the hub, or is held for unlinked products (link them:
    :func:`routing.intake.orders.release_held` releases it)."""
    with transaction(db):
        row = db.execute(
            "SELECT unlinked FROM channel_orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is not None and row[0]:
            raise ValueError(f"order {order_id} has lines not linked to a SKU")
        _move(db, order_id, "on_hold", "new", None)


def _move(db, order_id: str, before: str, after: str, reason: str | None) -> None:
    with transaction(db):
        cur = db.execute(
            "UPDATE orders SET status = ?, hold_reason = ? "
            "WHERE order_id = ? AND status = ? AND station IS NULL",
            [after, reason, order_id, before],
        )
        if cur.rowcount != 1:
            raise ValueError(f"order {order_id} is not {before} at the hub")
