"""More than one package from one site: units that each ship alone but not together (the
tiny table's largest break is 10 kg), whole lines and the pieces of a line split across
sites, for the rule policies and cost-optimal. Hand-checked: both sites are in the near
zone, where Ground costs 10 x 1.1 fuel = 11.00 for 5-10 kg."""

from __future__ import annotations

import pytest

from routing.engine import Order, OrderLine, route

from .conftest import DEST, site, stock, tiny_table

NO_CARRIER = "no carrier service takes the package from any site that has it"
POLICIES = ["closest", "min_splits", "ranked", "cheapest", "cost_optimal",
            "min_splits,cost_optimal", "cost_optimal;solver=mip"]  # fmt: skip
SITES = [site("A", 1.0), site("B", 3.0)]  # 111 and 333 km: both near


def heavy(*lines: tuple[str, int, float], groups=()) -> Order:
    """An order to DEST of ``(sku, qty, kg a unit)`` lines, 10 cm cubes."""
    return Order(
        "SO-H", *DEST,
        tuple(OrderLine(n, sku, q, kg * 1000, (100.0, 100.0, 100.0))
              for n, (sku, q, kg) in enumerate(lines, 1)),
        groups=groups,
    )  # fmt: skip


def packages(plan) -> list[tuple[str, tuple]]:
    return [(s.site, s.lines) for s in plan.shipments]


@pytest.mark.parametrize("policy", POLICIES)
def test_two_units_too_heavy_together_ship_as_two_packages_from_one_site(policy):
    plan = route(heavy(("K", 2, 6.0)), stock(A={"K": 2}, B={}), SITES, tiny_table(), policy)
    assert packages(plan) == [("A", ((1, "K", 1),)), ("A", ((1, "K", 1),))]
    assert not plan.unfilled
    assert [s.weight_g for s in plan.shipments] == [6000.0, 6000.0]
    assert plan.total_cost == pytest.approx(22.0)  # 2 x 11.00: each package priced
    assert "A ships 2 packages (no one package holds its share)" in plan.summary


@pytest.mark.parametrize("policy", POLICIES)
def test_lines_that_fit_together_stay_one_package(policy):
    # 4 + 5 kg = 9 kg: one package, as before.
    plan = route(heavy(("K", 1, 4.0), ("L", 1, 5.0)), stock(A={"K": 1, "L": 1}), SITES,
                 tiny_table(), policy)  # fmt: skip
    assert packages(plan) == [("A", ((1, "K", 1), (2, "L", 1)))]
    assert plan.total_cost == pytest.approx(11.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_first_fit_decreasing_fills_packages_heaviest_first(policy):
    # 6, 3 and 3 kg... heaviest first: [6, 3] 9 kg, then [3] (a 3 kg unit fits no 9 kg box).
    plan = route(heavy(("S", 2, 3.0), ("K", 1, 6.0)), stock(A={"K": 1, "S": 2}), SITES,
                 tiny_table(), policy)  # fmt: skip
    assert packages(plan) == [("A", ((1, "S", 1), (2, "K", 1))), ("A", ((1, "S", 1),))]
    # 9 kg (5-10 kg: 11.00) and 3 kg (1-5 kg: 7 x 1.1 = 7.70).
    assert plan.total_cost == pytest.approx(18.7)


@pytest.mark.parametrize("policy", POLICIES)
def test_the_pieces_of_a_split_line_are_packed_too(policy):
    # No site has 3: A ships 2 (two packages, 12 kg together), B ships 1.
    plan = route(heavy(("K", 3, 6.0)), stock(A={"K": 2}, B={"K": 1}), SITES, tiny_table(),
                 policy)  # fmt: skip
    assert sorted(packages(plan)) == [("A", ((1, "K", 1),)), ("A", ((1, "K", 1),)),
                                      ("B", ((1, "K", 1),))]  # fmt: skip
    assert not plan.unfilled
    assert plan.total_cost == pytest.approx(33.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_unit_no_service_takes_alone_is_still_back_ordered(policy):
    # 12 kg a unit: over every break even alone; the 6 kg units still ship, two boxes.
    plan = route(heavy(("K", 2, 6.0), ("X", 1, 12.0)), stock(A={"K": 2, "X": 1}), SITES,
                 tiny_table(), policy)  # fmt: skip
    assert packages(plan) == [("A", ((1, "K", 1),)), ("A", ((1, "K", 1),))]
    ((line, qty, reason),) = [(u.line_no, u.qty, u.reason) for u in plan.unfilled]
    assert (line, qty, reason) == (2, 1, NO_CARRIER)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_ship_together_group_is_one_package_or_back_ordered(policy):
    # Lines 1 and 2 must ship together: 12 kg in one package, which no service takes.
    order = heavy(("K", 1, 6.0), ("L", 1, 6.0), ("M", 1, 1.0), groups=((1, 2),))
    plan = route(order, stock(A={"K": 1, "L": 1, "M": 1}), SITES, tiny_table(), policy)
    assert packages(plan) == [("A", ((3, "M", 1),))]
    assert sorted((u.line_no, u.qty) for u in plan.unfilled) == [(1, 1), (2, 1)]
    assert all(u.reason == NO_CARRIER for u in plan.unfilled)


def test_cost_optimal_weighs_two_packages_against_a_split():
    # A has both (2 x 11.00 near); B (far: 4,440 km) has one. Two from A beat A + B.
    sites = [site("A", 1.0), site("B", 40.0)]
    plan = route(heavy(("K", 2, 6.0)), stock(A={"K": 2}, B={"K": 1}), sites, tiny_table(),
                 "cost_optimal")  # fmt: skip
    assert [s.site for s in plan.shipments] == ["A", "A"]
    assert plan.total_cost == pytest.approx(22.0)


def test_a_plan_of_packages_reserves_each_unit_once():
    inv = stock(A={"K": 3}, B={})
    plan = route(heavy(("K", 3, 6.0)), inv, SITES, tiny_table(), "min_splits")
    assert len(plan.shipments) == 3
    inv.reserve(plan)
    assert inv.available("A", "K") == 0
    assert int(inv.load[inv.site_index["A"]]) == 3  # packages, for daily capacity
