"""Channel cancellations cancel the hub's order and every part of it not yet packed."""

from __future__ import annotations

import json

import pytest

from routing import store
from routing.apply import receive_events
from routing.dispatch import route_pending
from routing.intake import import_bytes, map_sku
from routing.intake.webhook import ShopifyWebhook
from tests.sync.fake_station import StationLog

from .intake.conftest import fixture_bytes
from .twosite import NYC, add_order, available, csv_order, make_hub, order_row, stream_types

SHOPIFY = "SHP-5678901234567"  # 2 x variant 44321, 1 x variant 4432, to Columbus, OH


@pytest.fixture
def db():
    hub = make_hub()
    map_sku(hub, "shopify", "44321", "SKU-A")
    map_sku(hub, "shopify", "4432", "SKU-B")  # only WH2 has SKU-B
    return hub


def cancelled_body() -> bytes:
    body = json.loads(fixture_bytes("shopify_orders_create.json"))
    return json.dumps(body | {"cancelled_at": "2025-03-14T10:00:00-04:00"}).encode()


def routed_in_two_parts(db) -> tuple[str, str]:
    import_bytes(db, fixture_bytes("shopify_orders_create.json"), name="order.json")
    route_pending(db, "closest")  # SKU-A from WH1 (closest to Ohio), SKU-B from WH2
    assert order_row(db, SHOPIFY)["site"] == "WH1"
    assert order_row(db, f"{SHOPIFY}-2")["site"] == "WH2"
    return order_row(db, SHOPIFY)["station"], order_row(db, f"{SHOPIFY}-2")["station"]


def test_a_shopify_cancellation_cancels_every_part_and_releases_the_stock(db):
    east, west = routed_in_two_parts(db)
    assert (available(db, "WH1", "SKU-A"), available(db, "WH2", "SKU-B")) == (8, 4)
    report = import_bytes(db, cancelled_body(), name="cancelled.json")
    assert [(r.order_id, r.status) for r in report.orders] == [(SHOPIFY, "cancelled")]
    assert report.skipped == []
    assert order_row(db, SHOPIFY)["status"] == "cancelled"
    assert order_row(db, f"{SHOPIFY}-2")["status"] == "cancelled"
    assert (available(db, "WH1", "SKU-A"), available(db, "WH2", "SKU-B")) == (10, 5)
    assert stream_types(db, east)[-1] == ("order_cancelled", SHOPIFY)
    assert stream_types(db, west)[-1] == ("order_cancelled", f"{SHOPIFY}-2")


def test_the_orders_cancelled_webhook_cancels_at_the_hub(db):
    routed_in_two_parts(db)
    hook = ShopifyWebhook(db, b"secret", port=0)
    try:
        status, answer = hook.handle(cancelled_body(), {"X-Shopify-Topic": "orders/cancelled"})
    finally:
        hook.server.server_close()
    assert (status, answer) == (200, {"order_id": SHOPIFY, "status": "cancelled"})
    assert order_row(db, SHOPIFY)["status"] == "cancelled"


def test_a_cancellation_delivered_twice_changes_nothing_more(db):
    east, _ = routed_in_two_parts(db)
    import_bytes(db, cancelled_body(), name="cancelled.json")
    report = import_bytes(db, cancelled_body(), name="cancelled.json")
    assert [r.status for r in report.orders] == ["cancelled"]
    assert [t for t, _ in stream_types(db, east)].count("order_cancelled") == 1


def test_a_cancellation_of_an_order_never_taken_in_is_a_skip(db):
    report = import_bytes(db, cancelled_body(), name="cancelled.json")
    assert report.orders == [] and report.skipped[0].reason == "#1043 is cancelled"


def test_a_csv_reimport_with_status_cancelled_cancels_an_unrouted_order(db):
    order = add_order(db, "C1", NYC, ("SKU-A", 1))
    raw = csv_order("C1", NYC, ("SKU-A", 1)).decode().splitlines()
    raw = [raw[0] + ",status", raw[1] + ",cancelled"]
    report = import_bytes(db, ("\n".join(raw) + "\n").encode(), name="again.csv")
    assert [(r.order_id, r.status) for r in report.orders] == [(order, "cancelled")]
    assert order_row(db, order)["status"] == "cancelled"
    assert route_pending(db, "closest").orders == 0


def test_a_packed_part_is_not_cancelled_and_is_named(db):
    east, west = routed_in_two_parts(db)
    log = StationLog(west)
    log.pack(f"{SHOPIFY}-2", {2: 1})
    receive_events(db, "WH2", west, log.events)
    report = import_bytes(db, cancelled_body(), name="cancelled.json")
    [outcome] = report.orders
    assert outcome.status == "cancelled"  # the order itself was not packed
    assert outcome.hold_reason == f"{SHOPIFY}-2 packed: too late to cancel"
    assert order_row(db, f"{SHOPIFY}-2")["status"] == "packed"
    assert store.stock(db, "WH2", "SKU-B") == (4, 4)  # shipped, not released
