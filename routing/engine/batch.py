"""Re-optimising a batch of orders that are routed but not yet picked.

Routing one order at a time is myopic: the stock an early order takes from a site may force
a later order to split. Xu, Allgor & Graves (Manufacturing & Service Operations Management
11(2), 2009) showed at Amazon that re-deciding the assignment of the orders still waiting
in a time window, jointly, removes many of those splits. :func:`reoptimize` does that with
one MIP over the whole batch (:func:`routing.engine.mip.solve_mip`): every order's units,
the stock they share and the sites' remaining daily capacity. It never returns a worse
answer than the plans it started from: when HiGHS does not beat them in time, they stand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from routing.engine.context import Allocation, Network, OrderContext, as_network, build_plan
from routing.engine.costs import as_cost_model
from routing.engine.mip import solve_mip
from routing.engine.model import Inventory, Order, Plan
from routing.engine.optimal import BIG_PACKAGE, apply_assignment, prepare_units
from routing.engine.rules import Policy, as_policy

__all__ = ["Reoptimized", "reoptimize"]

UNFILLED_PENALTY = 1e5  # per item left unrouted, in the objective only


@dataclass(frozen=True)
class Reoptimized:
    """The batch's plans (in the order of the orders), the objective before and after
    (cost + late and back-order penalties), and which orders changed."""

    plans: tuple[Plan, ...]
    before: float
    after: float
    changed: tuple[str, ...]
    status: str

    @property
    def saving(self) -> float:
        return self.before - self.after


def reoptimize(
    orders: Sequence[Order],
    inventory: Inventory,
    sites: Network | Sequence,
    rates=None,
    policy: Policy | str | None = "cost_optimal",
    plans: Sequence[Plan] | None = None,
    *,
    time_limit: float | None = None,
) -> Reoptimized:
    """Route ``orders`` jointly at least cost.

    ``inventory`` is what is available now. With ``plans`` (one per order, e.g. what the
    hub already assigned), their stock is reserved in ``inventory`` and is put back first.
    Without, the orders are first routed one by one in order on a copy of it (the
    baseline). The policy's filters, ``max_splits``, ``split_lines`` and promise apply;
    the objective is cost (a rule policy is re-read as cost-optimal). ``inventory`` is not
    changed. Raises ValueError when ``plans`` does not match ``orders``."""
    net = as_network(sites)
    model = as_cost_model(rates)
    pol = as_policy(policy)
    if not pol.optimal:
        rules = tuple(r for r in pol.rules if r != "min_splits") + ("cost_optimal",)
        pol = replace(pol, name=f"{pol.name}+cost", rules=rules)
    free = inventory.copy()
    if plans is None:
        from routing.engine import Router

        router = Router(net, model, pol)
        work = inventory.copy()
        baseline = []
        for order in orders:
            plan = router.route(order, work)
            work.reserve(plan)
            baseline.append(plan)
        plans = baseline
    else:
        if len(plans) != len(orders):
            raise ValueError(f"{len(plans)} plans for {len(orders)} orders")
        for order, plan in zip(orders, plans, strict=True):
            if plan.order_id != order.id:
                raise ValueError(f"plan for {plan.order_id} where {order.id} was expected")
            free.release(plan)
    before = sum(_objective(p, model) for p in plans)
    contexts = [OrderContext(o, free, net, pol, model) for o in orders]
    problems = [(ctx, prepare_units(ctx)) for ctx in contexts]
    stock = {}
    for ctx in contexts:
        for d, sku in enumerate(ctx.skus):
            for k in range(len(net)):
                stock[(k, sku)] = int(ctx.avail[k, d])
    capacity = None
    if net.has_capacity:
        load = contexts[0].site_load if contexts else 0
        capacity = np.maximum(net.capacity - load, 0)
    result = solve_mip(
        problems,
        budget=pol.max_splits,
        bonus=BIG_PACKAGE if pol.fewest_first else 0.0,
        time_limit=time_limit if time_limit is not None else pol.mip_time_limit,
        stock=stock,
        capacity=capacity,
        penalty=UNFILLED_PENALTY,
    )
    if result is None:
        return Reoptimized(tuple(plans), before, before, (), "kept: no solution in time")
    new = []
    for (ctx, units), assign in zip(problems, result.assign, strict=True):
        alloc = Allocation(method="mip-batch")
        alloc.unfilled = list(units.unfilled)
        apply_assignment(alloc, units, assign)
        alloc.why = _BatchWhy(set(alloc.parts), set(np.flatnonzero(units.cand.any(axis=1))))
        n = len(alloc.parts)
        alloc.summary = f"{n} shipment{'s' * (n != 1)}; batch of {len(orders)} orders re-optimised"
        new.append(build_plan(ctx, alloc))
    after = sum(_objective(p, model) for p in new)
    if after >= before - 1e-6:
        return Reoptimized(
            tuple(plans), before, before, (), f"kept: MIP {result.status}, no saving"
        )
    changed = tuple(o.id for o, a, b in zip(orders, plans, new, strict=True) if _key(a) != _key(b))
    return Reoptimized(tuple(new), before, after, changed, f"MIP {result.status}")


class _BatchWhy:
    def __init__(self, chosen: set[int], candidates: set[int]) -> None:
        self.chosen, self.candidates = chosen, candidates

    def __call__(self, k: int) -> str:
        if k in self.chosen:
            return "in the batch optimum"
        if k in self.candidates:
            return "not in the batch optimum (its stock served other orders or cost more)"
        return "cannot ship any line whole"


def _objective(plan: Plan, model) -> float:
    late = getattr(model, "late_penalty", 0.0)
    return (
        plan.total_cost
        + late * sum(s.late for s in plan.shipments)
        + UNFILLED_PENALTY * sum(u.qty for u in plan.unfilled)
    )


def _key(plan: Plan):
    return tuple((s.site, s.lines) for s in plan.shipments)
