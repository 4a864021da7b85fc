"""Why an order went where it went: the decisions kept by :mod:`routing.dispatch`, in
words (``doms hub explain``), and plans for a channel file without storing anything
(``doms hub route``).

A decision is kept compact (:func:`encode_decision`), because the hub keeps one per order
at thousands of orders a second and a plan's site reports cost as much to build as the
routing itself: the plan's own fields (shipments, back-orders, summary) and what the
engine saw (the order, the stock of its SKUs at each site, the sites, policy and cost
model of the run). Reading it (:func:`decisions`) routes that order again against that
stock, which gives the site reports in the engine's own words; when the replay does not
give the same shipments (a cost model that cannot be rebuilt, an engine that changed),
the decision is shown without them and says so. Decisions kept as ``Plan.to_dict()`` JSON
by earlier versions are read as they are.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import sqlite_utils

from routing.engine import (
    CostModel,
    Inventory,
    Network,
    Order,
    Plan,
    Policy,
    Router,
    Shipment,
    Site,
    Unfilled,
    as_cost_model,
)
from routing.engine_io import (
    catalog,
    engine_order,
    incoming_to_queue,
    load_inventory,
)
from routing.sites import engine_sites, loads_today

FORMAT = 2  # first element of a compact decision (JSON array); v1 is Plan.to_dict()


class RunContext(msgspec.Struct, array_like=True):
    """What every decision of one routing run shares: the sites, the policy's options and
    the cost model (None: the bundled rates; ``{"type", "fields"}`` for a dataclass
    model; ``{"name"}`` for one that cannot be rebuilt)."""

    sites: list[Site]
    policy: dict[str, Any]
    rates: dict[str, Any] | None


class Seen(msgspec.Struct, array_like=True):
    """What the engine saw of one order: the order, and per site of the run the units
    available of each of its SKUs (in the order of ``skus``) and the packages assigned."""

    order: Order
    skus: list[str]
    qty: list[list[int]]
    load: list[int] | None


class Decision(msgspec.Struct, array_like=True):
    """One kept decision (see the module docstring). ``run``: the :class:`RunContext`,
    or the ``decision_id`` of the decision of the same chunk that holds it (the first:
    a context is about 1.5 kB, more than the rest of a decision)."""

    format: int
    order_id: str
    method: str
    summary: str
    total_cost: float
    shipments: list[Shipment]
    unfilled: list[Unfilled]
    seen: Seen | None
    run: msgspec.Raw


def _numpy(obj: Any) -> Any:
    # Rate tables keep numpy arrays (weight breaks, zones): kept as lists.
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise NotImplementedError(f"cannot keep {type(obj).__name__} in a decision")


_ENC = msgspec.json.Encoder(enc_hook=_numpy)
_DEC = msgspec.json.Decoder(Decision)
_RUN = msgspec.json.Decoder(RunContext)


def run_context(sites: Sequence[Site], policy: Policy, rates: Any) -> msgspec.Raw:
    """The shared part of a run's decisions, encoded once (``rates`` as given to the
    router: None for the bundled rates)."""
    options = {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy) if f.init}
    if rates is None:
        model = None
    elif dataclasses.is_dataclass(rates) and not isinstance(rates, type):
        fields = {f.name: getattr(rates, f.name) for f in dataclasses.fields(rates) if f.init}
        kind = type(rates)
        model = {"type": f"{kind.__module__}:{kind.__qualname__}", "fields": fields}
    else:
        model = {"name": getattr(rates, "name", type(rates).__name__)}
    return msgspec.Raw(_ENC.encode(RunContext(list(sites), options, model)))


def seen(order: Order, inventory: Inventory, avoid: int | None, capacity: bool) -> Seen:
    """What the engine sees of ``order`` in ``inventory`` (call before routing it;
    ``avoid``: a site row it may not use, as zeros)."""
    skus = list(dict.fromkeys([line.sku for line in order.lines]))
    index = inventory.sku_index
    try:
        qty = inventory.qty[:, [index[s] for s in skus]]  # a copy: fancy indexing
    except KeyError:  # a SKU no site has is not in the inventory at all
        cols = [index.get(s, -1) for s in skus]
        qty = np.zeros((len(inventory.sites), len(skus)), np.int64)
        for n, j in enumerate(cols):
            if j >= 0:
                qty[:, n] = inventory.qty[:, j]
    if avoid is not None:
        qty[avoid] = 0
    return Seen(order, skus, qty.tolist(), inventory.load.tolist() if capacity else None)


def encode_decision(plan: Plan, what: Seen | None, run: msgspec.Raw | int) -> str:
    """A decision as kept in ``routing_decisions.plan`` (a JSON array). ``run``: the
    run's context (:func:`run_context`), or the ``decision_id`` of a decision holding it."""
    if isinstance(run, int):
        run = msgspec.Raw(str(run).encode())
    d = Decision(FORMAT, plan.order_id, plan.method, plan.summary, plan.total_cost,
                 list(plan.shipments), list(plan.unfilled), what, run)  # fmt: skip
    return _ENC.encode(d).decode()


