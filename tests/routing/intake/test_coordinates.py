"""The channel's geocode of the ship-to address is kept, and routing places the order by it."""

from __future__ import annotations

import json
from pathlib import Path

from routing import store
from routing.dispatch import route_pending
from routing.intake import csvfile, import_bytes, map_sku

from ..twosite import make_hub, order_row
from .conftest import fixture_bytes

TORONTO = {
    "first_name": "Mei", "last_name": "Chen", "name": "Mei Chen", "company": None,
    "address1": "290 Bremner Blvd", "address2": None, "city": "Toronto", "zip": "M5V 3L9",
    "province": "Ontario", "province_code": "ON", "country": "Canada", "country_code": "CA",
    "phone": "+1 416-555-0199", "latitude": 43.6425662, "longitude": -79.3870568,
}  # fmt: skip


def us_and_canada():
    """The bundled rate table (US only) opened to Canada, as a shipper with cross-border
    rates would configure it: the engine then has services from WH1 to Toronto."""
    from routing.data import __file__ as data_init
    from routing.freight import RateTable

    table = json.loads((Path(data_init).parent / "rates_us.json").read_text())
    return RateTable.from_dict(table | {"countries": ["US", "CA"]})


def shopify_body(address: dict) -> bytes:
    body = json.loads(fixture_bytes("shopify_orders_create.json"))
    body["shipping_address"] = address
    body["line_items"] = body["line_items"][:1]  # 2 x variant 44321
    return json.dumps(body).encode()


def ship_to(db, order_id: str) -> dict:
    row = db.execute("SELECT ship_to FROM orders WHERE order_id = ?", [order_id]).fetchone()
    return json.loads(row[0])


def test_shopify_coordinates_are_stored_with_the_address():
    db = make_hub()
    map_sku(db, "shopify", "44321", "SKU-A")
    import_bytes(db, fixture_bytes("shopify_orders_create.json"), name="o.json")
    stored = ship_to(db, "SHP-5678901234567")
    assert (stored["lat"], stored["lon"]) == (39.9611755, -82.99879419999999)
    assert stored["postal_code"] == "43215"


def test_a_canadian_address_with_coordinates_is_routed_by_them():
    db = make_hub()
    map_sku(db, "shopify", "44321", "SKU-A")
    (result,) = import_bytes(db, shopify_body(TORONTO), name="o.json").orders
    summary = route_pending(db, "closest", us_and_canada())
    assert summary.routed == [result.order_id]
    # Toronto is ~550 km from Newark (WH1) and ~3,500 km from Los Angeles (WH2).
    assert order_row(db, result.order_id)["site"] == "WH1"
    data = store.read_stream(db, store.station_key(order_row(db, result.order_id)["station"]), 1)
    assert data[-1][2]["ship_to"]["lat"] == 43.6425662  # the station's copy has it too


def test_without_coordinates_a_postal_code_with_no_offline_data_is_held_with_why():
    db = make_hub()
    map_sku(db, "shopify", "44321", "SKU-A")
    address = TORONTO | {"latitude": None, "longitude": None}
    (result,) = import_bytes(db, shopify_body(address), name="o.json").orders
    assert "lat" not in ship_to(db, result.order_id)  # no null coordinates stored
    summary = route_pending(db, "closest", us_and_canada())
    assert list(summary.held) == [result.order_id]
    assert summary.held[result.order_id].startswith("cannot route:")


def test_a_zero_zero_geocode_is_not_a_place():
    db = make_hub()
    map_sku(db, "shopify", "44321", "SKU-A")
    address = TORONTO | {"latitude": 0.0, "longitude": 0.0}
    (result,) = import_bytes(db, shopify_body(address), name="o.json").orders
    assert "lat" not in ship_to(db, result.order_id)


CSV = (
    "order_id,name,street1,city,postal_code,country,lat,lon,sku,qty\n"
    "W-9,Mei Chen,290 Bremner Blvd,Toronto,M5V 3L9,CA,{lat},{lon},SKU-A,1\n"
)


def test_the_order_csv_takes_lat_and_lon():
    db = make_hub()
    raw = CSV.format(lat="43.6425662", lon="-79.3870568").encode()
    (result,) = import_bytes(db, raw, name="o.csv").orders
    assert route_pending(db, "closest", us_and_canada()).routed == [result.order_id]
    assert order_row(db, result.order_id)["site"] == "WH1"


def test_a_csv_with_half_a_location_names_the_row():
    import pytest

    from routing.intake import IntakeError

    with pytest.raises(IntakeError, match="row 2: give both lat and lon"):
        csvfile.parse(CSV.format(lat="43.64", lon=""))
    with pytest.raises(IntakeError, match="row 2: .* is not a latitude and longitude"):
        csvfile.parse(CSV.format(lat="143.64", lon="-79.38"))
