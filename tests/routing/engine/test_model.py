"""The engine's data: orders are validated, the inventory snapshot, plans as JSON, and the
engine stays a pure library (no database, no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from routing.engine import Inventory, Network, Order, OrderLine, Router, route

from .conftest import order, site, stock


def test_orders_refuse_bad_lines_and_groups():
    line = OrderLine(1, "x", 1)
    with pytest.raises(ValueError, match="no lines"):
        Order("o", 0, 0, ())
    with pytest.raises(ValueError, match="repeated line numbers"):
        Order("o", 0, 0, (line, line))
    with pytest.raises(ValueError, match="qty must be > 0"):
        Order("o", 0, 0, (OrderLine(1, "x", 0),))
    with pytest.raises(ValueError, match="ship-together group"):
        Order("o", 0, 0, (line,), groups=((1, 2),))
    with pytest.raises(ValueError, match="a deadline needs placed_at"):
        Order("o", 0, 0, (line,), deadline=datetime(2026, 1, 2).date())


def test_an_order_can_be_addressed_by_zip_code():
    o = Order.at_postal_code("o", "10001", [OrderLine(1, "x", 1)])
    assert (round(o.lat, 2), round(o.lon, 2), o.postal_code) == (40.75, -74.0, "10001")


def test_inventory_from_levels_mapping_and_reservations():
    inv = Inventory.from_levels({"A": {"x": 3}, "B": {"y": 2}}, sites=["A", "B", "C"])
    assert inv.sites == ("A", "B", "C") and inv.skus == ("x", "y")
    assert (inv.available("A", "x"), inv.available("C", "x"), inv.available("A", "nope")) == (
        3, 0, 0,
    )  # fmt: skip
    same = Inventory.from_mapping({("A", "x"): 3, ("B", "y"): 2}, sites=["A", "B", "C"])
    assert (same.qty == inv.qty).all()
    a, b = site("A", 1), site("B", 2)
    plan = route(order(("x", 2), ("y", 1)), inv, [a, b], None, "closest")
    inv.reserve(plan)
    assert (inv.available("A", "x"), inv.available("B", "y"), list(inv.load)) == (1, 1, [1, 1, 0])
    inv.release(plan)
    assert (inv.available("A", "x"), list(inv.load)) == (3, [0, 0, 0])


def test_the_inventory_rows_need_not_follow_the_sites_order(linear):
    inv = stock(B={"x": 1}, A={"x": 1})  # rows B, A; the network says A, B
    plan = route(order(("x", 1)), inv, [site("A", 1), site("B", 2)], linear, "closest")
    assert plan.shipments[0].site == "A"
    plan = route(order(("x", 1)), inv, [site("A", 1), site("Z", 0.5)], linear, "closest")
    assert plan.shipments[0].site == "A"  # Z is not in the inventory: it has nothing


def test_a_plan_is_json_and_explains_itself():
    placed = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    o = order(("x", 1), ("y", 2), placed_at=placed, promise_days=3)
    plan = route(o, stock(A={"x": 1, "y": 2}, B={"x": 1}), [site("A", 1), site("B", 2)])
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["order_id"] == "SO-1" and data["policy"] == "min_splits"
    (s,) = data["shipments"]
    assert s["site"] == "A" and s["lines"][1] == {"line_no": 2, "sku": "y", "qty": 2}
    assert s["promised_date"] and s["co2_kg"] > 0 and s["carrier"]
    assert [r["status"] for r in data["sites"]] == ["chosen", "not chosen"]
    text = plan.explain()
    assert "ship A ->" in text and "not chosen" in text


def test_router_reuses_its_network_and_policy(linear):
    net = Network([site("A", 1), site("B", 2)])
    router = Router(net, linear, "closest")
    inv = stock(A={"x": 1}, B={"x": 1})
    assert router.route(order(("x", 1)), inv).shipments[0].site == "A"
    assert router.network is net and router.policy.name == "closest"


def test_the_engine_does_no_io():
    """routing.engine imports no database, network or UI library (STYLE.md: pure engine)."""
    code = (
        "import sys, routing.engine, routing.freight, routing.geo\n"
        "bad = [m for m in ('sqlite3', 'sqlite_utils', 'paho', 'textual', 'socket', "
        "'station', 'sync') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
