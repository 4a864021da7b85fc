"""Why an order went where it went: the decisions kept by :mod:`routing.dispatch`, in
words (``doms hub explain``), and plans for a channel file without storing anything
(``doms hub route``).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from routing.engine import Plan, Router
from routing.engine_io import (
    catalog,
    engine_order,
    incoming_to_queue,
    load_inventory,
    loads_today,
)
from routing.sites import engine_sites


def decisions(db: sqlite_utils.Database, order_id: str) -> list[dict[str, Any]]:
    """Every routing decision about ``order_id``, oldest first: ``{at, policy, outcome,
    plan}`` (plan: :meth:`Plan.to_dict`). A part split off by a plan (``<order>-2``) has
    none of its own: its parent's are returned."""
    order = order_id
    while True:
        rows = db.execute(
            "SELECT at, policy, outcome, plan FROM routing_decisions WHERE order_id = ? "
            "ORDER BY decision_id",
            [order],
        ).fetchall()
        if rows:
            break
        parent = db.execute(
            "SELECT parent_order_id FROM order_parts WHERE order_id = ? AND kind = 'split'",
            [order],
        ).fetchone()
        if parent is None:
            return []
        order = parent[0]
    return [
        {
            "order_id": order,
            "at": at,
            "policy": policy,
            "outcome": outcome,
            "plan": json.loads(plan),
        }  # fmt: skip
        for at, policy, outcome, plan in rows
    ]


def preview(
    db: sqlite_utils.Database,
    raw: bytes,
    policy: str | Any = None,
    rates: Any = None,
    *,
    channel: str | None = None,
    name: str = "",
) -> list[Plan]:
    """The plans for the orders of a channel file (any intake format) against current
    stock, each order seeing the stock the ones before it took; nothing is stored or
    reserved. Raises routing.intake.IntakeError for a file intake cannot read, ValueError
    for an order with unlinked products or no destination, no order to ship, or no site
    to route to."""
    from routing.intake.formats import parse_bytes
    from routing.intake.model import IncomingOrder

    _, parsed = parse_bytes(raw, channel=channel, name=name)
    incoming = [p for p in parsed if isinstance(p, IncomingOrder)]
    if not incoming:
        reasons = "; ".join(f"{p.channel_order_id} {p.reason}" for p in parsed)
        raise ValueError(f"no order to route ({reasons})" if reasons else "no order to route")
    sites = engine_sites(db)
    if not sites:
        raise ValueError("no site has a location and a station: doms hub site add ...")
    router = Router(sites, rates, policy)
    queued = [incoming_to_queue(db, order) for order in incoming]
    skus = {line["sku"] for order in queued for line in order["lines"]}
    inventory = load_inventory(db, router.network.ids, skus, loads_today(db, router.network.ids))
    weights = catalog(db, skus)
    plans = []
    for order in queued:
        plan = router.route(engine_order(order, weights, deliver_by=order["deliver_by"]), inventory)
        inventory.reserve(plan)
        plans.append(plan)
    return plans


def explain_decision(decision: dict[str, Any]) -> str:
    """A kept decision (:func:`decisions`) as text, in the words of ``Plan.explain``."""
    plan = decision["plan"]
    out = [
        f"order {decision['order_id']} {decision['outcome']} at {decision['at']} "
        f"({decision['policy']}, {plan.get('method', '-')}): {plan.get('summary', '')}"
    ]
    for s in plan.get("shipments", []):
        lines = ", ".join(f"{li['qty']} x {li['sku']} (line {li['line_no']})" for li in s["lines"])
        when = f", delivered by {s['promised_date']}" if s.get("promised_date") else ""
        late = " LATE" if s.get("late") else ""
        out.append(
            f"  ship {s['site']} -> {s['carrier']} {s['service']} {s['cost']:.2f} "
            f"({s['distance_km']:.0f} km, {s['co2_kg']:.3f} kg CO2{when}{late}): {lines}"
        )
    for u in plan.get("unfilled", []):
        out.append(f"  back-order line {u['line_no']} {u['sku']} x{u['qty']}: {u['reason']}")
    for r in plan.get("sites", []):
        out.append(f"  {r['site']:>8} {r['status']:<10} {r['reason']}")
    return "\n".join(out)
