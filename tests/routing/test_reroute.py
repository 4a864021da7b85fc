"""A short pick routes the missing units again, to a site that has them, exactly once."""

from __future__ import annotations

import pytest

from routing import feed
from routing.apply import receive_events
from routing.dispatch import route_pending
from tests.sync.fake_station import StationLog

from .twosite import NYC, add_order, available, make_hub, order_row


@pytest.fixture
def db():
    return make_hub()


@pytest.fixture
def routed(db):
    """CSV-E1 (3 x SKU-A to New York) routed to WH1, and the station it went to."""
    order = add_order(db, "E1", NYC, ("SKU-A", 3))
    route_pending(db, "closest")
    row = order_row(db, order)
    assert row["site"] == "WH1"
    return order, row["station"]


def children(db, order_id: str) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT order_id, kind FROM order_parts WHERE parent_order_id = ? ORDER BY order_id",
        [order_id],
    )
    return rows.fetchall()


def lines(db, order_id: str) -> list[tuple[int, str, int]]:
    rows = db.execute(
        "SELECT line_no, sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no",
        [order_id],
    )
    return rows.fetchall()


def test_a_short_line_becomes_a_new_order_for_the_missing_units(db, routed):
    order, station = routed
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 2)
    receive_events(db, "WH1", station, log.events)
    assert children(db, order) == [(f"{order}-R1", "short")]
    assert lines(db, f"{order}-R1") == [(1, "SKU-A", 2)]
    row = order_row(db, f"{order}-R1")
    assert row["status"] == "new" and row["station"] is None
    assert order_row(db, order)["status"] == "assigned"  # the station packs the rest


def test_the_missing_units_go_to_the_other_site(db, routed):
    order, station = routed
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 2)
    receive_events(db, "WH1", station, log.events)
    assert available(db, "WH1", "SKU-A") == 7  # 8 on hand, 1 still reserved: WH1 "has" it
    summary = route_pending(db, "closest")
    assert summary.routed == [f"{order}-R1"]
    assert order_row(db, f"{order}-R1")["site"] == "WH2"  # never back to the short site
    assert available(db, "WH2", "SKU-A") == 8


def test_replaying_the_event_creates_no_second_order(db, routed):
    order, station = routed
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 2)
    receive_events(db, "WH1", station, log.events)
    receipt = receive_events(db, "WH1", station, log.events)  # a QoS 1 duplicate
    assert receipt.duplicates == 1
    assert children(db, order) == [(f"{order}-R1", "short")]


def test_the_packed_orders_final_word_routes_only_what_is_new(db, routed):
    order, station = routed
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 1)
    log.pack(order, {1: 3}, short={1: 2})  # at the end, 2 were missing, not 1
    receive_events(db, "WH1", station, log.events)
    assert children(db, order) == [(f"{order}-R1", "short"), (f"{order}-R2", "short")]
    assert lines(db, f"{order}-R1") + lines(db, f"{order}-R2") == [(1, "SKU-A", 1)] * 2


def test_a_packed_order_that_repeats_the_count_adds_nothing(db, routed):
    order, station = routed
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 2)
    log.pack(order, {1: 3}, short={1: 2})
    receive_events(db, "WH1", station, log.events)
    assert children(db, order) == [(f"{order}-R1", "short")]


def test_units_routed_again_and_split_are_not_counted_twice(db, routed):
    # The re-route of 6 is split by routing (WH2 has 4 SKU-A left after a count), and a
    # later final word repeating the count must not send the difference a second time.
    order, station = routed
    db.execute("UPDATE order_lines SET qty = 8 WHERE order_id = ?", [order])
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 6)
    receive_events(db, "WH1", station, log.events)
    feed.record_movement(db, "WH2", "SKU-A", -6, "adjustment", "count:1")
    route_pending(db, "closest")
    assert lines(db, f"{order}-R1") == [(1, "SKU-A", 4)]  # 2 went to a back-order
    log.pack(order, {1: 8}, short={1: 6})
    receive_events(db, "WH1", station, log.events)
    assert [c for c in children(db, order) if c[1] == "short"] == [(f"{order}-R1", "short")]


def test_a_short_no_other_site_can_fill_is_held_as_a_back_order(db):
    order = add_order(db, "E2", NYC, ("SKU-B", 5))  # all of WH2's SKU-B
    route_pending(db, "closest")
    station = order_row(db, order)["station"]
    log = StationLog(station)
    log.short(order, 1, "SKU-B", 1)
    receive_events(db, "WH2", station, log.events)
    summary = route_pending(db, "closest")
    assert list(summary.held) == [f"{order}-R1"]
    assert "SKU-B" in order_row(db, f"{order}-R1")["hold_reason"]


def test_a_cancelled_orders_shorts_are_not_routed_again(db, routed):
    order, station = routed
    feed.cancel_order(db, order, "customer")
    log = StationLog(station)
    log.short(order, 1, "SKU-A", 1)
    receive_events(db, "WH1", station, log.events)
    assert children(db, order) == []
