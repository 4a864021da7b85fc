"""Routing policies on the Jasin & Sinha instance: total cost against a hindsight bound
on the same depleting stream, and throughput through the engine into the hub database.

    python -m bench.routing [--json] [--orders N] [--seed S] [--variant metro|zip]
                            [--dump DIR] [--mip-seconds S]

The instance (:mod:`bench.routing_instance`): 10 centres, 99 metros (or ~5,000 ZIP points)
weighted by population, 100 SKUs, orders of 1-10 items, stock sized to the expected demand
of the horizon and never replenished. ``--dump DIR`` writes it (CSV/JSON) before the run,
so every figure can be checked independently.

**Cost**, in the paper's model (per package 8.759 + per item 0.423 + 0.000541 x miles; an
unfilled item goes to a dummy centre: twice the fixed cost once per order, twice the
farthest per-item cost per item). One stream, served in order by each policy with its
own copy of the stock:

* ``closest``: each line from the closest site that has it (the engine's ``closest``);
* ``min_splits``: fewest shipments, then closest (the engine's ``min_splits``);
* ``cost_optimal``: the myopic optimum of each order given the stock left, exact, with
  leaving an item unfilled as one more (dear) option, as in the paper's model. Run
  through the engine (``cost_optimal`` with a cost model that adds the dummy centre as a
  site) and by the benchmark's own enumeration (:func:`bench.routing_bounds.cheapest`);
  ``myopic_engine_agreement`` is the share of orders on which the two plans cost the same;
* ``lookahead_transport``: Acimovic & Graves, the duals of a transportation LP of the
  expected remaining units (per SKU and metro) as the opportunity cost of each unit;
* ``lookahead``: the same, with the duals of an LP that sees orders (the hindsight LP of
  a sample of orders drawn from the demand forecast, stock scaled to the orders left);
* the **hindsight bound**: the stream known in advance. The LP relaxation, then the
  Lagrangian bound at its duals (each order routed exactly at those prices: at least the
  LP, still a lower bound), improved by subgradient steps; with ``--mip-seconds``, also
  the MIP's dual bound from HiGHS. ``hindsight_bound`` is the best of them and
  ``hindsight_bound_kind`` says which.

``gap_closed_fraction`` = (cost_optimal - lookahead) / (cost_optimal - hindsight_bound),
with both policies routed by the benchmark's enumeration (the engine takes no per-SKU
prices). The bound is below the hindsight optimum, so the fraction of the gap to the
optimum itself that is closed is at least this. Target: 0.5 (Acimovic & Graves report
about a third).

**Throughput** (one process, one core; the median of ``REPEATS`` runs): the hub's own
routing, ``routing.dispatch.route_pending`` (``LinearCost.jasin_sinha``, the real sites
only), empties a queue of ``--throughput-orders`` orders of the stream on a hub SQLite
database (``routing.store``, WAL, ``synchronous=FULL``): it reads the queue, routes each
order, picks the station, splits multi-site plans into part orders and unfilled units
into held back-orders, reserves the stock as ledger movements, streams
``order_assigned`` to the station and keeps each decision (compact: the site reports are
rebuilt when ``doms hub explain`` reads it), in one transaction per chunk of 500, all
written in bulk (``routing.intake.queue.assign_plans``). The orders are queued before
the clock starts (intake is not routing).
``rules_orders_per_s`` is the slower of ``closest`` and ``min_splits``;
``cost_optimal_orders_per_s`` the engine's ``cost_optimal``. The engine alone (a
``Router`` and an in-memory ``Inventory``) is reported beside them as the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import BenchError, Report, main_guard, rounded
from bench.routing_bounds import (
    OrderLookAhead,
    TransportLookAhead,
    cheapest,
    hindsight,
    order_matrix,
)
from bench.routing_instance import Instance, Params, build, dump, order_id

DEFAULT_ORDERS = 3000
THROUGHPUT_ORDERS = 1000
REPEATS = 3  # throughput runs per figure; the median is reported
TARGET_RULES = 5000.0
TARGET_COST_OPTIMAL = 2000.0
TARGET_GAP = 0.5
# the look-ahead settings (tuned on seeds 1-2 at 3,000 orders; see the report)
TRANSPORT = {"theta": 1.0, "resolve_every": 250, "share": 0.0, "dummy_share": 0.0}
ORDERS_LA = {"theta": 0.7, "resolve_every": 250, "sample": 600}


# -- the benchmark's own policies ----------------------------------------------------------
class Closest:
    """Each line from the closest site that has it; unfilled when none has."""

    name = "closest"

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.by_distance = np.argsort(inst.dist, axis=0)  # (K, P): sites nearest first

    def plan(self, o: int, stock: np.ndarray) -> np.ndarray:
        inst = self.inst
        items = inst.items(o)
        order = self.by_distance[:, inst.order_point[o]]
        have = stock[order][:, items] > 0  # (K by distance, n)
        return np.where(have.any(axis=0), order[have.argmax(axis=0)], inst.unfilled)


class MinSplits:
    """The fewest packages (an item is left unfilled only when no site has it), then the
    cheapest of those."""

    name = "min_splits"

    def __init__(self, inst: Instance, big: float = 1000.0) -> None:
        self.inst = inst
        self.f = inst.fixed + big
        self.f[inst.unfilled] += 100 * big

    def plan(self, o: int, stock: np.ndarray) -> np.ndarray:
        C, sites = order_matrix(self.inst, o, stock)
        _, cols = cheapest(C, self.f[sites])
        return sites[cols]


class Myopic:
    """The cheapest plan for each order alone, given the stock left (exact)."""

    name = "cost_optimal"

    def __init__(self, inst: Instance) -> None:
        self.inst = inst

    def plan(self, o: int, stock: np.ndarray) -> np.ndarray:
        C, sites = order_matrix(self.inst, o, stock)
        _, cols = cheapest(C, self.inst.fixed[sites])
        return sites[cols]


# -- the engine ----------------------------------------------------------------------------
UNFILLED_SITE = "UNFILLED"


def engine_available() -> bool:
    try:
        import routing.engine  # noqa: F401
    except Exception:  # not there yet, or broken mid-change: the benchmark says so
        return False
    return True


class _Engine:
    """The instance in the engine's terms: sites, orders (destination = the demand point,
    ``postal_code`` = its index), SKUs."""

    def __init__(self, inst: Instance) -> None:
        from routing.engine import Network, Order, OrderLine, Site

        self.inst = inst
        self.sites = [
            Site(code, float(lat), float(lon))
            for code, lat, lon in zip(inst.site_codes, inst.site_lat, inst.site_lon, strict=True)
        ]
        self.network = Network(self.sites)
        self.site_index = {s: k for k, s in enumerate(inst.site_codes)}
        self.site_index[UNFILLED_SITE] = inst.unfilled
        self.orders = [
            Order(
                order_id(o),
                float(inst.point_lat[p]),
                float(inst.point_lon[p]),
                tuple(OrderLine(n + 1, inst.skus[i], 1) for n, i in enumerate(inst.items(o))),
                postal_code=str(p),
            )
            for o, p in enumerate(inst.order_point.tolist())
        ]

    def assign(self, o: int, plan) -> np.ndarray:
        """The plan as a site per item (``inst.unfilled`` for a back-ordered line)."""
        out = np.full(len(self.inst.items(o)), self.inst.unfilled)
        for s in plan.shipments:
            k = self.site_index[s.site]
            for line_no, _, _ in s.lines:
                out[line_no - 1] = k
        return out


def paper_cost_model(inst: Instance):
    """The paper's costs as an engine cost model, over the real sites plus the dummy
    ``UNFILLED`` site (last): per destination point (``Order.postal_code``), the very
    per-item costs the benchmark uses, so the engine's optimum is the paper's."""
    from routing.engine import CostModel
    from routing.engine.costs import EngineQuote, Pricing

    class _Pricing(Pricing):
        separable = True

        def __init__(self, p: int) -> None:
            self.fixed = inst.fixed
            self.per_item = inst.unit[:, p]
            self.can_ship = np.ones(len(self.fixed), bool)
            self.on_time = self.can_ship

        def costs(self, W, V, N):
            return self.fixed[:, None] + self.per_item[:, None] * np.asarray(N, float)[None, :]

        def quote(self, k, weight_g, volume_mm3, items):
            return EngineQuote(
                "model", "package", "road", float(self.fixed[k] + self.per_item[k] * items)
            )

        def min_cost(self):
            return self.fixed + self.per_item

    class PaperCost(CostModel):
        name = "jasin_sinha+unfilled"

        def prepare(self, ctx):
            return _Pricing(int(ctx.order.postal_code))

    return PaperCost()


class EnginePolicy:
    """An engine policy over the stream. ``with_dummy``: the ``UNFILLED`` site with
    unlimited stock is part of the network (cost-optimal in the paper's model)."""

    def __init__(self, inst: Instance, eng: _Engine, policy: str, with_dummy: bool) -> None:
        from routing.engine import Inventory, LinearCost, Network, Router, Site

        self.inst, self.eng, self.name = inst, eng, policy
        sites = list(eng.sites)
        codes = list(inst.site_codes)
        if with_dummy:
            sites.append(Site(UNFILLED_SITE, 39.83, -98.58))  # location unused by its costs
            codes.append(UNFILLED_SITE)
            model = paper_cost_model(inst)
        else:
            model = LinearCost.jasin_sinha()
        self.router = Router(Network(sites), model, policy)
        self.qty = np.zeros((len(sites), len(inst.skus)), np.int64)
        if with_dummy:
            self.qty[-1] = 1 << 40
        self.inventory = Inventory(tuple(codes), tuple(inst.skus), self.qty)
        self.with_dummy = with_dummy

    def plan(self, o: int, stock: np.ndarray) -> np.ndarray:
        self.qty[: self.inst.n_sites] = stock
        return self.eng.assign(o, self.router.route(self.eng.orders[o], self.inventory))


# -- running a policy over the stream ------------------------------------------------------
@dataclass
class Outcome:
    name: str
    total_cost: float = 0.0
    packages: int = 0  # shipments from real sites
    split_orders: int = 0
    unfilled_items: int = 0
    orders_with_unfilled: int = 0
    seconds: float = 0.0
    order_costs: np.ndarray | None = field(default=None, repr=False)

    def figures(self, n: int) -> dict[str, Any]:
        return {
            "total_cost": rounded(self.total_cost, 2),
            "cost_per_order": rounded(self.total_cost / n, 4),
            "shipments_per_order": rounded(self.packages / n, 4),
            "split_orders_fraction": rounded(self.split_orders / n, 4),
            "unfilled_items": self.unfilled_items,
        }


def simulate(inst: Instance, policy, stock: np.ndarray | None = None) -> Outcome:
    """Serve the stream in order with ``policy``, the stock depleting. Each plan is
    checked (every item from a site that still has it; raises AssertionError otherwise)
    and costed with the paper's cost (:meth:`Instance.plan_cost`)."""
    stock = (inst.inventory if stock is None else stock).copy()
    K = inst.unfilled
    out = Outcome(policy.name)
    costs = np.empty(inst.n_orders)
    t0 = time.perf_counter()
    for o in range(inst.n_orders):
        items = inst.items(o)
        assign = np.asarray(policy.plan(o, stock))
        if assign.shape != items.shape:
            raise AssertionError(f"{policy.name}: order {o}: a plan must place every item")
        real = assign < K
        if np.any(stock[assign[real], items[real]] <= 0):
            raise AssertionError(f"{policy.name}: order {o} ships an item from a site without it")
        np.subtract.at(stock, (assign[real], items[real]), 1)
        costs[o] = inst.plan_cost(o, assign)
        n_sites = len(np.unique(assign[real]))
        out.packages += n_sites
        out.split_orders += n_sites > 1
        unfilled = int((~real).sum())
        out.unfilled_items += unfilled
        out.orders_with_unfilled += unfilled > 0
    out.seconds = time.perf_counter() - t0
    out.total_cost = float(costs.sum())
    out.order_costs = costs
    if stock.min() < 0:  # cannot happen after the check above; kept as the invariant
        raise AssertionError(f"{policy.name}: stock went negative")
    return out


# -- throughput ----------------------------------------------------------------------------
def _hub(tmp: Path, inst: Instance, eng: _Engine, n: int):
    """A hub database as ``doms hub`` keeps it: the centres as sites with their location
    (one packing station each), the SKUs, the initial stock as receipts, and orders
    ``0..n-1`` of the stream waiting in the routing queue (status ``new``), as intake
    leaves them."""
    import json

    from routing.feed import ensure_station, record_movement, upsert_sku
    from routing.sites import set_site
    from routing.store import open_db, transaction

    db = open_db(tmp / "hub.db")
    with transaction(db):
        for site in eng.sites:
            set_site(db, site.id, lat=site.lat, lon=site.lon)
            ensure_station(db, site.id, f"{site.id}-PACK-01")
        for sku in inst.skus:
            upsert_sku(
                db,
                inst.site_codes[0],
                {"sku": sku, "name": sku, "weight_g": 500.0, "length_mm": 200,
                 "width_mm": 150, "height_mm": 100},
            )  # fmt: skip
        for k, i in zip(*np.nonzero(inst.inventory), strict=True):
            code, sku = inst.site_codes[k], inst.skus[i]
            record_movement(
                db, code, sku, int(inst.inventory[k, i]), "receipt", f"init:{code}:{sku}"
            )
        orders = eng.orders[:n]
        db.conn.executemany(
            "INSERT INTO orders (order_id, order_ref, channel, ship_by, status, ship_to, "
            "carrier, service) VALUES (?, ?, 'web', ?, 'new', ?, '', '')",
            [
                (o.id, o.id, f"2026-12-01T00:00:{k // 1000:02d}.{k % 1000:03d}",
                 json.dumps({"lat": o.lat, "lon": o.lon, "country": "US"}))
                for k, o in enumerate(orders)
            ],
        )  # fmt: skip
        db.conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
            [(o.id, line.line_no, line.sku, line.qty) for o in orders for line in o.lines],
        )
    return db


