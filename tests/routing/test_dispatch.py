"""route_pending: the queue routed to the nearest site with stock, reserved, streamed."""

from __future__ import annotations

import pytest

from routing import feed, geo
from routing.dispatch import route_pending
from routing.engine import LinearCost
from routing.engine_io import StationPicker
from routing.explain import decisions

from .twosite import NYC, SF, add_order, available, make_hub, order_row, stream_types


@pytest.fixture
def db():
    return make_hub()


def test_the_two_site_distances_are_what_the_fixture_says():
    wh1, wh2 = geo.postal_centroid("07102"), geo.postal_centroid("90001")
    nyc, sf = geo.postal_centroid("10001"), geo.postal_centroid("94105")
    assert geo.haversine_km(*nyc, *wh1) < 20 < 3_900 < geo.haversine_km(*nyc, *wh2)
    assert geo.haversine_km(*sf, *wh2) < 600 < 4_000 < geo.haversine_km(*sf, *wh1)


def test_each_order_goes_to_the_nearest_site_that_has_its_stock(db):
    east = add_order(db, "E1", NYC, ("SKU-A", 2))
    west = add_order(db, "W1", SF, ("SKU-A", 1))
    b_east = add_order(db, "E2", NYC, ("SKU-B", 1))  # only WH2 has SKU-B
    summary = route_pending(db, "closest")
    assert summary.held == {} and sorted(summary.routed) == sorted([east, west, b_east])
    assert order_row(db, east)["site"] == "WH1"
    assert order_row(db, west)["site"] == "WH2"
    assert order_row(db, b_east)["site"] == "WH2"
    assert order_row(db, east)["status"] == "assigned"
    assert order_row(db, east)["carrier"] and order_row(db, east)["service"]


def test_routing_reserves_the_stock_in_the_ledger(db):
    add_order(db, "E1", NYC, ("SKU-A", 2))
    add_order(db, "W1", SF, ("SKU-A", 3))
    route_pending(db, "closest")
    assert available(db, "WH1", "SKU-A") == 8
    assert available(db, "WH2", "SKU-A") == 7
    kinds = db.execute("SELECT DISTINCT kind FROM ledger WHERE order_id IS NOT NULL").fetchall()
    assert kinds == [("reservation",)]


def test_order_assigned_goes_to_the_least_loaded_station_of_the_site(db):
    first = add_order(db, "E1", NYC, ("SKU-A", 1))
    second = add_order(db, "E2", NYC, ("SKU-A", 1))
    third = add_order(db, "E3", NYC, ("SKU-A", 1))
    route_pending(db, "closest")
    assert stream_types(db, "WH1-PACK-01") == [("order_assigned", first), ("order_assigned", third)]
    assert stream_types(db, "WH1-PACK-02") == [("order_assigned", second)]
    assert stream_types(db, "WH2-PACK-01") == []


def test_an_online_station_is_preferred_to_an_idle_offline_one(db):
    db.execute(
        "INSERT INTO presence (station, online, bd_seq, status, updated_at) "
        "VALUES ('WH1-PACK-02', 1, 1, '{}', '')"
    )
    feed.assign_order(db, "WH1", "WH1-PACK-02", {
        "order_id": "BUSY", "order_ref": "BUSY", "ship_by": "2030-01-01T00:00:00Z",
        "ship_to": {"name": "x"}, "carrier": "UPS", "service": "Ground",
        "lines": [{"line_no": 1, "sku": "SKU-A", "qty": 1}],
    })  # fmt: skip
    assert StationPicker(db).pick("WH1") == "WH1-PACK-02"


def test_an_order_no_site_can_fill_is_held_with_the_engines_reason(db):
    order = add_order(db, "E1", NYC, ("SKU-C", 1))
    summary = route_pending(db, "closest")
    row = order_row(db, order)
    assert row["status"] == "on_hold" and row["station"] is None
    assert "SKU-C" in row["hold_reason"] and "in stock at no site" in row["hold_reason"]
    assert summary.held == {order: row["hold_reason"]}
    assert db.execute("SELECT count(*) FROM ledger WHERE order_id = ?", [order]).fetchone() == (0,)


