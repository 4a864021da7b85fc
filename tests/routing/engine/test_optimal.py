"""Cost-optimal routing: equal to brute force, the MIP equal to the enumeration, back-orders,
promises, and the batch re-optimisation never worse than routing one by one."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import freight
from routing.engine import Inventory, LinearCost, Order, OrderLine, Site, reoptimize, route
from routing.geo import haversine_km

from .conftest import order, ships, site, stock, tiny_table

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw, max_sites: int = 4, max_lines: int = 3, grams=(50, 20000), max_qty=2):
    """2-4 US sites, an order of 1-3 lines of distinct SKUs (1-2 units, 50 g - 20 kg, up
    to 60 cm a side), 0-3 units of each SKU at each site."""
    n_sites = draw(st.integers(2, max_sites))
    n_lines = draw(st.integers(1, max_lines))
    lat = st.floats(26, 48)
    lon = st.floats(-122, -70)
    sites = [Site(f"S{k}", draw(lat), draw(lon)) for k in range(n_sites)]
    lines = tuple(
        OrderLine(
            n + 1,
            f"K{n}",
            draw(st.integers(1, max_qty)),
            draw(st.floats(*grams)),
            tuple(draw(st.floats(10, 600)) for _ in range(3)),
        )
        for n in range(n_lines)
    )
    levels = {s.id: {f"K{n}": draw(st.integers(0, 3)) for n in range(n_lines)} for s in sites}
    return Order("SO", draw(lat), draw(lon), lines), Inventory.from_levels(levels), sites


def brute_force(o: Order, inv: Inventory, sites, model, max_splits: int | None = None,
                must_use: str | None = None):  # fmt: skip
    """The cheapest plan over every assignment of whole lines to sites that have them
    (with ``must_use``: those where that site ships something), or None when some line
    has no such site."""
    cands = [[s for s in sites if inv.available(s.id, ln.sku) >= ln.qty] for ln in o.lines]
    if any(not c for c in cands):
        return None
    best = math.inf
    for combo in product(*cands):
        groups: dict[Site, list[OrderLine]] = {}
        for line, s in zip(o.lines, combo, strict=True):
            groups.setdefault(s, []).append(line)
        if max_splits is not None and len(groups) > max_splits:
            continue
        if must_use is not None and must_use not in {s.id for s in groups}:
            continue
        total = 0.0
        for s, ls in groups.items():
            km = haversine_km(s.lat, s.lon, o.lat, o.lon)
            if isinstance(model, LinearCost):
                total += model.package_cost(km, sum(ln.qty for ln in ls))
            else:
                total += site_cost(model or freight.default_rates(), km, ls)
        best = min(best, total)
    return best


def site_cost(table, km: float, lines) -> float:
    """One package of ``lines`` when a service takes it; else its items packed first fit,
    heaviest (then largest, then in line order) first, into packages a service takes;
    inf when an item fits none alone."""
    w = sum(ln.weight_g * ln.qty for ln in lines)
    v = sum(ln.volume_mm3 * ln.qty for ln in lines)
    q = freight.cheapest(table, km, w, v)
    if q is not None:
        return q.cost
    items = sorted(((ln.weight_g, ln.volume_mm3, n) for n, ln in enumerate(lines)
                    for _ in range(ln.qty)), key=lambda it: (-it[0], -it[1], it[2]))  # fmt: skip
    boxes: list[list[float]] = []
    for iw, iv, _ in items:
        for box in boxes:
            if freight.cheapest(table, km, box[0] + iw, box[1] + iv) is not None:
                box[0] += iw
                box[1] += iv
                break
        else:
            if freight.cheapest(table, km, iw, iv) is None:
                return math.inf
            boxes.append([iw, iv])
    return sum(freight.cheapest(table, km, bw, bv).cost for bw, bv in boxes)


def packed(plan) -> bool:
    """Whether some site of the plan ships more than one package."""
    sites = [s.site for s in plan.shipments]
    return len(set(sites)) < len(sites)


MODELS = [None, LinearCost.jasin_sinha()]


@SETTINGS
@given(instances(), st.sampled_from(MODELS))
def test_cost_optimal_equals_brute_force(inst, model):
    o, inv, sites = inst
    plan = route(o, inv, sites, model, "cost_optimal;split_lines=no")
    expected = brute_force(o, inv, sites, model)
    if expected is None or expected == math.inf:  # no stock, or too big for every service
        assert plan.unfilled
    else:
        assert plan.complete
        assert plan.total_cost == pytest.approx(expected, abs=1e-6)


# Units of 20-60 kg, up to 3 a line: the largest service takes 68 kg, so most sites ship
# their share in several packages (and items up to 60 cm a side may be too big alone).
HEAVY = instances(max_lines=3, grams=(20000, 60000), max_qty=3)


@SETTINGS
@given(HEAVY, st.sampled_from(["", ";split_lines=no", ";max_splits=1"]))
def test_cost_optimal_with_heavy_items_equals_brute_force(inst, options):
    o, inv, sites = inst
    plan = route(o, inv, sites, None, f"cost_optimal;split_lines=no{options}")
    k = 1 if "max_splits" in options else None
    expected = brute_force(o, inv, sites, None, max_splits=k)
    if expected is None or expected == math.inf:
        assert plan.unfilled
    else:
        assert plan.complete
        assert plan.total_cost == pytest.approx(expected, abs=1e-6)
        # Each package is one a service takes, and the units add up to the order.
        for s in plan.shipments:
            assert s.weight_g <= 68_040
        shipped = {}
        for s in plan.shipments:
            for n, _, q in s.lines:
                shipped[n] = shipped.get(n, 0) + q
        assert shipped == {ln.line_no: ln.qty for ln in o.lines}


@SETTINGS
@given(instances(max_sites=4, max_lines=4), st.sampled_from(MODELS), st.integers(1, 2))
def test_cost_optimal_within_max_splits_equals_brute_force(inst, model, k):
    o, inv, sites = inst
    expected = brute_force(o, inv, sites, model, max_splits=k)
    plan = route(o, inv, sites, model, f"cost_optimal;split_lines=no;max_splits={k}")
    assert len({s.site for s in plan.shipments}) <= k  # sites: a site may ship several packages
    if expected is not None and math.isfinite(expected):
        assert plan.complete
        assert plan.total_cost == pytest.approx(expected, abs=1e-6)


@SETTINGS
@given(instances(max_sites=4, max_lines=3), st.sampled_from(MODELS))
def test_each_site_reports_the_cheapest_plan_that_uses_it(inst, model):
    o, inv, sites = inst
    plan = route(o, inv, sites, model, "cost_optimal;split_lines=no")
    if plan.unfilled:
        return
    for r in plan.sites:
        if r.plan_cost is None:
            continue  # not enumerated: every plan with it beats no bound (said in reason)
        forced = brute_force(o, inv, sites, model, must_use=r.site)
        assert r.plan_cost == pytest.approx(forced, abs=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_sites=4, max_lines=4), st.sampled_from(MODELS))
def test_the_mip_equals_the_enumeration(inst, model):
    o, inv, sites = inst
    enum = route(o, inv, sites, model, "cost_optimal;split_lines=no;solver=enumerate")
    mip = route(o, inv, sites, model, "cost_optimal;split_lines=no;solver=mip")
    assert mip.method == "mip" or not mip.shipments
    assert len(mip.unfilled) == len(enum.unfilled)
    if packed(enum) or packed(mip):
        # The MIP prices one package per site, then tops up (optimal.py): never cheaper.
        assert mip.total_cost >= enum.total_cost - 1e-6
    else:
        assert mip.total_cost == pytest.approx(enum.total_cost, abs=1e-6)


NO_CARRIER = "no carrier service takes the package from any site that has it"


def _oversize_beside_a_small_line():
    """Line 1 fits no carrier service (dimensional weight); line 2 ships anywhere; S2 has
    both (found by hypothesis: the enumeration back-ordered both)."""
    sites = [Site(f"S{k}", 26.0, -70.0) for k in range(3)]
    lines = (
        OrderLine(1, "K0", 2, 50.0, (800.0, 800.0, 600.0)),  # oversize for every service
        OrderLine(2, "K1", 1, 50.0, (10.0, 10.0, 10.0)),
    )
    inv = Inventory.from_levels({"S0": {}, "S1": {}, "S2": {"K0": 2, "K1": 1}})
    return Order("SO", 26.0, -70.0, lines), inv, sites


def _only_line_1_back_ordered(plan) -> None:
    assert ships(plan) == {"S2": [2]}
    (u,) = plan.unfilled
    assert (u.line_no, u.qty, u.reason) == (1, 2, NO_CARRIER)


@pytest.mark.parametrize("solver", ["enumerate", "mip", "auto"])
@pytest.mark.parametrize("spec", ["cost_optimal", "min_splits,cost_optimal"])
@pytest.mark.parametrize("split", ["yes", "no"])
def test_a_line_that_ships_alone_is_not_back_ordered_with_an_oversize_one(solver, spec, split):
    o, inv, sites = _oversize_beside_a_small_line()
    plan = route(o, inv, sites, None, f"{spec};split_lines={split};solver={solver}")
    _only_line_1_back_ordered(plan)
    assert plan.total_cost == pytest.approx(plan.shipments[0].cost)  # no penalty in it
    assert f"cost {plan.total_cost:.2f}" in plan.summary


@pytest.mark.parametrize("policy", ["closest", "min_splits", "ranked", "most_stock", "cheapest"])
@pytest.mark.parametrize("split", ["yes", "no"])
def test_the_rules_back_order_an_oversize_line_on_its_own(policy, split):
    o, inv, sites = _oversize_beside_a_small_line()
    plan = route(o, inv, sites, None, f"{policy};split_lines={split}")
    _only_line_1_back_ordered(plan)
    by = {r.site: r for r in plan.sites}
    assert by["S2"].status == "chosen"


def test_a_large_order_goes_to_the_mip_and_agrees_with_the_dp():
    rng = np.random.default_rng(3)
    sites = [Site(f"S{k}", float(rng.uniform(30, 45)), float(rng.uniform(-120, -75)))
             for k in range(6)]  # fmt: skip
    lines = tuple(OrderLine(n + 1, f"K{n}", 1, float(rng.uniform(100, 3000))) for n in range(8))
    inv = Inventory.from_levels(
        {s.id: {f"K{n}": int(rng.random() < 0.6) for n in range(8)} for s in sites}
    )
    o = Order("SO", 40.0, -100.0, lines)
    dp = route(o, inv, sites, None, "cost_optimal;split_lines=no")
    small = route(o, inv, sites, None, "cost_optimal;split_lines=no;enum_limit=10")
    assert (dp.method, small.method) == ("enumeration", "mip")
    assert small.total_cost == pytest.approx(dp.total_cost, abs=1e-6)


def test_cost_optimal_takes_the_cheaper_split_over_one_far_package():
    model = LinearCost(fixed=1.0, per_item=0.0, per_item_km=0.01)
    far, b, c = site("F", 10), site("B", 1), site("C", -1)
    inv = stock(F={"x": 1, "y": 1}, B={"x": 1}, C={"y": 1})
    o = order(("x", 1), ("y", 1))
    plan = route(o, inv, [far, b, c], model, "cost_optimal")
    assert ships(plan) == {"B": [1], "C": [2]}
    assert plan.total_cost == pytest.approx(2 * (1 + 0.01 * 111.195), abs=0.01)
    fewest = route(o, inv, [far, b, c], model, "min_splits,cost_optimal")
    assert ships(fewest) == {"F": [1, 2]}
    by = {r.site: r for r in plan.sites}
    assert by["B"].status == "chosen" and "in the cheapest plan" in by["B"].reason
    # The cheapest plan with F: F ships one line, B the other.
    assert by["F"].plan_cost == pytest.approx(2 + 0.01 * (1111.95 + 111.195), abs=0.05)
    assert "cheapest plan with it costs" in by["F"].reason


def test_cost_optimal_back_orders_what_no_site_can_fill(linear):
    plan = route(order(("x", 1), ("y", 3)), stock(A={"x": 1, "y": 1}), [site("A", 1)], linear,
                 "cost_optimal;split_lines=no")  # fmt: skip
    assert ships(plan) == {"A": [1]}
    (u,) = plan.unfilled
    assert (u.line_no, u.qty) == (2, 3)
    assert u.reason == "not enough y at any eligible site (most: A has 1 of 3)"
    nothing = route(order(("z", 1)), stock(A={"x": 1}), [site("A", 1)], linear, "cost_optimal")
    assert not nothing.shipments and nothing.unfilled[0].reason == "z is in stock at no site"


def test_lines_competing_for_one_sites_stock_get_the_mip(linear):
    a, b = site("A", 1), site("B", 2)
    o = order(("x", 2), ("x", 2))  # two lines of one SKU; A cannot give both
    plan = route(o, stock(A={"x": 3}, B={"x": 2}), [a, b], linear, "cost_optimal")
    assert plan.method == "mip" and plan.complete
    assert sorted(len(lines) for lines in ships(plan).values()) == [1, 1]  # one line each


def test_cost_optimal_splits_a_line_no_site_has_whole(linear):
    plan = route(order(("x", 4)), stock(A={"x": 3}, B={"x": 3}), [site("A", 1), site("B", 2)],
                 linear, "cost_optimal")  # fmt: skip
    assert plan.complete
    assert sorted(q for s in plan.shipments for _, _, q in s.lines) == [1, 3]


def test_a_soft_promise_ships_late_only_when_nothing_is_on_time():
    table = tiny_table()
    near, far = site("N", 1), site("F", 6)
    inv = stock(F={"x": 1})
    plan = route(order(("x", 1), promise_days=1), inv, [near, far], table, "cost_optimal")
    (s,) = plan.shipments
    assert (s.site, s.service, s.late) == ("F", "Express", False)  # 1 day only by air
    plan = route(order(("x", 1), promise_days=3), inv, [near, far], table, "cost_optimal")
    assert plan.shipments[0].service == "Ground" or plan.shipments[0].late is False


def test_promised_dates_follow_cut_offs_and_weekends():
    from datetime import UTC, date, datetime

    table = tiny_table()
    n = site("N", 1, cutoff_hour=14, utc_offset_h=-5)
    friday_late = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)  # 16:00 local, after the cut-off
    o = order(("x", 1), placed_at=friday_late, promise_days=3, utc_offset_h=-5)
    plan = route(o, stock(N={"x": 1}), [n], table, "cost_optimal")
    (s,) = plan.shipments
    assert s.ship_date == date(2026, 3, 9)  # Monday
    assert (s.service, s.promised_date) == ("Ground", date(2026, 3, 11))  # 2 business days
    assert not s.late


@st.composite
def batches(draw):
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    sites = [Site(f"S{k}", float(rng.uniform(30, 45)), float(rng.uniform(-120, -75)))
             for k in range(4)]  # fmt: skip
    skus = [f"K{j}" for j in range(5)]
    levels = {s.id: {k: int(rng.integers(0, 3)) for k in skus} for s in sites}
    orders = []
    for i in range(draw(st.integers(2, 6))):
        picks = rng.choice(5, int(rng.integers(1, 4)), replace=False)
        lines = tuple(OrderLine(n + 1, skus[j], 1, 400.0) for n, j in enumerate(picks))
        orders.append(Order(f"O{i}", float(rng.uniform(30, 45)), float(rng.uniform(-120, -75)),
                            lines))  # fmt: skip
    return orders, Inventory.from_levels(levels), sites


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from(MODELS))
def test_batch_reoptimisation_never_costs_more_than_one_by_one(batch, model):
    orders, inv, sites = batch
    out = reoptimize(orders, inv, sites, model)
    assert out.after <= out.before + 1e-6
    used = inv.copy()
    for p in out.plans:
        used.reserve(p)
    assert (used.qty >= 0).all()  # the joint plans fit the stock
    again = reoptimize(orders, inv, sites, model, plans=list(out.plans))
    assert again.after <= out.after + 1e-6


def test_batch_reoptimisation_merges_a_split(linear):
    a, b = site("A", 1), site("B", 3)
    inv = stock(A={"x": 1, "y": 1}, B={"x": 1})
    first, second = order(("x", 1), id="O1"), order(("x", 1), ("y", 1), id="O2")
    out = reoptimize([first, second], inv, [a, b], linear)
    before = [ships(p) for p in _one_by_one([first, second], inv, [a, b], linear)]
    assert before == [{"A": [1]}, {"A": [2], "B": [1]}]  # the second order split
    assert [ships(p) for p in out.plans] == [{"B": [1]}, {"A": [1, 2]}]
    assert out.saving > 5 and out.changed == ("O1", "O2")
    assert inv.available("A", "x") == 1  # the caller's inventory is untouched


def _one_by_one(orders, inv, sites, model):
    work = inv.copy()
    plans = []
    for o in orders:
        p = route(o, work, sites, model, "cost_optimal")
        work.reserve(p)
        plans.append(p)
    return plans