def throughput(inst: Instance, eng: _Engine, policy: str, n: int, persist: bool) -> float:
    """Orders per second. Route only: the engine's ``Router`` routes orders ``0..n-1`` of
    the stream against a depleting ``Inventory``. Persisted: what ``doms hub run`` does,
    ``routing.dispatch.route_pending`` on a hub holding those orders in its queue (read
    the queue, route, pick the station, reserve stock in the ledger, stream
    ``order_assigned``, keep each decision), until the queue is empty."""
    from routing.engine import Inventory, LinearCost, Router

    if persist:
        from routing.dispatch import route_pending

        with tempfile.TemporaryDirectory(prefix="doms-bench-routing-") as tmp:
            db = _hub(Path(tmp), inst, eng, n)
            try:
                t0 = time.perf_counter()
                summary = route_pending(db, policy, LinearCost.jasin_sinha())
                elapsed = time.perf_counter() - t0
            finally:
                db.conn.close()
        if summary.orders != n:
            raise BenchError(f"route_pending took {summary.orders} of {n} orders")
        return n / elapsed
    router = Router(eng.network, LinearCost.jasin_sinha(), policy)
    inventory = Inventory(tuple(inst.site_codes), tuple(inst.skus), inst.inventory.copy())
    t0 = time.perf_counter()
    for order in eng.orders[:n]:
        inventory.reserve(router.route(order, inventory))
    return n / (time.perf_counter() - t0)


