"""Each channel's real shape parses to the right normalised order."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from routing.intake import amazon, csvfile, shopify, tiktok
from routing.intake.formats import parse_bytes
from routing.intake.model import Address, IntakeError, ProductKey, Skipped

from .conftest import fixture_bytes


def utc(text):
    return dt.datetime.fromisoformat(text)


def load(name):
    return json.loads(fixture_bytes(name))


# -- Shopify -----------------------------------------------------------------------------
def test_a_shopify_webhook_body_parses_to_the_normalised_order():
    (order,) = shopify.parse(load("shopify_orders_create.json"))
    assert (order.channel, order.channel_order_id, order.order_ref) == (
        "shopify", "5678901234567", "#1043",
    )  # fmt: skip
    assert order.placed_at == utc("2025-03-14T13:30:12+00:00")
    assert order.ship_to == Address(
        name="Emily Johnson", street1="2231 Maple Ave", street2="Apt 4B", city="Columbus",
        region="OH", postal_code="43215", country="US", phone="(614) 555-0143",
        lat=39.9611755, lon=-82.99879419999999,
    )  # fmt: skip
    assert [(ln.line_id, ln.keys, ln.qty, ln.unit_price) for ln in order.lines] == [
        ("13912345678901", (ProductKey("variant_id", "44321"), ProductKey("sku", "TSH-ORG-M-BLK")),
         2, Decimal("24.00")),
        ("13912345711669", (ProductKey("variant_id", "4432"), ProductKey("sku", "MUG-OAT-12")),
         1, Decimal("35.00")),
    ]  # fmt: skip
    assert (order.currency, order.totals.total, order.totals.shipping) == (
        "USD", Decimal("118.84"), Decimal("6.99"),
    )  # fmt: skip


def test_a_shopify_gift_card_line_is_not_shipped():
    (order,) = shopify.parse(load("shopify_orders_create.json"))
    assert "Gift Card - $25" not in [line.title for line in order.lines]


def test_a_shopify_order_without_ship_by_ships_the_next_business_day():
    (order,) = shopify.parse(load("shopify_orders_create.json"))  # placed on a Friday
    assert order.ship_by == utc("2025-03-17T13:30:12+00:00")


def test_a_cancelled_shopify_order_is_skipped():
    body = load("shopify_orders_create.json") | {"cancelled_at": "2025-03-14T10:00:00-04:00"}
    expected = Skipped("shopify", "5678901234567", "#1043 is cancelled", cancelled=True)
    assert shopify.parse(body) == [expected]


def test_a_shopify_order_with_a_bad_field_names_it():
    body = load("shopify_orders_create.json")
    body["line_items"][0]["quantity"] = "two"
    with pytest.raises(IntakeError, match=r"#1043.*line_items\[0\]\.quantity"):
        shopify.parse(body)


# -- Amazon ------------------------------------------------------------------------------
def test_amazon_get_order_and_get_order_items_parse_to_the_normalised_order():
    (order,) = amazon.parse(load("amazon_order.json"))
    assert (order.channel, order.channel_order_id) == ("amazon", "113-4962018-7251439")
    assert (order.ship_by, order.deliver_by) == (
        utc("2025-03-18T06:59:59+00:00"), utc("2025-03-22T06:59:59+00:00"),
    )  # fmt: skip
    assert order.ship_to == Address(
        name="Carlos Martinez", street1="518 Lakeview Rd", street2="Unit 3", city="Austin",
        region="TX", postal_code="78704-2817", country="US", phone="+1 512-555-0187 ext. 41277",
    )  # fmt: skip
    assert [(ln.line_id, ln.keys[0], ln.keys[1].value, ln.qty) for ln in order.lines] == [
        ("52986411826454", ProductKey("seller_sku", "MUG-STW-OAT-FBM"), "B0C7K3Q9XZ", 2),
        ("52986411826466", ProductKey("seller_sku", "BTL-STL-CRL"), "B0BX4R2LJM", 1),
    ]
    assert (order.priority, order.totals.total) == (1, Decimal("64.46"))  # Prime


def test_amazon_item_price_is_the_line_total_so_the_unit_price_is_divided():
    (order,) = amazon.parse(load("amazon_order.json"))
    assert order.lines[0].unit_price == Decimal("19.99")  # ItemPrice 39.98 for 2


def test_amazon_order_items_need_their_order():
    with pytest.raises(IntakeError, match="getOrderItems without its getOrder"):
        amazon.parse(load("amazon_order.json")[1:])


def test_an_order_amazon_fulfils_is_skipped():
    responses = load("amazon_order.json")
    responses[0]["payload"]["FulfillmentChannel"] = "AFN"
    (skip,) = amazon.parse(responses)
    assert skip.reason == "is fulfilled by Amazon (AFN)"


# -- TikTok ------------------------------------------------------------------------------
def test_tiktok_order_detail_parses_to_the_normalised_order():
    (order,) = tiktok.parse(load("tiktok_order_detail.json"))
    assert (order.channel, order.channel_order_id) == ("tiktok", "576461413038785752")
    assert (order.placed_at, order.ship_by) == (
        utc("2025-03-14T14:30:22+00:00"), utc("2025-03-16T15:59:59+00:00"),
    )  # fmt: skip
    assert order.ship_to == Address(
        name="Mei Kim", street1="77 Sunset Dr", street2="Apt 12", city="San Diego", region="CA",
        postal_code="92104", country="US", phone="(+1)619-***-0112",
    )  # fmt: skip
    assert (order.currency, order.totals.total) == ("USD", Decimal("64.98"))


def test_tiktok_unit_line_items_of_one_sku_make_one_line():
    (order,) = tiktok.parse(load("tiktok_order_detail.json"))
    assert [(ln.keys[0].value, ln.keys[1].value, ln.qty) for ln in order.lines] == [
        ("1729582718312380999", "TSH-ORG-M-BLK", 2),
        ("1729582718312381777", "CDL-SOY-LAV", 1),
    ]


def test_a_tiktok_order_on_hold_is_skipped_until_awaiting_shipment():
    data = load("tiktok_order_detail.json")
    data["data"]["orders"][0]["status"] = "ON_HOLD"
    (skip,) = tiktok.parse(data)
    assert "ON_HOLD" in skip.reason and "AWAITING_SHIPMENT" in skip.reason


# -- CSV ---------------------------------------------------------------------------------
def test_the_order_csv_groups_rows_into_orders():
    first, second = csvfile.parse(fixture_bytes("orders.csv"))
    assert (first.channel_order_id, first.order_ref, [ln.qty for ln in first.lines]) == (
        "W-2025-0311", "PO 88213", [12, 12],
    )  # fmt: skip
    assert (first.ship_to.region, first.priority, first.ship_by) == (
        "MA", 1, utc("2025-03-17T22:00:00+00:00"),
    )  # fmt: skip
    assert (second.ship_to.country, second.currency) == ("DE", "EUR")


def test_a_csv_with_a_bad_row_names_the_row():
    raw = fixture_bytes("orders.csv").replace(b"BTL-STL-CRL,12,", b"BTL-STL-CRL,twelve,")
    with pytest.raises(IntakeError, match=r"^row 3: qty 'twelve' is not a whole number"):
        csvfile.parse(raw)


def test_a_csv_row_that_contradicts_its_order_names_both_rows():
    raw = fixture_bytes("orders.csv").replace(b",,,,,,,,,,,,,,,,2,", b",,,,,,,,,,Chicago,,,,,,2,")
    with pytest.raises(
        IntakeError, match=r"row 3: order W-2025-0311 has city 'Chicago', but row 2"
    ):
        csvfile.parse(raw)


def test_a_csv_with_an_unknown_column_is_refused():
    with pytest.raises(IntakeError, match="row 1: unknown column 'quantity'"):
        csvfile.parse("order_id,sku,quantity\n1,A,1\n")


# -- detection ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, channel",
    [("shopify_orders_create.json", "shopify"), ("amazon_order.json", "amazon"),
     ("tiktok_order_detail.json", "tiktok"), ("orders.csv", "csv")],
)  # fmt: skip
def test_the_channel_is_detected_from_the_shape(name, channel):
    assert parse_bytes(fixture_bytes(name))[0] == channel


def test_an_unknown_shape_is_refused():
    with pytest.raises(IntakeError, match="not an order shape"):
        parse_bytes(b'{"hello": "world"}')


# -- cancellations -------------------------------------------------------------------------
def test_a_canceled_amazon_order_is_a_cancellation():
    responses = load("amazon_order.json")
    responses[0]["payload"]["OrderStatus"] = "Canceled"
    (skip,) = amazon.parse(responses)
    assert skip.cancelled and skip.reason == "is canceled"


def test_a_cancelled_tiktok_order_is_a_cancellation_and_on_hold_is_not():
    data = load("tiktok_order_detail.json")
    data["data"]["orders"][0]["status"] = "CANCELLED"
    (skip,) = tiktok.parse(data)
    assert skip.cancelled
    data["data"]["orders"][0]["status"] = "ON_HOLD"
    assert not tiktok.parse(data)[0].cancelled


def test_a_csv_order_with_status_cancelled_is_a_cancellation():
    raw = "order_id,name,street1,city,country,sku,qty,status\nW1,A,1 Main,Boston,US,K,1,Cancelled\n"
    assert csvfile.parse(raw) == [Skipped("csv", "W1", "is cancelled", cancelled=True)]


def test_a_csv_status_that_is_not_known_names_the_row():
    raw = "order_id,name,street1,city,country,sku,qty,status\nW1,A,1 Main,Boston,US,K,1,shipped\n"
    with pytest.raises(IntakeError, match=r"row 2: status 'shipped'"):
        csvfile.parse(raw)
