"""Available to promise: per site, in total, per channel with safety stock; stock feeds."""

from __future__ import annotations

import pytest

from routing import atp, feed, store
from routing.intake import map_sku

MUG = {"sku": "MUG-STW-OAT", "name": "Stoneware Mug 12 oz - Oatmeal", "weight_g": 350,
       "length_mm": 130, "width_mm": 100, "height_mm": 100}  # fmt: skip
TEE = MUG | {"sku": "TSH-ORG-M-BLK", "name": "Organic Cotton T-Shirt - M / Black"}
ORDER = {
    "order_id": "SO-1", "order_ref": "#1001", "ship_by": "2025-03-17T17:00:00Z",
    "ship_to": {"name": "Emily Johnson", "city": "Columbus"}, "carrier": "UPS",
    "service": "Ground", "lines": [{"line_no": 1, "sku": "MUG-STW-OAT", "qty": 3}],
}  # fmt: skip


@pytest.fixture
def db():
    hub = store.open_db(":memory:")
    feed.upsert_sku(hub, "WH1", MUG)
    feed.upsert_sku(hub, "WH1", TEE)
    feed.record_movement(hub, "WH1", "MUG-STW-OAT", 10, "receipt", "po:1")
    feed.record_movement(hub, "WH2", "MUG-STW-OAT", 5, "receipt", "po:2")
    return hub


def test_a_sites_atp_is_on_hand_less_reservations(db):
    feed.assign_order(db, "WH1", "WH1-PACK-01", ORDER)
    assert atp.atp(db, "MUG-STW-OAT").by_site == {"WH1": 7, "WH2": 5}


def test_the_total_is_every_site_together(db):
    assert atp.atp(db, "MUG-STW-OAT").total == 15


def test_a_site_short_of_stock_does_not_lower_the_others(db):
    feed.record_movement(db, "WH2", "MUG-STW-OAT", -7, "short", "WH2-PACK-01:9/1")
    assert (atp.atp(db, "MUG-STW-OAT").by_site["WH2"], atp.atp(db, "MUG-STW-OAT").total) == (0, 10)


def test_orders_not_yet_routed_lower_the_total_not_a_site(db):
    from routing.intake import import_bytes

    csv = ("order_id,name,street1,city,country,sku,qty\n"
           "W-1,Keisha Brown,12 Elm St,Denver,US,MUG-STW-OAT,4\n")  # fmt: skip
    import_bytes(db, csv.encode(), name="w.csv")
    mug = atp.atp(db, "MUG-STW-OAT")
    assert (mug.by_site, mug.unrouted, mug.total) == ({"WH1": 10, "WH2": 5}, 4, 11)


def test_a_channel_sees_the_total_less_its_safety_stock(db):
    atp.set_safety_stock(db, "amazon", "MUG-STW-OAT", 3)
    assert atp.channel_atp(db, "amazon")["MUG-STW-OAT"] == 12
    assert atp.channel_atp(db, "shopify")["MUG-STW-OAT"] == 15


def test_a_skus_own_safety_stock_wins_over_the_channels_default(db):
    atp.set_safety_stock(db, "tiktok", "*", 4)
    atp.set_safety_stock(db, "tiktok", "MUG-STW-OAT", 1)
    feed.record_movement(db, "WH1", "TSH-ORG-M-BLK", 6, "receipt", "po:3")
    assert atp.channel_atp(db, "tiktok") == {"MUG-STW-OAT": 14, "TSH-ORG-M-BLK": 2}


def test_safety_stock_never_makes_availability_negative(db):
    atp.set_safety_stock(db, "amazon", "*", 50)
    assert atp.channel_atp(db, "amazon") == {"MUG-STW-OAT": 0, "TSH-ORG-M-BLK": 0}


def test_the_stock_feed_has_a_row_per_linked_key_with_the_channels_quantity(db):
    map_sku(db, "amazon", "MUG-STW-OAT-FBM", "MUG-STW-OAT")
    map_sku(db, "amazon", "B0C7K3Q9XZ", "MUG-STW-OAT")
    map_sku(db, "amazon", "TSH-ORG-M-BLK", "TSH-ORG-M-BLK")
    atp.set_safety_stock(db, "amazon", "MUG-STW-OAT", 2)
    assert atp.feed_csv(atp.stock_feed(db, "amazon")) == (
        "sku,key_type,channel_product_key,quantity\n"
        "MUG-STW-OAT,asin,B0C7K3Q9XZ,13\n"
        "MUG-STW-OAT,seller_sku,MUG-STW-OAT-FBM,13\n"
        "TSH-ORG-M-BLK,seller_sku,TSH-ORG-M-BLK,0\n"
    )


def test_the_csv_channels_feed_lists_every_sku_by_itself(db):
    assert [(r.channel_product_key, r.quantity) for r in atp.stock_feed(db, "csv")] == [
        ("MUG-STW-OAT", 15), ("TSH-ORG-M-BLK", 0),
    ]  # fmt: skip


def test_the_feed_file_is_written_whole(db, tmp_path):
    map_sku(db, "shopify", "4432", "MUG-STW-OAT")
    out = tmp_path / "shopify.csv"
    assert atp.write_stock_feed(db, "shopify", out) == 1
    assert out.read_text() == (
        "sku,key_type,channel_product_key,quantity\nMUG-STW-OAT,variant_id,4432,15\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["shopify.csv"]  # no temporary left


def test_safety_stock_needs_a_known_channel_and_a_count(db):
    with pytest.raises(ValueError, match="unknown channel"):
        atp.set_safety_stock(db, "ebay", "*", 2)
    with pytest.raises(ValueError, match="whole number"):
        atp.set_safety_stock(db, "amazon", "*", -1)