def test_what_can_ship_ships_and_the_rest_is_a_held_back_order(db):
    order = add_order(db, "E1", NYC, ("SKU-A", 1), ("SKU-C", 2))
    summary = route_pending(db, "closest")
    assert summary.routed == [order] and list(summary.backorders) == [f"{order}-B1"]
    assert order_row(db, order)["site"] == "WH1"
    lines = db.execute("SELECT sku, qty FROM order_lines WHERE order_id = ?", [order]).fetchall()
    assert lines == [("SKU-A", 1)]
    back = order_row(db, f"{order}-B1")
    assert back["status"] == "on_hold" and "SKU-C" in back["hold_reason"]
    assert db.execute(
        "SELECT parent_order_id, kind FROM order_parts WHERE order_id = ?", [f"{order}-B1"]
    ).fetchone() == (order, "backorder")


def test_stock_taken_by_one_order_is_not_promised_to_the_next(db):
    first = add_order(db, "E1", NYC, ("SKU-B", 4))
    second = add_order(db, "E2", NYC, ("SKU-B", 4))  # WH2 has 5: 1 left for the second
    summary = route_pending(db, "closest")
    assert set(summary.routed) == {first, second} and list(summary.backorders) == [f"{second}-B1"]
    assert available(db, "WH2", "SKU-B") == 0
    back = db.execute("SELECT qty FROM order_lines WHERE order_id = ?", [f"{second}-B1"])
    assert back.fetchall() == [(3,)]
    assert "not enough SKU-B" in summary.backorders[f"{second}-B1"]


def test_running_twice_routes_nothing_twice(db):
    order = add_order(db, "E1", NYC, ("SKU-A", 2))
    route_pending(db, "closest")
    again = route_pending(db, "closest")
    assert again.orders == 0 and again.routed == []
    assert available(db, "WH1", "SKU-A") == 8
    assert stream_types(db, "WH1-PACK-01") + stream_types(db, "WH1-PACK-02") == [
        ("order_assigned", order)
    ]
    assert len(decisions(db, order)) == 1


def test_each_decision_is_kept_with_its_plan(db):
    order = add_order(db, "W1", SF, ("SKU-A", 1))
    route_pending(db, "closest")
    [decision] = decisions(db, order)
    assert decision["outcome"] == "routed"
    plan = decision["plan"]
    assert plan["order_id"] == order and plan["shipments"][0]["site"] == "WH2"
    assert plan["shipments"][0]["distance_km"] < 600
    reports = {r["site"]: r for r in plan["sites"]}
    assert reports["WH2"]["status"] == "chosen" and reports["WH1"]["status"] != "chosen"


def test_a_split_part_answers_with_its_parents_decision(db):
    order = add_order(db, "E1", NYC, ("SKU-A", 1), ("SKU-B", 1))
    route_pending(db, "closest;split_lines=yes")  # closest without min_splits: two packages
    parts = db.execute("SELECT order_id FROM order_parts WHERE parent_order_id = ?", [order])
    [(part,)] = parts.fetchall()
    assert order_row(db, part)["site"] == "WH2"
    assert decisions(db, part)[0]["order_id"] == order


def test_limit_routes_only_that_many(db):
    for n in range(5):
        add_order(db, f"E{n}", NYC, ("SKU-A", 1))
    assert route_pending(db, "closest", limit=2).orders == 2
    assert route_pending(db, "closest").orders == 3


def test_chunks_see_what_earlier_chunks_reserved(db):
    orders = [add_order(db, f"E{n}", NYC, ("SKU-B", 1)) for n in range(7)]
    summary = route_pending(db, "closest", chunk=2)
    assert summary.routed == orders[:5] and list(summary.held) == orders[5:]
    assert "in stock at no site" in summary.held[orders[5]]
    assert available(db, "WH2", "SKU-B") == 0


def test_a_destination_that_cannot_be_placed_is_held(db):
    order = add_order(db, "E1", ("Nowhere", "00000"), ("SKU-A", 1))
    summary = route_pending(db, "closest")
    assert "cannot route" in summary.held[order]
    assert order_row(db, order)["status"] == "on_hold"


def test_without_a_located_site_nothing_happens(tmp_path):
    from routing import store

    db = store.open_db(tmp_path / "hub.db")
    feed.ensure_station(db, "WH1", "WH1-PACK-01")
    feed.upsert_sku(db, "WH1", {"sku": "SKU-A", "name": "A", "weight_g": 1, "length_mm": 1,
                                "width_mm": 1, "height_mm": 1})  # fmt: skip
    order = add_order(db, "E1", NYC, ("SKU-A", 1))
    assert route_pending(db, "closest").orders == 0
    assert order_row(db, order)["status"] == "new"


