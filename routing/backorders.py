"""Back-orders go back in the routing queue when stock for them has come in.

A back-order is an order held at the hub because no site had the stock: a part split off
by a plan that shipped the rest (``order_parts.kind = 'backorder'``, ``<order>-B1``), or a
whole order whose plan shipped nothing (its last routing decision is ``held`` with units
``unfilled``). Orders held for anything else stay held: a product not linked to a SKU
(released by linking it), an address that cannot be placed or an engine failure
(``cannot route: ...``, ``routing failed: ...``: their decisions have no plan), a hold
someone made by hand.

:func:`requeue_backorders` puts one back (``new``) when every line's SKU is available to
promise at some site routing can use, and some of its stock has come in since it was held
(a receipt, a return, a cancellation that released a reservation: any movement that adds
to availability). The second condition keeps a back-order that the engine cannot ship for
another reason (the only stock is at a site with no carrier service to the address, or
one at its daily capacity) from going round the queue on every run: it waits for the next
arrival, or for ``doms hub requeue ORDER``.
"""

from __future__ import annotations

import json

import sqlite_utils

from doms.db import transaction
from routing.atp import available_at_sites
from routing.explain import left_units_only
from routing.intake.queue import requeue_order
from routing.sites import engine_sites


def held_for_stock(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """``[(order_id, held_since)]`` of the back-orders held at the hub, earliest ship-by
    first; ``held_since`` is the time of the routing decision that held it ('' when none
    was recorded)."""
    rows = db.execute(
        "SELECT o.order_id, "
        "  (SELECT max(d.at) FROM routing_decisions d "
        "   WHERE d.order_id = o.order_id AND d.outcome = 'held'), "
        "  (SELECT d.plan FROM routing_decisions d WHERE d.order_id = o.order_id "
        "   ORDER BY d.decision_id DESC LIMIT 1), "
        "  EXISTS (SELECT 1 FROM order_parts p WHERE p.order_id = o.order_id "
        "          AND p.kind = 'backorder') "
        "FROM orders o LEFT JOIN channel_orders c USING (order_id) "
        "WHERE o.status = 'on_hold' AND o.station IS NULL AND coalesce(c.unlinked, 0) = 0 "
        "ORDER BY o.ship_by, o.priority DESC, o.order_id"
    ).fetchall()
    out = []
    for order_id, held_at, plan, is_backorder in rows:
        if is_backorder or left_units_only(plan):
            out.append((order_id, held_at or ""))
    return out


def requeue_backorders(db: sqlite_utils.Database) -> list[str]:
    """Put back in the routing queue every back-order (see the module docstring) whose
    lines all have stock available to promise at some routable site and for which stock
    has come in since it was held; return their ids, earliest ship-by first. Cheap when
    nothing is held: the routing loop may call it on every run."""
    if not db.execute(
        "SELECT 1 FROM orders WHERE status = 'on_hold' AND station IS NULL LIMIT 1"
    ).fetchone():
        return []
    sites = [s.id for s in engine_sites(db)]
    if not sites:
        return []
    requeued: list[str] = []
    with transaction(db):
        held = held_for_stock(db)
        if not held:
            return []
        lines = _open_lines(db, [oid for oid, _ in held])
        skus = {sku for these in lines.values() for sku in these}
        atp = available_at_sites(db, skus, sites)
        for order_id, held_at in held:
            these = lines.get(order_id)
            if not these or not all(atp.get(sku) for sku in these):
                continue
            if not _stock_came_in(db, sites, these, held_at):
                continue
            requeue_order(db, order_id)
            requeued.append(order_id)
    return requeued


def _open_lines(db: sqlite_utils.Database, order_ids: list[str]) -> dict[str, set[str]]:
    rows = db.execute(
        "SELECT order_id, sku FROM order_lines WHERE qty > qty_short "
        "AND order_id IN (SELECT value FROM json_each(?))",
        [json.dumps(order_ids)],
    ).fetchall()
    out: dict[str, set[str]] = {}
    for order_id, sku in rows:
        out.setdefault(order_id, set()).add(sku)
    return out


def _stock_came_in(db, sites: list[str], skus: set[str], since: str) -> bool:
    # Ledger times are the hub's clock (ISO 8601 UTC, comparable as text) for receipts
    # and releases; a movement given an older time by its caller is seen at the next one.
    # At or after: the clock has milliseconds, and a receipt in the millisecond of the hold
    # must not wait for the next arrival (one stamped just before the hold at worst sends
    # the order round the queue once more, and the new hold is later than it).
    row = db.execute(
        "SELECT 1 FROM ledger WHERE qty > 0 AND at >= ? "
        "AND site IN (SELECT value FROM json_each(?)) "
        "AND sku IN (SELECT value FROM json_each(?)) LIMIT 1",
        [since, json.dumps(sites), json.dumps(sorted(skus))],
    ).fetchone()
    return row is not None
