"""Master data at the hub: the upserts go to every site's stream; ``doms hub load``."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from doms.cli import main
from doms.pins import pin_matches
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


# -- doms hub load -------------------------------------------------------------------------
CATALOG = """\
sku,name,weight_g,length_mm,width_mm,height_mm,gtin,barcode,tracking,qty_keyable
MUG-1,Stoneware mug,350,130,100,100,4006381333931,MUG-1,,
TEE-M,Organic tee M,180.5,300,220,20,036000291452,,lot,no
BAT-AA,AA batteries x4,95,60,50,15,,BAT-AA,,yes
"""
BARCODES = """\
code,sku,units,kind
10012345678902,BAT-AA,12,
4711,MUG-1,,sku
"""
CARTONS = """\
code,name,length_mm,width_mm,height_mm,tare_g,max_weight_g
BOX-S,Small box,200,150,100,120,5000
MAILER,Poly mailer,240,320,40,0,2000
"""
OPERATORS = """\
badge,name,role,pin,active
B2001,Ana Rivera,packer,4321,
L7001,Priya Raman,lead,,yes
Q3001,Tomás Ortega,inspector,987654,1
"""


@pytest.fixture
def hub(tmp_path):
    """A hub with two sites (routing needs several), one station each."""
    path = tmp_path / "hub.db"
    db = store.open_db(path)
    feed.ensure_station(db, "WH1", "WH1-PACK-01")
    feed.ensure_station(db, "WH2", "WH2-PACK-01")
    db.close()
    return str(path)


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(hub, tmp_path, kind: str, text: str, *flags: str) -> int:
    return main(["hub", "load", kind, write(tmp_path, f"{kind}.csv", text), "--db", hub, *flags])


def table(hub, sql: str) -> list[tuple]:
    db = store.open_db(hub)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def heads(hub) -> dict[str, int]:
    return dict(table(hub, "SELECT stream_key, seq FROM stream_heads"))


def load_all(hub, tmp_path) -> None:
    for kind, text in (("catalog", CATALOG), ("barcodes", BARCODES), ("cartons", CARTONS),
                       ("operators", OPERATORS)):  # fmt: skip
        assert load(hub, tmp_path, kind, text) == 0, kind


def test_a_good_catalogue_adds_skus_and_their_barcodes(hub, tmp_path, capsys):
    assert load(hub, tmp_path, "catalog", CATALOG, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "ok" and report["written"] and report["bad"] == []
    assert report["counts"]["skus"] == {"added": 3, "updated": 0, "unchanged": 0}
    assert report["counts"]["barcodes"] == {"added": 4, "updated": 0, "unchanged": 0}
    assert table(hub, "SELECT sku, gtin, weight_g, tracking, qty_keyable FROM skus ORDER BY 1") == [
        ("BAT-AA", None, 95.0, "none", 1),
        ("MUG-1", "04006381333931", 350.0, "none", 0),
        ("TEE-M", "00036000291452", 180.5, "lot", 0),
    ]
    assert table(hub, "SELECT code, sku, units, kind FROM barcodes ORDER BY 1") == [
        ("00036000291452", "TEE-M", 1, "gtin"),
        ("04006381333931", "MUG-1", 1, "gtin"),
        ("BAT-AA", "BAT-AA", 1, "sku"),
        ("MUG-1", "MUG-1", 1, "sku"),
    ]


def test_barcodes_cartons_and_operators_load(hub, tmp_path, capsys):
    load_all(hub, tmp_path)
    out = capsys.readouterr().out
    assert "barcodes 2 added, 0 updated, 0 unchanged" in out
    assert table(hub, "SELECT code, sku, units, kind FROM barcodes WHERE sku = 'BAT-AA' "
                      "ORDER BY 1") == [("10012345678902", "BAT-AA", 12, "gtin"),
                                        ("BAT-AA", "BAT-AA", 1, "sku")]  # fmt: skip
    assert table(hub, "SELECT code, sku, kind FROM barcodes WHERE code = '4711'") == [
        ("4711", "MUG-1", "sku")
    ]
    assert table(hub, "SELECT * FROM cartons ORDER BY code") == [
        ("BOX-S", "Small box", 200, 150, 100, 120.0, 5000.0),
        ("MAILER", "Poly mailer", 240, 320, 40, 0.0, 2000.0),
    ]
    operators = table(hub, "SELECT badge, role, pin_hash, active FROM operators ORDER BY 1")
    assert [(b, r, a) for b, r, _, a in operators] == [
        ("B2001", "packer", 1), ("L7001", "lead", 1), ("Q3001", "inspector", 1)
    ]  # fmt: skip
    hashes = {b: h for b, _, h, _ in operators}
    assert pin_matches("4321", hashes["B2001"]) and not pin_matches("1234", hashes["B2001"])
    assert hashes["L7001"] is None and pin_matches("987654", hashes["Q3001"])
    assert "4321" not in out and "987654" not in out  # PINs are never printed


def test_every_kind_of_bad_row_is_reported_with_its_line_and_nothing_is_written(
    hub, tmp_path, capsys
):
    load(hub, tmp_path, "catalog", CATALOG)
    before = heads(hub)
    capsys.readouterr()
    cases = {
        "catalog": (
            "sku,name,weight_g,length_mm,width_mm,height_mm,gtin\n"
            "NEW-1,Good,10,10,10,10,\n"
            "NEW-2,Bad check digit,10,10,10,10,4006381333932\n"
            "NEW-3,Negative,-5,10,10,10,\n"
            "NEW-4,Twice,10,10,10,10,\n"
            "NEW-4,Twice again,10,10,10,10,\n"
            "NEW-5,Someone else's GTIN,10,10,10,10,4006381333931\n",
            {3: "Invalid GTIN check digit", 4: "weight_g must be more than 0 g, not -5",
             5: "NEW-4 is in the file more than once (line 5, line 6)",
             6: "NEW-4 is in the file more than once (line 5, line 6)",
             7: "already the barcode of MUG-1"},
        ),
        "barcodes": (
            "code,sku,units\n4711,MUG-1,1\n0360002914521,MUG-1,1\n4712,NOPE,1\n4713,MUG-1,0\n",
            {3: "Invalid GTIN check digit", 4: "sku NOPE is not in the catalogue",
             5: "units must be a whole number of 1 or more"},
        ),
        "cartons": (
            "code,name,length_mm,width_mm,height_mm,tare_g,max_weight_g\n"
            "BOX-S,Small,200,150,100,120,5000\nFLAT,No dimensions,,,,50,1000\n"
            "HEAVY,Tare over max,200,150,100,900,500\n",
            {3: "length_mm is empty; width_mm is empty; height_mm is empty",
             4: "tare_g must be less than max_weight_g"},
        ),
        "operators": (
            "badge,name,role,pin\nB1,Ann,packer,1234\nB2,Bob,supervisor,\nB3,Cy,lead,12a4\n",
            {3: "role must be one of packer, inspector, lead, not 'supervisor'",
             4: "pin must be 4 to 12 digits"},
        ),
    }  # fmt: skip
    for kind, (text, expected) in cases.items():
        assert load(hub, tmp_path, kind, text, "--json") == 1, kind
        report = json.loads(capsys.readouterr().out)
        assert report["status"] == "rejected" and not report["written"], kind
        assert [b["line"] for b in report["bad"]] == list(expected), kind
        for bad in report["bad"]:
            assert expected[bad["line"]] in bad["reason"], (kind, bad)
        assert "12a4" not in json.dumps(report)
    assert heads(hub) == before  # all or nothing: not even the good rows
    assert table(hub, "SELECT count(*) FROM skus") == [(3,)]
    assert table(hub, "SELECT count(*) FROM cartons") == [(0,)]
    assert table(hub, "SELECT count(*) FROM operators") == [(0,)]


def test_skip_bad_writes_the_good_rows_and_lists_the_bad(hub, tmp_path, capsys):
    text = "badge,name,role\nB1,Ann,packer\nB2,Bob,boss\nB3,Cy,lead\n"
    assert load(hub, tmp_path, "operators", text, "--skip-bad") == 3
    out = capsys.readouterr().out
    assert "operators 2 added, 0 updated, 0 unchanged" in out
    assert "line 3: role must be one of packer, inspector, lead, not 'boss'" in out
    assert "1 bad rows skipped" in out
    assert table(hub, "SELECT badge FROM operators ORDER BY 1") == [("B1",), ("B3",)]


def test_a_dry_run_counts_and_writes_nothing(hub, tmp_path, capsys):
    assert load(hub, tmp_path, "cartons", CARTONS, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would be cartons 2 added" in out and "dry run: nothing written" in out
    assert table(hub, "SELECT count(*) FROM cartons") == [(0,)] and heads(hub) == {}


def test_an_unreadable_file_is_status_2(hub, tmp_path, capsys):
    assert load(hub, tmp_path, "cartons", "code,name,weigth_g\n") == 2
    assert "unknown column(s) 'weigth_g'" in capsys.readouterr().err
    assert load(hub, tmp_path, "operators", "badge,name\nB1,Ann\n") == 2
    assert "missing column(s) role" in capsys.readouterr().err


def test_loading_twice_is_loading_once_and_a_changed_row_streams_once(hub, tmp_path, capsys):
    load_all(hub, tmp_path)
    after_first = heads(hub)
    capsys.readouterr()
    load_all(hub, tmp_path)
    out = capsys.readouterr().out
    assert heads(hub) == after_first
    assert " 0 added, 0 updated" in out and ", 0 updated, 3 unchanged" in out
    changed = OPERATORS.replace("Ana Rivera,packer,4321", "Ana Rivera,lead,4321")
    assert load(hub, tmp_path, "operators", changed, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["operators"] == {"added": 0, "updated": 1, "unchanged": 2}
    assert report["stream_changes"] == 2  # one change on each site's stream
    for site in ("WH1", "WH2"):
        key = store.site_key(site)
        assert heads(hub)[key] == after_first[key] + 1


def test_both_sites_streams_carry_every_loaded_row(hub, tmp_path):
    load_all(hub, tmp_path)
    db = store.open_db(hub)
    wh1, wh2 = site_changes(db, "WH1"), site_changes(db, "WH2")
    assert wh1 == wh2
    assert Counter(t for t, _ in wh1) == {"sku_upserted": 3, "barcode_upserted": 6,
                                          "carton_upserted": 2, "operator_upserted": 3}  # fmt: skip
