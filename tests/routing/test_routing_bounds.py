"""The routing benchmark's yardsticks: exact per-order routing, the hindsight bounds and the
look-ahead policies, checked by brute force on tiny instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.routing import Closest, MinSplits, Myopic, simulate
from bench.routing_bounds import (
    OrderLookAhead,
    TransportLookAhead,
    cheapest,
    hindsight,
    lagrangian,
    lp_duals,
)
from bench.routing_instance import Params, build

pytestmark = pytest.mark.timeout(60)


def tiny(seed: int, orders: int = 4, max_items: int = 2, sites: int = 2):
    return build(
        Params(
            n_orders=orders,
            seed=seed,
            n_skus=4,
            max_items=max_items,
            sites_limit=sites,
            points_limit=6,
            forecast_orders=2000,
        )
    )


def brute_force(inst) -> float:
    """The hindsight optimum by trying every assignment of every line of the stream."""
    K = inst.unfilled
    lines = [(o, i) for o in range(inst.n_orders) for i in inst.items(o)]
    options = [[k for k in range(K) if inst.inventory[k, i] > 0] + [K] for _, i in lines]
    best = np.inf
    for choice in itertools.product(*options):
        used = np.zeros_like(inst.inventory)
        for (_, i), k in zip(lines, choice, strict=True):
            if k < K:
                used[k, i] += 1
        if (used > inst.inventory).any():
            continue
        total, pos = 0.0, 0
        for o in range(inst.n_orders):
            n = len(inst.items(o))
            total += inst.plan_cost(o, np.array(choice[pos : pos + n]))
            pos += n
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_cheapest_is_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 7), rng.integers(1, 7)
    C = rng.uniform(0.4, 2.0, (n, m))
    C[rng.random((n, m)) < 0.4] = np.inf
    C[:, -1] = rng.uniform(2.0, 4.0, n)  # the dummy: always possible
    f = rng.uniform(1.0, 10.0, m)
    cost, cols = cheapest(C, f)
    best = min(
        f[sorted(set(a))].sum() + C[np.arange(n), list(a)].sum()
        for a in itertools.product(range(m), repeat=n)
    )
    assert cost == pytest.approx(best)
    assert f[np.unique(cols)].sum() + C[np.arange(n), cols].sum() == pytest.approx(cost)


@pytest.mark.parametrize("seed", range(5))
def test_hindsight_bounds_against_brute_force_and_every_policy(seed):
    inst = tiny(seed)
    optimum = brute_force(inst)
    h = hindsight(inst, lagrangian_seconds=1.0, target=optimum * 1.05, mip_time_limit=20)
    # LP <= Lagrangian <= optimum; the MIP (integral packages) is the optimum itself
    assert h.lp_bound <= optimum + 1e-6
    assert h.lp_bound - 1e-6 <= h.lagrangian_bound <= optimum + 1e-6
    assert h.mip_status == "optimal"
    assert h.mip_cost == pytest.approx(optimum, abs=1e-6)
    assert h.bound <= optimum + 1e-6
    lp, mu = lp_duals(inst)
    assert lp == pytest.approx(h.lp_bound, abs=1e-6)
    assert lagrangian(inst, mu)[0] >= lp - 1e-6  # at the LP's duals: at least the LP
    policies = [
        Closest(inst),
        MinSplits(inst),
        Myopic(inst),
        TransportLookAhead(inst, resolve_every=1),
        OrderLookAhead(inst, resolve_every=1, sample=20),
    ]
    for policy in policies:
        out = simulate(inst, policy)
        assert out.total_cost >= optimum - 1e-6, policy.name
        assert out.total_cost >= h.bound - 1e-6, policy.name


@pytest.mark.parametrize("seed", range(4))
def test_lp_bound_is_the_optimum_when_one_site_holds_everything(seed):
    """One site and ample stock: the LP's packages are integral, so the bound is tight."""
    inst = tiny(seed, orders=5, max_items=3, sites=1)
    inst.inventory[0] = 10
    inst.stocked[0] = True
    h = hindsight(inst)
    assert h.lp_bound == pytest.approx(brute_force(inst), abs=1e-6)


@pytest.mark.parametrize("policy", [TransportLookAhead, OrderLookAhead])
def test_lookahead_never_takes_stock_that_is_not_there(policy):
    """Scarce stock, prices re-solved often: every unit shipped was on the shelf, and the
    stock never goes below zero (``simulate`` checks each plan)."""
    inst = build(Params(n_orders=150, seed=3, inventory_factor=0.6, forecast_orders=5000))
    la = (
        policy(inst, resolve_every=40)
        if policy is TransportLookAhead
        else policy(inst, resolve_every=25, sample=60)
    )
    stock = inst.inventory.copy()
    K = inst.unfilled
    shipped = np.zeros_like(stock)
    for o in range(inst.n_orders):
        assign = la.plan(o, stock)
        items = inst.items(o)
        real = assign < K
        assert (stock[assign[real], items[real]] > 0).all()
        np.subtract.at(stock, (assign[real], items[real]), 1)
        np.add.at(shipped, (assign[real], items[real]), 1)
        assert stock.min() >= 0
    assert (shipped <= inst.inventory).all()
    assert la.solves >= 2 and np.isfinite(la.prices).all() and la.prices.min() >= 0
    out = simulate(inst, policy(inst, resolve_every=50))
    assert out.unfilled_items > 0  # the stock was short: the case the test is about


def test_instance_is_reproducible_and_stock_is_the_expected_demand():
    a, b = (
        build(Params(n_orders=400, seed=7, forecast_orders=20_000)),
        build(Params(n_orders=400, seed=7, forecast_orders=20_000)),
    )
    assert np.array_equal(a.order_items, b.order_items)
    assert np.array_equal(a.inventory, b.inventory)
    c = build(Params(n_orders=400, seed=8, forecast_orders=20_000))
    assert not np.array_equal(a.order_items, c.order_items)
    # the horizon's expected units, rounded up per stocked site-SKU pair
    expected = 400 * a.expected_units.sum()
    assert expected <= a.inventory.sum() <= expected + a.stocked.sum()
    assert set(np.diff(a.order_start)) <= set(range(1, 11))
    assert not (a.inventory[~a.stocked]).any()
