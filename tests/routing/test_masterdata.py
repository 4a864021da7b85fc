"""Master data at the hub: the upserts go to every site's stream; ``doms hub load``."""

from __future__ import annotations

from routing import feed, store

SKU = {"sku": "SKU-A", "name": "Mug", "weight_g": 350, "length_mm": 130, "width_mm": 100,
       "height_mm": 100}  # fmt: skip


def site_changes(db, site: str) -> list[tuple[str, dict]]:
    return [(t, d) for _, t, d in store.read_stream(db, store.site_key(site), 1, 10_000)]


# -- the upserts: global master data, every site stream ------------------------------------
def test_an_upsert_goes_to_every_sites_stream_once():
    db = store.open_db(":memory:")
    feed.ensure_station(db, "WH1", "WH1-PACK-01")
    feed.ensure_station(db, "WH2", "WH2-PACK-01")
    seq = feed.upsert_sku(db, "WH1", SKU)
    assert seq == store.stream_head(db, store.site_key("WH1")) == 1
    for site in ("WH1", "WH2"):
        (change,) = site_changes(db, site)
        assert change[0] == "sku_upserted" and change[1]["name"] == "Mug"
    assert feed.upsert_sku(db, "WH2", SKU) is None  # unchanged, whichever site asks
    assert feed.upsert_sku(db, "WH2", SKU | {"name": "Big mug"}) == 2
    assert [d["name"] for _, d in site_changes(db, "WH1")] == ["Mug", "Big mug"]
    assert [d["name"] for _, d in site_changes(db, "WH2")] == ["Mug", "Big mug"]


def test_a_site_registered_later_gets_the_master_data_in_its_snapshot():
    db = store.open_db(":memory:")
    feed.upsert_sku(db, "WH1", SKU)
    feed.upsert_barcode(db, "WH1", {"code": "SKU-A", "sku": "SKU-A", "kind": "sku"})
    feed.ensure_station(db, "WH3", "WH3-PACK-01")
    assert site_changes(db, "WH3") == []
    site_seq, _, changes = feed.snapshot_changes(db, "WH3", "WH3-PACK-01")
    assert site_seq == 0
    assert [t for t, _ in changes] == ["sku_upserted", "barcode_upserted"]
