"""Each rule on a small hand-checked case: sites A, B, C, D at 1, 2, 3, 4 degrees east of
the destination (111, 222, 333, 444 km)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine import PRESETS, Inventory, LinearCost, Order, OrderLine, Policy, route
from routing.freight import RateTable

from .conftest import order, ships, site, stock, tiny_table

A, B, C, D = site("A", 1), site("B", 2), site("C", 3), site("D", 4)


def test_closest_ships_each_line_from_the_nearest_site_that_has_it(linear):
    plan = route(order(("x", 1), ("y", 1)), stock(A={"x": 5}, B={"x": 5, "y": 5}), [A, B],
                 linear, "closest")  # fmt: skip
    assert ships(plan) == {"A": [1], "B": [2]}
    assert plan.complete and plan.method == "rules"


def test_min_splits_prefers_one_site_that_has_everything(linear):
    plan = route(order(("x", 1), ("y", 1)), stock(A={"x": 5}, B={"x": 5, "y": 5}), [A, B],
                 linear, "min_splits")  # fmt: skip
    assert ships(plan) == {"B": [1, 2]}


def test_min_splits_breaks_ties_by_distance(linear):
    inv = stock(C={"x": 1, "y": 1}, A={"x": 1, "y": 1}, B={"x": 1})
    plan = route(order(("x", 1), ("y", 1)), inv, [C, A, B], linear, "min_splits")
    assert ships(plan) == {"A": [1, 2]}


def test_min_splits_needs_two_sites_when_no_single_one_fills(linear):
    inv = stock(A={"x": 1}, B={"y": 1}, C={"x": 1, "z": 1}, D={"y": 1, "z": 1})
    plan = route(order(("x", 1), ("y", 1), ("z", 1)), inv, [A, B, C, D], linear, "min_splits")
    # Two sites suffice: the first such pair in distance order is (A, D).
    assert ships(plan) == {"A": [1], "D": [2, 3]}


def test_ranked_sites_of_the_best_rank_come_first_then_fewest_shipments(linear):
    a, b, c = site("A", 1, rank=2), site("B", 2, rank=1), site("C", 3, rank=1)
    inv = stock(A={"x": 9, "y": 9}, B={"x": 9}, C={"x": 9, "y": 9})
    assert ships(route(order(("x", 1), ("y", 1)), inv, [a, b, c], linear, "ranked")) == {
        "C": [1, 2]
    }
    assert ships(route(order(("x", 1), ("y", 1)), inv, [a, b, c], linear, "closest")) == {
        "A": [1, 2]
    }


def test_ranked_falls_to_the_next_rank_for_what_the_first_cannot_ship(linear):
    a, b, c = site("A", 1, rank=2), site("B", 2, rank=1), site("C", 3, rank=1)
    inv = stock(A={"y": 9}, B={"x": 9}, C={"x": 9})
    plan = route(order(("x", 1), ("y", 1)), inv, [a, b, c], linear, "ranked")
    assert ships(plan) == {"A": [2], "B": [1]}


def test_most_stock_picks_the_site_holding_most_of_the_orders_skus(linear):
    inv = stock(A={"x": 2, "y": 2}, B={"x": 10, "y": 10})
    plan = route(order(("x", 1), ("y", 1)), inv, [A, B], linear, "most_stock")
    assert ships(plan) == {"B": [1, 2]}
    report = {r.site: r for r in plan.sites}
    assert dict(report["B"].score)["most_stock"] == -20


def test_market_keeps_only_sites_of_the_destinations_market(linear):
    a, b = site("A", 1, market="east"), site("B", 2, market="west")
    plan = route(order(("x", 1), market="west"), stock(A={"x": 1}, B={"x": 1}), [a, b],
                 linear, "local")  # fmt: skip
    assert ships(plan) == {"B": [1]}
    assert {r.site: (r.status, r.reason) for r in plan.sites}["A"] == (
        "excluded",
        "outside the destination market west",
    )


def test_stock_only_in_another_market_is_a_back_order_that_says_so(linear):
    a = site("A", 1, market="east")
    plan = route(order(("x", 1), market="west"), stock(A={"x": 1}), [a], linear, "local")
    assert not plan.shipments
    assert "only at excluded sites (A: outside the destination market west)" in (
        plan.unfilled[0].reason
    )


def test_capacity_skips_a_site_that_is_full_today(linear):
    a = site("A", 1, capacity=1)
    inv = Inventory.from_levels({"A": {"x": 5}, "B": {"x": 5}}, load={"A": 1})
    plan = route(order(("x", 1)), inv, [a, B], linear, "closest")
    assert ships(plan) == {"B": [1]}
    assert plan.sites[0].reason == "at its daily capacity"
    inv.load[0] = 0
    assert ships(route(order(("x", 1)), inv, [a, B], linear, "closest")) == {"A": [1]}


def test_ship_together_group_goes_whole_to_one_site(linear):
    inv = stock(A={"x": 5, "z": 5}, B={"x": 5, "y": 5, "z": 5})
    o = order(("x", 1), ("y", 1), ("z", 1), groups=((1, 2),))
    assert ships(route(o, inv, [A, B], linear, "closest")) == {"A": [3], "B": [1, 2]}


def test_a_group_no_site_has_whole_is_back_ordered(linear):
    inv = stock(A={"x": 5}, B={"y": 5})
    plan = route(order(("x", 1), ("y", 1), groups=((1, 2),)), inv, [A, B], linear, "closest")
    assert not plan.shipments
    assert [u.line_no for u in plan.unfilled] == [1, 2]
    assert "ship together" in plan.unfilled[0].reason


def test_max_splits_back_orders_what_would_need_another_shipment(linear):
    plan = route(order(("x", 1), ("y", 1)), stock(A={"x": 1}, B={"y": 1}), [A, B], linear,
                 "closest;max_splits=1")  # fmt: skip
    assert ships(plan) == {"A": [1]}
    assert plan.unfilled[0].line_no == 2
    assert plan.unfilled[0].reason.startswith("max_splits=1 reached")


def test_split_lines_ships_one_lines_units_from_several_sites(linear):
    plan = route(order(("x", 5)), stock(A={"x": 3}, B={"x": 2}), [A, B], linear, "min_splits")
    assert {s.site: s.lines for s in plan.shipments} == {
        "A": ((1, "x", 3),),
        "B": ((1, "x", 2),),
    }
    assert plan.complete


def test_split_lines_no_back_orders_a_line_no_site_has_whole(linear):
    plan = route(order(("x", 5)), stock(A={"x": 3}, B={"x": 2}), [A, B], linear,
                 "min_splits;split_lines=no")  # fmt: skip
    assert not plan.shipments
    assert plan.unfilled[0].reason == "not enough x at any eligible site (most: A has 3 of 5)"


def test_split_ships_what_there_is_and_back_orders_the_rest(linear):
    plan = route(order(("x", 5)), stock(A={"x": 3}, B={"x": 1}), [A, B], linear, "closest")
    assert sum(q for s in plan.shipments for _, _, q in s.lines) == 4
    assert [(u.line_no, u.qty) for u in plan.unfilled] == [(1, 1)]


def test_an_order_no_site_can_fill_is_back_ordered_with_its_reason(linear):
    plan = route(order(("x", 1), ("nope", 2)), stock(A={"x": 1}), [A, B], linear)
    assert ships(plan) == {"A": [1]}
    (u,) = plan.unfilled
    assert (u.line_no, u.sku, u.qty, u.reason) == (2, "nope", 2, "nope is in stock at no site")


def test_cheapest_ranks_sites_by_the_cost_of_one_package():
    table = tiny_table()
    near, far = site("N", 1), site("F", 6)  # 111 km ("near" zone) and 667 km ("far")
    plan = route(order(("x", 1)), stock(F={"x": 1}, N={"x": 1}), [far, near], table, "cheapest")
    assert ships(plan) == {"N": [1]}
    est = {r.site: r.est_cost for r in plan.sites}
    assert est == {"F": pytest.approx(8 * 1.1), "N": pytest.approx(5 * 1.1)}


def test_tie_break_by_rank_then_site_id(linear):
    east, west = site("E", 1, rank=1), site("W", -1, rank=0)  # the same distance
    inv = stock(E={"x": 1}, W={"x": 1})
    assert ships(route(order(("x", 1)), inv, [east, west], linear, "closest")) == {"W": [1]}
    east0 = site("E", 1, rank=0)
    assert ships(route(order(("x", 1)), inv, [west, east0], linear, "closest")) == {"E": [1]}


def _ground_only() -> RateTable:
    t = tiny_table()
    d = dict(t.source)
    carriers = {"C": dict(d["carriers"]["C"])}
    carriers["C"]["services"] = {"Ground": d["carriers"]["C"]["services"]["Ground"]}
    d["carriers"] = carriers
    return RateTable.from_dict(d)


def test_hard_promise_excludes_sites_that_cannot_meet_it():
    near, far = site("N", 1), site("F", 6)  # Ground: 2 days near, 4 days far
    inv = stock(F={"x": 1}, N={"y": 1})
    o = order(("x", 1), ("y", 1), promise_days=2)
    plan = route(o, inv, [near, far], _ground_only(), "closest;promise=hard")
    assert ships(plan) == {"N": [2]}
    assert "no service meets the delivery promise" in plan.unfilled[0].reason
    soft = route(o, inv, [near, far], _ground_only(), "closest")
    assert ships(soft) == {"F": [1], "N": [2]}
    assert [s.late for s in soft.shipments] == [True, False]


def test_every_site_gets_a_report_that_says_why(linear):
    a = site("A", 1, market="east")
    inv = stock(A={"x": 1}, B={"x": 1}, C={"x": 1})
    plan = route(order(("x", 1), market="US"), inv, [a, B, C], linear,
                 "market,closest")  # fmt: skip
    by = {r.site: r for r in plan.sites}
    assert by["A"].status == "excluded"
    assert by["B"].status == "chosen" and "first in order" in by["B"].reason
    assert by["C"].status == "not chosen" and "B came first (222 km" in by["C"].reason
    assert by["B"].distance_km == pytest.approx(222.4, abs=0.5)
    assert "closest" in plan.summary


def test_routing_reads_the_inventory_and_never_changes_it(linear):
    inv = stock(A={"x": 5}, B={"x": 5, "y": 5})
    before = inv.qty.copy()
    route(order(("x", 2), ("y", 1)), inv, [A, B], linear, "closest")
    assert (inv.qty == before).all()


def test_policy_specs_compose_and_unknown_names_are_refused():
    p = Policy.parse("market,min_splits,closest;max_splits=2;split_lines=no")
    assert p.filters == ("market",)
    assert p.sorts == ("closest", "ranked")  # the tie-break is appended
    assert (p.consolidate_at, p.max_splits, p.split_lines) == (0, 2, False)
    assert Policy.parse("ranked;max_splits=1").rules == ("capacity", "ranked", "min_splits",
                                                         "closest")  # fmt: skip
    assert Policy.named("cost_optimal").optimal
    with pytest.raises(ValueError, match="unknown rule 'nearest'"):
        Policy.parse("nearest")
    with pytest.raises(ValueError, match="unknown policy"):
        Policy.named("fastest")
    with pytest.raises(ValueError, match="unknown option"):
        Policy.parse("closest;speed=11")


@st.composite
def _instances(draw):
    n_sites = draw(st.integers(1, 4))
    sites = [site(f"S{k}", draw(st.floats(-5, 5)), rank=draw(st.integers(0, 2)),
                  market=draw(st.sampled_from(["e", "w"])),
                  capacity=draw(st.sampled_from([None, 0, 5])))
             for k in range(n_sites)]  # fmt: skip
    skus = ["x", "y", "z"]
    lines = [(draw(st.sampled_from(skus)), draw(st.integers(1, 4)))
             for _ in range(draw(st.integers(1, 4)))]  # fmt: skip
    groups = ((1, 2),) if len(lines) > 1 and draw(st.booleans()) else ()
    o = order(*lines, groups=groups, market=draw(st.sampled_from(["e", "w"])))
    levels = {s.id: {k: draw(st.integers(0, 5)) for k in skus} for s in sites}
    return o, Inventory.from_levels(levels), sites


@settings(max_examples=60, deadline=None)
@given(_instances(), st.sampled_from([*PRESETS, "local;max_splits=1", "closest;split_lines=no",
                                      "ranked;max_splits=2", "min_splits,cost_optimal"]))  # fmt: skip
def test_every_policy_keeps_the_invariants(inst, spec):
    o, inv, sites = inst
    plan = route(o, inv, sites, LinearCost.jasin_sinha(), spec)
    pol = Policy.parse(spec)
    sent: dict[tuple[str, str], int] = {}
    per_line: dict[int, int] = {}
    for s in plan.shipments:
        for n, sku, q in s.lines:
            sent[s.site, sku] = sent.get((s.site, sku), 0) + q
            per_line[n] = per_line.get(n, 0) + q
    for (site_id, sku), q in sent.items():
        assert q <= inv.available(site_id, sku)  # never more than the stock
    for u in plan.unfilled:
        per_line[u.line_no] = per_line.get(u.line_no, 0) + u.qty
        assert u.reason
    assert per_line == {ln.line_no: ln.qty for ln in o.lines}  # shipped + back-ordered
    if pol.max_splits:
        assert len(plan.shipments) <= pol.max_splits
    by_site = {r.site: r for r in plan.sites}
    for s in plan.shipments:
        assert by_site[s.site].status == "chosen"
        site_obj = next(x for x in sites if x.id == s.site)
        if "market" in pol.filters:
            assert site_obj.market == o.market
        if "capacity" in pol.filters:
            assert site_obj.capacity != 0  # a full site never ships
    for g in o.groups:  # a group ships whole from one site, or not at all
        homes = {s.site for s in plan.shipments for n, _, _ in s.lines if n in g}
        assert len(homes) <= 1
        if homes:
            assert all(any(n == m for s in plan.shipments for m, _, _ in s.lines) for n in g)
    assert len(plan.sites) == len(sites)


def test_a_line_no_carrier_takes_from_one_site_ships_from_another():
    """Under a hard 2-day promise the far site F may only use Express, which takes 5 kg at
    most; the near site N's Ground takes 8 kg. The rules put the heavy line at F first
    (rank 0): its package is refused, so it goes to N, and F still ships the light line."""
    ground = {"mode": "road", "fuel": 0.1, "transit_days": [2, 4], "weights": [1, 5, 10],
              "rates": [[5, 8], [7, 12], [10, 20]]}  # fmt: skip
    express_5kg = {"mode": "air", "fuel": 0.0, "transit_days": [1, 1], "weights": [1, 5],
                   "rates": [[20, 30], [25, 40]]}  # fmt: skip
    carrier = {"dim_divisor": 5000, "dim_min_volume": 0, "pickup_hour": 18,
               "services": {"Ground": ground, "Express": express_5kg}}  # fmt: skip
    table = tiny_table(carriers={"C": carrier})
    near, far = site("N", 1, rank=1), site("F", 6, rank=0)
    heavy = OrderLine(1, "x", 1, 8000.0, (100.0, 100.0, 100.0))
    light = OrderLine(2, "y", 1, 500.0, (100.0, 100.0, 100.0))
    o = Order("SO", 0.0, 0.0, (heavy, light), promise_days=2)
    inv = stock(F={"x": 1, "y": 1}, N={"x": 1})
    for spec in ("ranked;promise=hard", "ranked,closest;promise=hard"):
        plan = route(o, inv, [far, near], table, spec)
        assert ships(plan) == {"F": [2], "N": [1]}, spec
        assert plan.complete
    alone = stock(F={"x": 1, "y": 1})  # only F has the heavy line
    plan = route(o, alone, [far, near], table, "ranked;promise=hard")
    assert ships(plan) == {"F": [2]}
    (u,) = plan.unfilled
    assert (u.line_no, u.reason) == (
        1,
        "no carrier service takes the package from any site that has it",
    )
