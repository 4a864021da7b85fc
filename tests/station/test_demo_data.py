"""The demo sample: realistic, valid, idempotent, deterministic, and packable by its own scans."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import biip
import pytest

from station.config import StationConfig
from station.demo_data import demo_barcodes_for, load_sample, printed_gtin, wrong_barcode_for
from station.packing.barcodes import parse_scan
from station.packing.cartons import Box, Item, suggest_carton
from station.packing.errors import Refused
from station.packing.operators import authenticate
from station.packing.service import PackingService
from station.store.db import open_db

NOW = dt.datetime(2025, 3, 3, 14, 30, tzinfo=dt.UTC)
TABLES = ("skus", "barcodes", "cartons", "orders", "order_lines")


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "station.db", synchronous="OFF")


@pytest.fixture
def loaded(db):
    load_sample(db, now=NOW)
    return db


def rows(db, sql, params=()):
    return db.execute(sql, list(params)).fetchall()


def dump(db) -> dict[str, list[tuple]]:
    out = {t: rows(db, f"SELECT * FROM {t} ORDER BY 1, 2") for t in TABLES}
    out["operators"] = rows(db, "SELECT badge, name, role, active FROM operators ORDER BY 1")
    return out


def test_counts(db):
    summary = load_sample(db, now=NOW)
    assert (summary.skus, summary.orders) == (300, 40)
    for table, n in [
        ("skus", 300),
        ("orders", 40),
        ("barcodes", summary.barcodes),
        ("order_lines", summary.order_lines),
        ("cartons", summary.cartons),
        ("operators", summary.operators),
    ]:
        assert rows(db, f"SELECT count(*) FROM {table}")[0][0] == n, table
    assert 6 <= summary.cartons <= 8
    assert summary.added == sum(
        rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in (*TABLES, "operators")
    )
    roles = Counter(r[0] for r in rows(db, "SELECT role FROM operators"))
    assert roles["packer"] >= 2 and roles["inspector"] == 1 and roles["lead"] >= 1


def test_operators_and_pins(loaded):
    assert rows(loaded, "SELECT name, role FROM operators WHERE badge = 'L9001'") == [
        ("Priya Raman", "lead")
    ]
    with_pin = {
        r[0] for r in rows(loaded, "SELECT badge FROM operators WHERE pin_hash IS NOT NULL")
    }
    assert with_pin == {"B1001", "L9001"}
    assert authenticate(loaded, "L9001", "1234").is_lead
    assert authenticate(loaded, "B1001", "1234").role == "packer"
    with pytest.raises(Refused):
        authenticate(loaded, "B1001", "0000")


def test_every_gtin_is_valid(loaded):
    gtins = rows(loaded, "SELECT code, sku, units FROM barcodes WHERE kind = 'gtin'")
    for code, _, _ in gtins:
        result = biip.parse(code)
        assert result.gtin is not None and result.gtin_error is None, code
        assert result.gtin.as_gtin_14() == code
    # Every SKU: its unit GTIN in skus.gtin and in barcodes, and its own label barcode.
    skus = rows(loaded, "SELECT sku, gtin, qty_keyable FROM skus")
    unit = {(code, sku) for code, sku, units in gtins if units == 1}
    labels = set(rows(loaded, "SELECT code, sku FROM barcodes WHERE kind = 'sku'"))
    for sku, gtin, _ in skus:
        assert (gtin, sku) in unit and (sku, sku) in labels
    # A mix of UPC-A and EAN-13; case GTIN-14s only for keyable items.
    formats = Counter(biip.parse(g).gtin.format.name for _, g, _ in skus)
    assert formats["GTIN_12"] > 20 and formats["GTIN_13"] > 20
    keyable = {sku for sku, _, k in skus if k}
    cases = [(code, sku, units) for code, sku, units in gtins if units > 1]
    assert cases
    for code, sku, units in cases:
        assert sku in keyable and units in (6, 12, 24) and code[0] in "12345678"


def test_catalogue_is_realistic(loaded):
    skus = rows(
        loaded,
        "SELECT sku, name, weight_g, length_mm, width_mm, height_mm, tracking, "
        "qty_keyable FROM skus",
    )
    assert all(re.fullmatch(r"[A-Z0-9]+(-[A-Z0-9]+)*", s[0]) for s in skus)
    tracking = Counter(s[6] for s in skus)
    assert tracking["none"] > 200 and tracking["lot_expiry"] >= 10
    assert tracking["lot"] >= 3 and tracking["serial"] >= 3
    assert any(s[7] for s in skus)
    by_sku = {s[0]: s for s in skus}
    if tee := by_sku.get("TSH-ORG-M-BLK"):
        assert 150 <= tee[2] <= 210
    boxes = [
        Box(*r)
        for r in rows(
            loaded, "SELECT code, length_mm, width_mm, height_mm, tare_g, max_weight_g FROM cartons"
        )
    ]
    for s in skus:  # every item ships in some carton
        assert suggest_carton([Item(s[3], s[4], s[5], s[2])], boxes) is not None, s


def test_orders(loaded):
    orders = list(loaded["orders"].rows_where(order_by="order_id"))
    assert [o["order_id"] for o in orders] == [f"SO-{10001 + i}" for i in range(40)]
    refs = {"shopify": r"#\d{4}", "amazon": r"\d{3}-\d{7}-\d{7}", "tiktok": r"\d{18}"}
    keys = [
        "name",
        "company",
        "street1",
        "street2",
        "city",
        "region",
        "postal_code",
        "country",
        "phone",
    ]
    for o in orders:
        assert re.fullmatch(refs[o["channel"]], o["order_ref"]), o["order_ref"]
        assert re.fullmatch(r"TOTE-\d{4}", o["tote"]) and o["pick_list"].startswith("PL-")
        ship_by = dt.datetime.fromisoformat(o["ship_by"].replace("Z", "+00:00"))
        assert o["ship_by"].endswith("Z") and NOW < ship_by <= NOW + dt.timedelta(days=2)
        assert dt.datetime.fromisoformat(o["assigned_at"].replace("Z", "+00:00")) < NOW
        assert o["priority"] in (0, 1, 2) and o["status"] == "assigned"
        assert o["carrier"] and o["service"]
        address = json.loads(o["ship_to"])
        assert list(address) == keys
        assert address["name"] and address["street1"] and address["city"]
    assert len({o["tote"] for o in orders}) == 40  # one tote per order
    assert any(o["ship_by"] < "2025-03-03T16:00" for o in orders)  # some are urgent
    assert {o["channel"] for o in orders} == {"shopify", "amazon", "tiktok"}


def test_order_lines(loaded):
    lines = rows(
        loaded,
        "SELECT l.order_id, l.line_no, l.sku, l.qty, s.tracking, s.qty_keyable "
        "FROM order_lines l LEFT JOIN skus s ON s.sku = l.sku",
    )
    by_order: dict[str, list[tuple]] = {}
    for line in lines:
        assert line[4] is not None, f"{line[2]} is not in the catalogue"
        by_order.setdefault(line[0], []).append(line)
    assert len(by_order) == 40
    for order_lines in by_order.values():
        assert 1 <= len(order_lines) <= 6
        assert sorted(ln[1] for ln in order_lines) == list(range(1, len(order_lines) + 1))
        assert len({ln[2] for ln in order_lines}) == len(order_lines)
        for ln in order_lines:
            assert 1 <= ln[3] <= (12 if ln[5] else 4)
    sizes = Counter(len(v) for v in by_order.values())
    assert sizes[1] + sizes[2] > 20  # mostly one or two lines
    tracked = {ln[0] for ln in lines if ln[4] != "none"}
    assert 1 <= len(tracked) <= 0.15 * 40


def test_loading_twice_adds_nothing(loaded):
    before = dump(loaded)
    again = load_sample(loaded, now=NOW + dt.timedelta(hours=5))
    assert again.added == 0 and again.orders == 40
    assert dump(loaded) == before


def test_same_seed_same_sample(tmp_path):
    a, b, c = (open_db(tmp_path / f"{n}.db", synchronous="OFF") for n in "abc")
    load_sample(a, now=NOW, orders=15, skus=80)
    load_sample(b, now=NOW, orders=15, skus=80)
    load_sample(c, now=NOW, orders=15, skus=80, seed=8)
    assert dump(a) == dump(b)
    assert dump(a)["skus"] != dump(c)["skus"] and dump(a)["orders"] != dump(c)["orders"]


def test_small_and_large_samples(db):
    s = load_sample(db, now=NOW, skus=5, orders=3)
    assert (s.skus, s.orders) == (5, 3)
    with pytest.raises(ValueError):
        load_sample(db, skus=100_000)


def gtin_to_sku(db) -> dict[str, tuple[str, int]]:
    return {r[0]: (r[1], r[2]) for r in rows(db, "SELECT code, sku, units FROM barcodes")}


def test_demo_barcodes_parse_to_the_order(loaded):
    codes_to_sku = gtin_to_sku(loaded)
    tracking = dict(rows(loaded, "SELECT sku, tracking FROM skus"))
    serials, separators = [], 0
    for (order_id,) in rows(loaded, "SELECT order_id FROM orders"):
        want = Counter(
            dict(rows(loaded, "SELECT sku, qty FROM order_lines WHERE order_id = ?", [order_id]))
        )
        got: Counter[str] = Counter()
        for raw in demo_barcodes_for(loaded, order_id):
            scan = parse_scan(raw)
            assert scan.error is None and scan.gtin14, raw
            sku, units = codes_to_sku[scan.gtin14]
            assert units == 1
            got[sku] += 1
            separators += "\x1d" in raw
            kind = tracking[sku]
            assert (scan.lot is not None) == (kind in ("lot", "lot_expiry")), raw
            assert (scan.expiry is not None) == (kind == "lot_expiry"), raw
            if kind == "lot_expiry":
                assert scan.expiry > dt.date.today()
            if kind == "serial":
                assert scan.serial
                serials.append((sku, scan.serial))
            if kind == "none":
                assert raw == printed_gtin(scan.gtin14) and len(raw) in (12, 13)
        assert got == want, order_id
    assert len(serials) == len(set(serials))
    with pytest.raises(LookupError):
        demo_barcodes_for(loaded, "SO-99999")


def test_tracked_scans_use_both_field_orders(tmp_path):
    db = open_db(tmp_path / "big.db", synchronous="OFF")
    load_sample(db, now=NOW, orders=200)
    raws = [r for (o,) in rows(db, "SELECT order_id FROM orders") for r in demo_barcodes_for(db, o)]
    lot_expiry = [r for r in raws if r.startswith("01") and "17" in r[16:] and "10" in r[16:]]
    assert any("\x1d" in r for r in raws) and any("\x1d" not in r for r in lot_expiry)
    assert any(parse_scan(r).serial for r in raws)


def test_demo_barcodes_pack_the_order(loaded):
    service = PackingService(loaded, StationConfig())
    packer = authenticate(loaded, "B1001", "1234")
    tracked = rows(
        loaded,
        "SELECT DISTINCT l.order_id FROM order_lines l JOIN skus s "
        "ON s.sku = l.sku WHERE s.tracking != 'none' ORDER BY 1",
    )
    for (order_id,) in [*tracked, ("SO-10001",)]:
        service.open_order(order_id, packer)
        first, *rest = demo_barcodes_for(loaded, order_id)
        service.scan_item(order_id, service.classify(first), packer)
        assert demo_barcodes_for(loaded, order_id, remaining=True) == rest
        for raw in rest:
            service.scan_item(order_id, service.classify(raw), packer)
        assert service.view(order_id).all_resolved
        assert demo_barcodes_for(loaded, order_id, remaining=True) == []


def test_wrong_barcode(loaded):
    service = PackingService(loaded, StationConfig())
    packer = authenticate(loaded, "B1002", None)
    codes_to_sku = gtin_to_sku(loaded)
    for order_id in ("SO-10001", "SO-10002", "SO-10040"):
        raw = wrong_barcode_for(loaded, order_id)
        assert raw == wrong_barcode_for(loaded, order_id)
        scan = parse_scan(raw)
        assert scan.error is None and scan.gtin14 in codes_to_sku
        in_order = {
            r[0] for r in rows(loaded, "SELECT sku FROM order_lines WHERE order_id = ?", [order_id])
        }
        assert codes_to_sku[scan.gtin14][0] not in in_order
        service.open_order(order_id, packer)
        with pytest.raises(Refused) as refused:
            service.scan_item(order_id, service.classify(raw), packer)
        assert refused.value.kind == "wrong_item"


def test_utf8_names_round_trip(tmp_path):
    db = open_db(tmp_path / "utf8.db", synchronous="OFF")
    load_sample(db, now=NOW, orders=120)
    raw = [r[0] for r in rows(db, "SELECT ship_to FROM orders")]
    names = {json.loads(r)["name"] for r in raw}
    foreign = {n for n in names if not n.isascii()}
    assert len(foreign) >= 3, names
    assert any(not r.isascii() for r in raw)  # stored as UTF-8 text, not \\u escapes
    db.conn.close()
    again = open_db(tmp_path / "utf8.db")
    assert {json.loads(r[0])["name"] for r in rows(again, "SELECT ship_to FROM orders")} == names
    assert rows(again, "SELECT name FROM operators WHERE badge = 'B1002'") == [
        ("Ana Sofía Rivera",)
    ]