# -- the run -------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> Report:
    t_start = time.perf_counter()
    params = Params(n_orders=args.orders, seed=args.seed, variant=args.variant)
    inst = build(params)
    if args.dump:
        files = dump(inst, Path(args.dump))
        print(f"instance written to {args.dump} ({len(files)} files)", file=sys.stderr)
    n = inst.n_orders
    use_engine = engine_available() and not args.no_engine
    eng = _Engine(inst) if use_engine else None
    engine_error: str | None = None

    outcomes: dict[str, Outcome] = {}
    myopic = simulate(inst, Myopic(inst))
    agreement = None
    if eng is not None:
        try:
            for name in ("closest", "min_splits"):
                outcomes[name] = simulate(inst, EnginePolicy(inst, eng, name, with_dummy=False))
            engine_myopic = simulate(inst, EnginePolicy(inst, eng, "cost_optimal", with_dummy=True))
        except Exception as exc:  # the engine is another module's: say it failed, go on
            engine_error = f"{type(exc).__name__}: {exc}"
            print(f"routing.engine failed, using the benchmark's policies: {engine_error}",
                  file=sys.stderr)  # fmt: skip
            eng, outcomes = None, {}
        else:
            same = np.isclose(engine_myopic.order_costs, myopic.order_costs, rtol=0, atol=1e-6)
            agreement = float(same.mean())
    if eng is None:
        for policy in (Closest(inst), MinSplits(inst)):
            outcomes[policy.name] = simulate(inst, policy)
    outcomes["cost_optimal"] = myopic
    transport = TransportLookAhead(inst, **TRANSPORT)
    outcomes["lookahead_transport"] = simulate(inst, transport)
    lookahead = OrderLookAhead(inst, **ORDERS_LA)
    outcomes["lookahead"] = simulate(inst, lookahead)

    best_policy = min(o.total_cost for o in outcomes.values())
    hs = hindsight(
        inst,
        lagrangian_seconds=args.bound_seconds,
        target=best_policy,
        mip_time_limit=args.mip_seconds or None,
    )
    bound = hs.bound
    gap = myopic.total_cost - bound

    def closed(name: str) -> float | None:
        return (
            rounded((myopic.total_cost - outcomes[name].total_cost) / gap, 4) if gap > 0 else None
        )

    tput: dict[str, float | None] = {}
    t_n = min(args.throughput_orders, n)
    if eng is not None and t_n > 0:
        try:
            for name in ("closest", "min_splits", "cost_optimal"):
                for persist, key in (
                    (False, f"{name}_route_orders_per_s"),
                    (True, f"{name}_orders_per_s"),
                ):
                    runs = [throughput(inst, eng, name, t_n, persist) for _ in range(REPEATS)]
                    tput[key] = rounded(float(np.median(runs)), 1)
        except Exception as exc:
            engine_error = f"throughput: {type(exc).__name__}: {exc}"
            print(f"routing.engine failed: {engine_error}", file=sys.stderr)
            tput = {}
    rules_ps = min(tput["closest_orders_per_s"], tput["min_splits_orders_per_s"]) if tput else None
    cost_ps = tput.get("cost_optimal_orders_per_s")

    # -- the report --
    sizes = inst.sizes()
    title = f"routing: Jasin & Sinha instance ({args.variant}, {n} orders, seed {args.seed})"
    rep = Report(title)
    rep.line(
        f"{sizes['sites']} sites, {sizes['demand_points']} demand points in {sizes['regions']} "
        f"metros, {sizes['skus']} SKUs; {sizes['items']} items ordered, "
        f"{sizes['initial_units']} units in stock at the start (never replenished)"
    )
    rep.line(
        f"closest / min_splits routed by {'the engine' if eng else 'the benchmark'}; "
        "cost_optimal and the look-aheads by exact enumeration"
        + (f" (routing.engine failed: {engine_error})" if engine_error else "")
    )
    rep.line()
    rep.line(
        f"  {'policy':<22}{'total cost':>12}{'per order':>11}{'ships/order':>13}"
        f"{'split %':>9}{'unfilled':>10}{'vs bound':>10}"
    )
    for name, out in outcomes.items():
        rep.line(
            f"  {name:<22}{out.total_cost:>12.1f}{out.total_cost / n:>11.3f}"
            f"{out.packages / n:>13.3f}{100 * out.split_orders / n:>9.1f}"
            f"{out.unfilled_items:>10d}{100 * (out.total_cost / bound - 1):>9.2f}%"
        )
    rep.line(f"  {'hindsight bound':<22}{bound:>12.1f}{bound / n:>11.3f}   ({hs.bound_kind})")
    rep.line()
    rep.line(
        f"hindsight: LP {hs.lp_bound:.1f} ({hs.lp_seconds:.1f} s, {hs.variables} variables, "
        f"{hs.constraints} constraints)"
        + (
            f"; Lagrangian {hs.lagrangian_bound:.1f} ({hs.lagrangian_steps} subgradient steps, "
            f"{hs.lagrangian_seconds:.1f} s)"
            if hs.lagrangian_bound is not None
            else ""
        )
    )
    if hs.mip_status is not None:
        rep.line(
            f"           MIP {hs.mip_status} in {hs.mip_seconds:.1f} s: dual bound "
            f"{hs.mip_bound}, best plan {hs.mip_cost}"
        )
    if agreement is not None:
        rep.line(
            f"cost_optimal: the engine (with the dummy site) and the enumeration agree on "
            f"{100 * agreement:.1f}% of orders"
        )
    for name, la in (("lookahead_transport", transport), ("lookahead", lookahead)):
        rep.line(
            f"{name}: {la.solves} LP solves, {la.solve_seconds:.1f} s; gap closed {closed(name)}"
        )
    gc = closed("lookahead")
    verdict = "met" if gc is not None and gc >= TARGET_GAP else "MISSED"
    rep.line(f"  target gap_closed_fraction >= {TARGET_GAP:g}: {gc}, {verdict}")
    if tput:
        rep.line()
        rep.line(
            f"throughput ({t_n} orders, median of {REPEATS} runs; persisted: "
            "routing.dispatch.route_pending, as doms hub run routes):"
        )
        for name in ("closest", "min_splits", "cost_optimal"):
            rep.line(
                f"  {name:<14} {tput[f'{name}_orders_per_s']:>9.0f} orders/s persisted, "
                f"{tput[f'{name}_route_orders_per_s']:>9.0f} engine only (baseline), ratio "
                f"{tput[f'{name}_orders_per_s'] / tput[f'{name}_route_orders_per_s']:.2f}"
            )
        for what, value, limit in (
            ("rules_orders_per_s", rules_ps, TARGET_RULES),
            ("cost_optimal_orders_per_s", cost_ps, TARGET_COST_OPTIMAL),
        ):
            verdict = "met" if value >= limit else "MISSED"
            rep.line(f"  target {what} >= {limit:g}: {value:.0f}, {verdict}")
    elapsed = time.perf_counter() - t_start

    figures: dict[str, Any] = {
        "seed": args.seed,
        "variant": args.variant,
        "orders": n,
        "instance": sizes,
        "engine_used": eng is not None,
        "engine_error": engine_error,
        "hindsight_bound": rounded(bound, 2),
        "hindsight_bound_kind": hs.bound_kind,
        "hindsight_lp_bound": rounded(hs.lp_bound, 2),
        "hindsight_lagrangian_bound": (
            None if hs.lagrangian_bound is None else rounded(hs.lagrangian_bound, 2)
        ),
        "hindsight_mip_bound": None if hs.mip_bound is None else rounded(hs.mip_bound, 2),
        "hindsight_mip_cost": None if hs.mip_cost is None else rounded(hs.mip_cost, 2),
        "hindsight_seconds": rounded(
            hs.lp_seconds + hs.lagrangian_seconds + (hs.mip_seconds or 0), 2
        ),
        "gap_closed_fraction": gc,
        "gap_closed_fraction_transport": closed("lookahead_transport"),
        "myopic_engine_agreement": None if agreement is None else rounded(agreement, 4),
        "lookahead_settings": ORDERS_LA,
        "lookahead_transport_settings": TRANSPORT,
        "rules_orders_per_s": rules_ps,
        "cost_optimal_orders_per_s": cost_ps,
        "throughput_orders": t_n if tput else 0,
        "persistence": "routing.dispatch.route_pending (queue -> plan -> ledger, streams)",
        "throughput_repeats": REPEATS,
        "elapsed_s": rounded(elapsed, 1),
    }
    figures.update(tput)
    for name, out in outcomes.items():
        for key, value in out.figures(n).items():
            figures[f"{name}_{key}"] = value
    rep.figures = figures
    rep.line()
    rep.line(f"elapsed {elapsed:.1f} s")
    return rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.routing",
        description="Routing policies vs the hindsight bound on the Jasin & Sinha instance.",
    )
    p.add_argument(
        "--orders",
        type=int,
        default=DEFAULT_ORDERS,
        help=f"orders in the stream (default {DEFAULT_ORDERS})",
    )
    p.add_argument("--seed", type=int, default=1, help="the instance's seed (default 1)")
    p.add_argument("--variant", choices=("metro", "zip"), default="metro")
    p.add_argument("--dump", metavar="DIR", help="write the instance (CSV/JSON) to DIR first")
    p.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    p.add_argument(
        "--throughput-orders", type=int, default=THROUGHPUT_ORDERS,
        help=f"orders routed per throughput figure (default {THROUGHPUT_ORDERS}; 0: none)",
    )  # fmt: skip
    p.add_argument(
        "--bound-seconds", type=float, default=10.0,
        help="subgradient time on the Lagrangian bound (default 10; 0: LP bound only)",
    )  # fmt: skip
    p.add_argument(
        "--mip-seconds", type=float, default=0.0,
        help="also run the hindsight MIP for this long (default 0: not run)",
    )  # fmt: skip
    p.add_argument("--no-engine", action="store_true", help="the benchmark's own rule policies")
    args = p.parse_args(argv)
    if args.orders < 1:
        p.error("--orders must be at least 1")
    return main_guard(lambda: run(args).emit(args.json))


if __name__ == "__main__":
    sys.exit(main())
