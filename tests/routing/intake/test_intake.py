"""Intake into the hub database: once per channel order, held when not linked, queued."""

from __future__ import annotations

import json

import pytest

from routing import feed, store
from routing.intake import (
    Part,
    hold_order,
    import_bytes,
    import_mapping_csv,
    map_sku,
    mark_routed,
    new_orders,
    release_held,
    requeue_order,
)

from .conftest import SITE, fixture_bytes

SHOPIFY = fixture_bytes("shopify_orders_create.json")


def status(db, order_id):
    return db.execute(
        "SELECT status, hold_reason FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()


def lines(db, order_id):
    return db.execute(
        "SELECT line_no, sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no",
        [order_id],
    ).fetchall()


@pytest.fixture
def mapped(linked):
    map_sku(linked, "shopify", "4432", "MUG-STW-OAT")
    return linked


def test_an_order_with_every_line_linked_is_stored_new(mapped):
    (result,) = import_bytes(mapped, SHOPIFY).orders
    assert (result.order_id, result.status) == ("SHP-5678901234567", "new")
    assert lines(mapped, "SHP-5678901234567") == [(1, "TSH-ORG-M-BLK", 2), (2, "MUG-STW-OAT", 1)]


def test_a_new_order_keeps_the_channels_reference_and_address(mapped):
    import_bytes(mapped, SHOPIFY)
    ref, channel, ship_to, station = mapped.execute(
        "SELECT order_ref, channel, ship_to, station FROM orders"
    ).fetchone()
    assert (ref, channel, json.loads(ship_to)["city"], station) == (
        "#1043", "shopify", "Columbus", None,
    )  # fmt: skip


def test_the_same_order_twice_is_one_order(mapped):
    import_bytes(mapped, SHOPIFY)
    (again,) = import_bytes(mapped, SHOPIFY).orders
    assert again.status == "duplicate"
    assert mapped.execute("SELECT count(*) FROM orders").fetchone()[0] == 1


def test_a_line_whose_product_is_not_linked_holds_the_order_with_the_reason(linked):
    (result,) = import_bytes(linked, SHOPIFY).orders
    assert status(linked, result.order_id) == (
        "on_hold", "line 2: Shopify variant 4432 not linked to a SKU",
    )  # fmt: skip
    assert lines(linked, result.order_id) == []  # nothing guessed


def test_a_line_is_not_linked_by_its_shopify_sku_alone_when_unmapped(db):
    (result,) = import_bytes(db, SHOPIFY).orders  # TSH-ORG-M-BLK is a SKU, but not linked
    assert result.hold_reason.startswith("line 1: Shopify variant 44321 not linked")


def test_a_line_is_linked_through_its_second_key(db):
    map_sku(db, "shopify", "TSH-ORG-M-BLK", "TSH-ORG-M-BLK")  # by Shopify SKU, not variant
    map_sku(db, "shopify", "4432", "MUG-STW-OAT")
    assert import_bytes(db, SHOPIFY).orders[0].status == "new"


def test_linking_the_missing_product_releases_the_held_order(linked):
    import_bytes(linked, SHOPIFY)
    map_sku(linked, "shopify", "4432", "MUG-STW-OAT")
    assert release_held(linked) == ["SHP-5678901234567"]
    assert status(linked, "SHP-5678901234567") == ("new", None)
    assert lines(linked, "SHP-5678901234567")[1] == (2, "MUG-STW-OAT", 1)


def test_a_link_needs_a_sku_of_the_catalogue(db):
    with pytest.raises(ValueError, match="SKU NOPE is not in the catalogue"):
        map_sku(db, "amazon", "B0C7K3Q9XZ", "NOPE")


def test_a_mapping_csv_links_every_row(db):
    changed = import_mapping_csv(
        db,
        "channel,channel_key,sku,key_type\n"
        "amazon,MUG-STW-OAT-FBM,MUG-STW-OAT,\n"
        "amazon,B0BX4R2LJM,BTL-STL-CRL,asin\n",
    )
    assert changed == 2
    assert import_bytes(db, fixture_bytes("amazon_order.json")).orders[0].status == "new"


def test_a_mapping_csv_with_a_bad_row_links_nothing_and_names_the_row(db):
    raw = "channel,channel_key,sku\namazon,B0BX4R2LJM,BTL-STL-CRL\nebay,123,KNF-CHF\n"
    with pytest.raises(ValueError, match="row 3: unknown channel 'ebay'"):
        import_mapping_csv(db, raw)
    assert db.execute("SELECT count(*) FROM channel_skus").fetchone()[0] == 0


def test_csv_orders_use_our_skus_as_they_are(db):
    report = import_bytes(db, fixture_bytes("orders.csv"), name="orders.csv")
    assert [(r.order_id, r.status) for r in report.orders] == [
        ("CSV-W-2025-0311", "new"), ("CSV-W-2025-0312", "new"),
    ]  # fmt: skip


def test_new_orders_lists_what_waits_for_routing_earliest_ship_by_first(mapped):
    import_bytes(mapped, fixture_bytes("orders.csv"), name="orders.csv")
    import_bytes(mapped, SHOPIFY)
    waiting = new_orders(mapped)
    assert [o["order_id"] for o in waiting] == [
        "CSV-W-2025-0312", "SHP-5678901234567", "CSV-W-2025-0311",
    ]  # fmt: skip
    assert waiting[1]["lines"][0] | {"sku": "TSH-ORG-M-BLK", "qty": 2} == waiting[1]["lines"][0]


def test_marking_an_order_routed_assigns_it_and_reserves_its_stock(mapped):
    feed.record_movement(mapped, SITE, "TSH-ORG-M-BLK", 10, "receipt", "po:1")
    import_bytes(mapped, SHOPIFY)
    part = Part(site=SITE, station="WH1-PACK-01", carrier="UPS", service="Ground")
    assert mark_routed(mapped, "SHP-5678901234567", [part]) == ["SHP-5678901234567"]
    assert status(mapped, "SHP-5678901234567") == ("assigned", None)
    assert store.stock(mapped, SITE, "TSH-ORG-M-BLK") == (10, 8)
    assert new_orders(mapped) == []
    ((_, type_, data),) = store.read_stream(mapped, store.station_key("WH1-PACK-01"), 1)
    assert (type_, data["carrier"]) == ("order_assigned", "UPS")


def test_a_split_plan_makes_one_order_per_part(mapped):
    import_bytes(mapped, SHOPIFY)
    parts = [
        Part(site="WH1", station="WH1-PACK-01", carrier="UPS", service="Ground", lines={1: 2}),
        Part(site="WH2", station="WH2-PACK-01", carrier="USPS", service="Ground Advantage",
             lines={2: 1}),
    ]  # fmt: skip
    assert mark_routed(mapped, "SHP-5678901234567", parts) == [
        "SHP-5678901234567", "SHP-5678901234567-2",
    ]  # fmt: skip
    assert lines(mapped, "SHP-5678901234567-2") == [(2, "MUG-STW-OAT", 1)]
    assert store.stock(mapped, "WH2", "MUG-STW-OAT") == (0, -1)


def test_a_plan_that_does_not_ship_every_unit_is_refused(mapped):
    import_bytes(mapped, SHOPIFY)
    part = Part(site=SITE, station="WH1-PACK-01", carrier="UPS", service="Ground", lines={1: 2})
    with pytest.raises(ValueError, match="line 2: the plan ships 0 of 1"):
        mark_routed(mapped, "SHP-5678901234567", [part])
    assert status(mapped, "SHP-5678901234567")[0] == "new"


def test_a_held_order_can_be_put_back_in_the_queue(mapped):
    import_bytes(mapped, SHOPIFY)
    hold_order(mapped, "SHP-5678901234567", "back order: no site has MUG-STW-OAT")
    assert new_orders(mapped) == []
    requeue_order(mapped, "SHP-5678901234567")
    assert [o["order_id"] for o in new_orders(mapped)] == ["SHP-5678901234567"]