def left_units_only(text: str | None) -> bool:
    """Whether a kept decision shipped nothing and left units unfilled (a whole order
    held for stock). False for a hold without a plan ('cannot route', 'routing failed')."""
    if not text:
        return False
    try:
        if text.startswith("["):
            d = _DEC.decode(text)
            return bool(d.unfilled) and not d.shipments
        plan = json.loads(text)
    except (ValueError, msgspec.DecodeError):
        return False
    return isinstance(plan, dict) and bool(plan.get("unfilled")) and not plan.get("shipments")


def plan_dict(db: sqlite_utils.Database, text: str) -> dict[str, Any]:
    """A kept decision as :meth:`Plan.to_dict` (its ``sites`` rebuilt by routing the
    order again against the stock it saw; empty, with ``sites_note`` saying why, when
    that cannot be done)."""
    if not text.startswith("["):
        return json.loads(text)  # as kept before FORMAT 2, or a hold without a plan
    d = _DEC.decode(text)
    run = _run(db, d.run)
    sites, note = _replay(d, run) if run is not None else ((), "the run's context is gone")
    policy = run.policy.get("name", "") if run is not None else ""
    plan = Plan(d.order_id, policy, tuple(d.shipments), tuple(d.unfilled), d.total_cost,
                d.summary, d.method, sites)  # fmt: skip
    out = plan.to_dict()
    if note:
        out["sites_note"] = note
    return out


def _run(db: sqlite_utils.Database, ref: msgspec.Raw) -> RunContext | None:
    if not bytes(ref).startswith(b"["):  # the decision_id of the one that holds it
        row = db.execute(
            "SELECT plan FROM routing_decisions WHERE decision_id = ?", [int(bytes(ref))]
        ).fetchone()
        if row is None or not row[0].startswith("["):
            return None
        ref = _DEC.decode(row[0]).run
        if not bytes(ref).startswith(b"["):
            return None
    return _RUN.decode(ref)


def _replay(d: Decision, run: RunContext) -> tuple[tuple, str]:
    if d.seen is None:
        return (), "site reports not kept"
    try:
        rates = _cost_model(run.rates)
        policy = Policy(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in run.policy.items()})  # fmt: skip
        router = Router(Network(run.sites), rates, policy)
        s = d.seen
        ids = tuple(site.id for site in run.sites)
        inventory = Inventory(ids, tuple(s.skus), np.array(s.qty, np.int64), s.load)
        again = router.route(s.order, inventory)
    except Exception as exc:  # noqa: BLE001
        return (), f"site reports cannot be rebuilt ({type(exc).__name__}: {exc})"
    if list(again.shipments) != d.shipments or list(again.unfilled) != d.unfilled:
        return (), "site reports cannot be rebuilt: routing the order again plans otherwise"
    return again.sites, ""


def _cost_model(spec: dict[str, Any] | None) -> Any:
    if spec is None:
        return None
    if "type" not in spec:
        raise ValueError(f"cost model {spec.get('name')!r} is not kept")
    module, _, name = spec["type"].partition(":")
    # The name comes from the database: only our own cost models are rebuilt from it.
    if module != "routing" and not module.startswith("routing."):
        raise ValueError(f"cost model {spec['type']} is not one of routing's")
    kind: Any = importlib.import_module(module)
    for part in name.split("."):
        kind = getattr(kind, part)
    if not (isinstance(kind, type) and issubclass(kind, CostModel)):
        raise ValueError(f"{spec['type']} is not a cost model")
    return as_cost_model(msgspec.convert(spec["fields"], kind))


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
            "plan": plan_dict(db, plan),
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
    if plan.get("sites_note"):
        out.append(f"  ({plan['sites_note']})")
    return "\n".join(out)