def test_a_site_at_its_daily_capacity_gets_no_more_orders(db):
    from routing import sites

    sites.set_site(db, "WH1", capacity=2)
    feed.assign_order(db, "WH1", "WH1-PACK-01", {
        "order_id": "TODAY", "order_ref": "TODAY", "ship_by": "2030-01-01T00:00:00Z",
        "ship_to": {"name": "x"}, "carrier": "UPS", "service": "Ground",
        "lines": [{"line_no": 1, "sku": "SKU-A", "qty": 1}],
    })  # fmt: skip
    first = add_order(db, "E1", NYC, ("SKU-A", 1))
    second = add_order(db, "E2", NYC, ("SKU-A", 1))
    route_pending(db, "closest")
    assert order_row(db, first)["site"] == "WH1"  # the second package of WH1's day
    assert order_row(db, second)["site"] == "WH2"  # WH1 is full


def test_an_unknown_policy_is_refused(db):
    with pytest.raises(ValueError, match="nearest"):
        route_pending(db, "nearest")


class _FailsFor(LinearCost):
    """A cost model (the engine's plug-in point) that cannot price one order."""

    def __init__(self, order_id: str) -> None:
        super().__init__()  # Jasin & Sinha's figures
        object.__setattr__(self, "order_id", order_id)

    def prepare(self, ctx):
        if ctx.order.id == self.order_id:
            raise IndexError("no price")
        return super().prepare(ctx)


def test_an_order_the_engine_fails_on_is_held_and_the_rest_routed(db):
    bad = add_order(db, "E1", NYC, ("SKU-A", 1))
    good = add_order(db, "E2", NYC, ("SKU-A", 1))
    summary = route_pending(db, "closest", rates=_FailsFor(bad))
    assert summary.held == {bad: "routing failed: IndexError: no price"}
    assert summary.routed == [good]


@pytest.mark.parametrize("bulk", [True, False])
@pytest.mark.parametrize("policy", ["min_splits", "cost_optimal"])
def test_two_units_too_heavy_for_one_package_become_two_parts_at_one_site(db, bulk, policy):
    # 40 kg a unit: the bundled services take 150 lb (68 kg) a package, so two units
    # ship from WH1 as two packages: the order and its part -2, both at one of WH1's two
    # stations (one packer picks and packs the order's packages).
    feed.upsert_sku(db, "WH1", {"sku": "SKU-H", "name": "anvil", "weight_g": 40_000,
                                "length_mm": 300, "width_mm": 200, "height_mm": 200})  # fmt: skip
    feed.record_movement(db, "WH1", "SKU-H", 3, "receipt", "po:WH1:SKU-H")
    oid = add_order(db, "H1", NYC, ("SKU-H", 2))
    summary = route_pending(db, policy, bulk=bulk)
    assert summary.held == {}
    part = f"{oid}-2"
    rows = {o: order_row(db, o) for o in (oid, part)}
    assert {r["site"] for r in rows.values()} == {"WH1"}
    assert {r["status"] for r in rows.values()} == {"assigned"}
    assert len({r["station"] for r in rows.values()}) == 1
    qty = dict(db.execute(
        "SELECT order_id, qty FROM order_lines WHERE order_id IN (?, ?)", [oid, part]
    ).fetchall())  # fmt: skip
    assert qty == {oid: 1, part: 1}
    assert available(db, "WH1", "SKU-H") == 1  # each unit reserved once
    held = db.execute(
        "SELECT -SUM(qty) FROM ledger WHERE sku = 'SKU-H' AND kind = 'reservation'"
    ).fetchone()[0]
    assert held == 2
    parent = db.execute(
        "SELECT parent_order_id FROM order_parts WHERE order_id = ?", [part]
    ).fetchone()
    assert parent == (oid,)
    # The decision, read back for the order and for its part, says why: two packages.
    for o in (oid, part):
        [decision] = decisions(db, o)
        plan = decision["plan"]
        assert [s["site"] for s in plan["shipments"]] == ["WH1", "WH1"]
        assert "sites_note" not in plan  # replayed: the same two packages
