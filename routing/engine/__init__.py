"""The routing engine: a pure function of (order, inventory, sites, rates, policy) -> Plan.

    from routing.engine import Inventory, Order, OrderLine, Policy, Site, route

    plan = route(order, inventory, sites, rates=None, policy="min_splits")
    plan.shipments, plan.unfilled, plan.total_cost, plan.explain()

``rates`` is a cost model: a :class:`~routing.freight.RateTable` or None (carrier rates,
:class:`FreightCost`), or any :class:`CostModel` such as :meth:`LinearCost.jasin_sinha`.
``policy`` is a :class:`Policy` or a spec string (:meth:`Policy.parse`). For a stream of
orders, :class:`Router` keeps the network, cost model and policy prepared between calls.
See ``routing/engine/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.engine.batch import reoptimize
from routing.engine.context import Network, OrderContext, as_network, build_plan
from routing.engine.costs import CostModel, FreightCost, LinearCost, as_cost_model
from routing.engine.model import (
    Inventory,
    Order,
    OrderLine,
    Plan,
    Shipment,
    Site,
    SiteReport,
    Unfilled,
)
from routing.engine.optimal import allocate_optimal
from routing.engine.rules import PRESETS, Policy, allocate_rules, as_policy

__all__ = [
    "PRESETS",
    "CostModel",
    "FreightCost",
    "Inventory",
    "LinearCost",
    "Network",
    "Order",
    "OrderLine",
    "Plan",
    "Policy",
    "Router",
    "Shipment",
    "Site",
    "SiteReport",
    "Unfilled",
    "reoptimize",
    "route",
]


def route(
    order: Order,
    inventory: Inventory,
    sites: Network | Sequence[Site],
    rates=None,
    policy: Policy | str | None = None,
) -> Plan:
    """The plan for ``order`` against ``inventory`` (read, never changed).

    ``sites``: a :class:`Network` (fastest) or a sequence of :class:`Site`. ``rates``: a
    CostModel, a RateTable, or None for the bundled carrier rates. ``policy``: a Policy, a
    spec string, or None (``min_splits``). Raises ValueError for an unknown policy name or
    rule, TypeError for a ``rates`` of the wrong kind."""
    return Router(sites, rates, policy).route(order, inventory)


class Router:
    """``route`` with its network, cost model and policy prepared once: what a benchmark
    or the hub calls per order."""

    def __init__(
        self,
        sites: Network | Sequence[Site],
        rates=None,
        policy: Policy | str | None = None,
    ) -> None:
        self.network = as_network(sites)
        self.cost_model = as_cost_model(rates)
        self.policy = as_policy(policy)

    def context(self, order: Order, inventory: Inventory) -> OrderContext:
        return OrderContext(order, inventory, self.network, self.policy, self.cost_model)

    def route(self, order: Order, inventory: Inventory) -> Plan:
        """The plan for one order (see :func:`route`)."""
        ctx = OrderContext(order, inventory, self.network, self.policy, self.cost_model)
        if self.policy.optimal:
            return build_plan(ctx, allocate_optimal(ctx))
        alloc = allocate_rules(ctx)
        plan = build_plan(ctx, alloc)
        # The rules place by stock alone; when a carrier refused a package, place again
        # without the units no carrier takes where they are (rare: no cost to other orders).
        if alloc.refused and ctx.drop_unshippable():
            plan = build_plan(ctx, allocate_rules(ctx))
        return plan

    def reoptimize(self, orders: Sequence[Order], inventory: Inventory, plans=None):
        """See :func:`reoptimize`."""
        return reoptimize(orders, inventory, self.network, self.cost_model, self.policy, plans)
