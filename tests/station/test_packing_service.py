"""The packing service: each rule on a small database, asserting rows and events."""

from __future__ import annotations

import datetime as dt
import json

import biip
import pytest

from routing import tracking
from station.config import Packing, StationConfig
from station.packing.errors import Refused
from station.packing.service import PackingService
from station.printing import queue


def events(db, type_=None):
    rows = db.execute("SELECT type, payload FROM outbox ORDER BY seq").fetchall()
    return [(t, json.loads(p)) for t, p in rows if type_ is None or t == type_]


def scan(service, order_id, code, who, qty=None):
    return service.scan_item(order_id, service.classify(code), who, qty=qty)


def test_next_order_is_by_ship_by_then_priority(service, packer):
    assert service.next_order() == "SO-0003"  # earliest ship-by
    service.db.execute("UPDATE orders SET status = 'packed' WHERE order_id = 'SO-0003'")
    assert service.next_order() == "SO-0001"  # same ship-by as SO-0002, higher priority


def test_order_in_progress_comes_back_first(service, packer):
    service.open_order("SO-0002", packer)
    assert service.next_order() == "SO-0002"


def test_find_order_by_tote_and_ref(service):
    assert service.find_order("TOTE-0002") == "SO-0002"
    assert service.find_order("#0001") == "SO-0001"
    assert service.find_order("nope") is None


def test_good_scans_tick_lines_and_write_events(service, packer, db):
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "4006381333931", packer)  # EAN-13 of the mug
    scan(service, "SO-0002", "MUG-WHT", packer)  # the SKU's own label
    scan(service, "SO-0002", "036000291452", packer)  # UPC-A of the T-shirt
    order = service.view("SO-0002")
    assert [ln.scanned for ln in order.lines] == [2, 1]
    assert order.all_resolved
    scanned = events(db, "item_scanned")
    assert [e["sku"] for _, e in scanned] == ["MUG-WHT", "MUG-WHT", "TSH-M-BLK"]
    assert all(e["operator"] == "B1001" for _, e in scanned)


def test_wrong_item_is_refused_and_not_counted(service, packer, db):
    service.open_order("SO-0001", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0001", "4006381333931", packer)
    assert err.value.kind == "wrong_item"
    assert "not in this order" in str(err.value)
    assert service.view("SO-0001").units_scanned == 0
    assert events(db, "item_scanned") == []


def test_over_scan_is_refused(service, packer):
    service.open_order("SO-0001", packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0001", "TSH-M-BLK", packer)
    assert err.value.kind == "over_scan"
    assert service.view("SO-0001").units_scanned == 1


def test_unknown_and_bad_check_digit_barcodes(service, packer):
    service.open_order("SO-0001", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0001", "XYZ-NOT-HERE", packer)
    assert err.value.kind == "unknown"
    with pytest.raises(Refused) as err:
        scan(service, "SO-0001", "4006381333932", packer)  # check digit wrong
    assert err.value.kind == "bad_barcode"
    assert "check digit" in str(err.value)


def test_undo_takes_back_the_last_scan(service, packer, db):
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    scan(service, "SO-0002", "TSH-M-BLK", packer)
    assert "T-shirt" in service.undo_last_scan("SO-0002", packer)
    order = service.view("SO-0002")
    assert [ln.scanned for ln in order.lines] == [1, 0]
    assert len(events(db, "scan_undone")) == 1
    with pytest.raises(Refused):
        service.undo_last_scan("SO-0001", packer)


def test_keyed_quantity_and_case_gtin(service, packer):
    service.open_order("SO-0003", packer)
    scan(service, "SO-0003", "10012345678902", packer)  # case of 12
    scan(service, "SO-0003", "BAT-AA-4", packer, qty=15)
    line = service.view("SO-0003").lines[0]
    assert line.scanned == 27
    with pytest.raises(Refused) as err:
        scan(service, "SO-0003", "BAT-AA-4", packer, qty=4)  # only 3 left
    assert err.value.kind == "over_scan"
    service.open_order("SO-0002", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0002", "MUG-WHT", packer, qty=2)  # mugs are scanned one by one
    assert err.value.kind == "qty"


def test_lot_expiry_tracking_captured_from_gs1(config, tmp_path, packer):
    from tests.station.conftest import make_db

    db = make_db(
        tmp_path / "t.db",
        orders=[("SO-0100", "2026-11-28T00:00:00Z", 0, [("SERUM-30", 2), ("EARBUDS", 2)])],
    )
    service = PackingService(db, config)
    service.open_order("SO-0100", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0100", "06141410004159", packer)  # plain GTIN: no lot
    assert err.value.kind == "tracking"
    expired = (dt.date.today() - dt.timedelta(days=1)).strftime("%y%m%d")
    with pytest.raises(Refused) as err:
        scan(service, "SO-0100", f"]C1010614141000415917{expired}10L1", packer)
    assert err.value.kind == "expired"
    good = (dt.date.today() + dt.timedelta(days=200)).strftime("%y%m%d")
    scan(service, "SO-0100", f"]d2010614141000415917{good}10LOT-7\x1d", packer)
    row = db.execute("SELECT lot, expiry FROM scans").fetchone()
    assert row[0] == "LOT-7" and row[1] == (dt.date.today() + dt.timedelta(days=200)).isoformat()
    scan(service, "SO-0100", "010950600013435221SN0001", packer)
    with pytest.raises(Refused) as err:
        scan(service, "SO-0100", "010950600013435221SN0001", packer)
    assert err.value.kind in ("duplicate_serial",)


def test_short_line_holds_order_by_policy(service, packer, db):
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    line = service.view("SO-0002").lines[0]
    order = service.short_line("SO-0002", line.line_id, "damaged", packer)
    assert order.status == "on_hold"
    assert order.lines[0].short == 1
    [(_, short)] = events(db, "line_short")
    assert short == {
        "order_id": "SO-0002",
        "line_no": 1,
        "sku": "MUG-WHT",
        "qty": 1,
        "reason": "damaged",
        "operator": "B1001",
    }
    assert events(db, "order_held")
    assert service.next_order() != "SO-0002"


def test_short_line_ships_partial_by_policy(db, tmp_path, packer):
    config = StationConfig(
        database=str(tmp_path / "x.db"), packing=Packing(short_policy="ship_partial")
    )
    service = PackingService(db, config)
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    scan(service, "SO-0002", "TSH-M-BLK", packer)
    line = service.view("SO-0002").lines[0]
    order = service.short_line("SO-0002", line.line_id, "missing", packer)
    assert order.status == "packing" and order.all_resolved


def test_carton_suggestion_and_weight_check(service, packer, db):
    service.open_order("SO-0001", packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)
    package = service.view("SO-0001").current_package
    # A T-shirt (300 x 250 x 20 mm) does not fit the small box: the medium one is suggested.
    assert service.suggest_carton("SO-0001", package.package_id) == "BOX-M"
    service.set_carton("SO-0001", package.package_id, "BOX-M", packer)
    assert service.expected_weight(package.package_id) == 180 + 250
    out = service.record_weight("SO-0001", package.package_id, 700.0, packer)
    assert not out.check.ok and not out.labelled
    assert queue.open_jobs(db) == []
    out = service.record_weight("SO-0001", package.package_id, 441.0, packer)
    assert out.check.ok and out.labelled and out.order_packed
    assert service.view("SO-0001").status == "packed"
    kinds = sorted(j.kind for j in queue.open_jobs(db))
    assert kinds == ["packing_slip", "shipping_label"]


def test_tolerance_uses_the_larger_of_percent_and_minimum():
    from station.packing.weighing import check_weight

    # 430 g expected: 5 % is 21.5 g, under the 30 g minimum, so +-30 g applies.
    assert check_weight(459.0, 430.0, 5.0, 30.0).ok
    assert not check_weight(461.0, 430.0, 5.0, 30.0).ok
    assert not check_weight(399.0, 430.0, 5.0, 30.0).ok
    # 10 kg expected: 5 % is 500 g, over the minimum.
    assert check_weight(10_499.0, 10_000.0, 5.0, 30.0).ok
    assert not check_weight(10_501.0, 10_000.0, 5.0, 30.0).ok
    assert "too heavy" in check_weight(10_501.0, 10_000.0, 5.0, 30.0).describe()


def test_override_needs_a_lead(service, packer, lead, db):
    service.open_order("SO-0001", packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)
    package = service.view("SO-0001").current_package
    service.set_carton("SO-0001", package.package_id, "BOX-M", packer)
    service.record_weight("SO-0001", package.package_id, 900.0, packer)
    with pytest.raises(Refused) as err:
        service.override_weight("SO-0001", package.package_id, packer, packer)
    assert err.value.kind == "role"
    out = service.override_weight("SO-0001", package.package_id, lead, packer)
    assert out.order_packed
    [(_, ev)] = events(db, "weight_overridden")
    assert ev["lead"] == "L9001" and ev["grams"] == 900.0


def test_label_numbers_are_valid_and_unique(service, packer, db):
    for order_id, codes in (
        ("SO-0001", ["TSH-M-BLK"]),
        ("SO-0002", ["MUG-WHT", "MUG-WHT", "TSH-M-BLK"]),
    ):
        service.open_order(order_id, packer)
        for code in codes:
            scan(service, order_id, code, packer)
        package = service.view(order_id).current_package
        service.set_carton(order_id, package.package_id, "BOX-M", packer)
        service.record_weight(
            order_id, package.package_id, service.expected_weight(package.package_id), packer
        )
    rows = db.execute(
        "SELECT sscc, tracking_number FROM packages WHERE sscc IS NOT NULL"
    ).fetchall()
    assert len(rows) == 2
    assert len({r[0] for r in rows}) == 2 and len({r[1] for r in rows}) == 2
    for sscc, number in rows:
        assert biip.parse("00" + sscc).sscc is not None
        assert tracking.is_valid_ups(number)


def test_several_packages_and_moving_items(service, packer, db):
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    assert service.new_package("SO-0002", packer).package_no == 2
    with pytest.raises(Refused):
        service.new_package("SO-0002", packer)  # package 2 is still empty
    order = service.view("SO-0002")
    assert [p.package_no for p in order.packages] == [1, 2]
    mug = order.lines[0]
    service.move_units("SO-0002", mug.line_id, 2, packer)
    scan(service, "SO-0002", "TSH-M-BLK", packer)
    order = service.view("SO-0002")
    assert [p.unit_count for p in order.packages] == [1, 2]
    for package in order.packages:
        service.set_carton("SO-0002", package.package_id, "BOX-M", packer)
        out = service.record_weight(
            "SO-0002", package.package_id, service.expected_weight(package.package_id), packer
        )
    assert out.order_packed
    packed = events(db, "order_packed")[0][1]
    assert [p["package_no"] for p in packed["packages"]] == [1, 2]


def test_reprint_and_void(service, packer, db):
    service.open_order("SO-0001", packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)
    package = service.view("SO-0001").current_package
    service.set_carton("SO-0001", package.package_id, "BOX-M", packer)
    service.record_weight("SO-0001", package.package_id, 430.0, packer)
    first = service.view("SO-0001").package(package.package_id).tracking_number
    service.reprint("SO-0001", package.package_id, packer)
    labels = [j for j in queue.open_jobs(db, "label")]
    assert len(labels) == 2 and labels[0].payload == labels[1].payload
    service.void_label("SO-0001", package.package_id, packer)
    assert queue.open_jobs(db, "label") == []  # both cancelled before printing
    order = service.view("SO-0001")
    assert order.status == "packing" and order.package(package.package_id).tracking_number is None
    service.record_weight("SO-0001", package.package_id, 430.0, packer)
    second = service.view("SO-0001").package(package.package_id).tracking_number
    assert second != first
    assert [t for t, _ in events(db) if t.startswith("label")] == [
        "label_queued",
        "label_reprinted",
        "label_voided",
        "label_queued",
    ]


def test_weighing_before_all_items_is_refused(service, packer):
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    package = service.view("SO-0002").current_package
    with pytest.raises(Refused):
        service.record_weight("SO-0002", package.package_id, 500.0, packer)


def test_undo_after_a_bad_weight_reopens_the_package_and_blocks_override(service, packer, lead):
    # Regression (crash-test finding): undo after an out-of-tolerance reading must not let
    # a lead override pack the order with an item missing.
    service.open_order("SO-0001", packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)
    package = service.view("SO-0001").current_package
    service.set_carton("SO-0001", package.package_id, "BOX-M", packer)
    service.record_weight("SO-0001", package.package_id, 900.0, packer)
    service.undo_last_scan("SO-0001", packer)
    assert service.view("SO-0001").package(package.package_id).status == "open"
    with pytest.raises(Refused):
        service.override_weight("SO-0001", package.package_id, lead, packer)
    scan(service, "SO-0001", "TSH-M-BLK", packer)  # the package takes items again
    assert service.view("SO-0001").all_resolved


def test_a_short_marked_after_the_other_parcels_were_labelled_packs_the_order(db, tmp_path, packer):
    # Crash-test finding: parcel 1 labelled, the last unit scanned into parcel 2 undone and
    # marked short: every line resolved, every parcel with units labelled, yet the order
    # stayed 'packing' with nothing to weigh (only a label finished an order).
    config = StationConfig(
        database=str(tmp_path / "x.db"), packing=Packing(short_policy="ship_partial")
    )
    service = PackingService(db, config)
    service.open_order("SO-0002", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    scan(service, "SO-0002", "MUG-WHT", packer)
    first = service.view("SO-0002").current_package
    service.new_package("SO-0002", packer)
    scan(service, "SO-0002", "TSH-M-BLK", packer)
    service.set_carton("SO-0002", first.package_id, "BOX-M", packer)
    out = service.record_weight(
        "SO-0002", first.package_id, service.expected_weight(first.package_id), packer
    )
    assert out.labelled and not out.order_packed  # parcel 2 still to weigh
    service.undo_last_scan("SO-0002", packer)
    shirt = service.view("SO-0002").lines[1]
    order = service.short_line("SO-0002", shirt.line_id, "missing", packer)
    assert order.status == "packed"
    [(_, packed)] = events(db, "order_packed")
    assert [p["package_no"] for p in packed["packages"]] == [1]
    assert packed["short"] == [{"line_no": 2, "qty": 1}]
    assert sorted(j.kind for j in queue.open_jobs(db)) == ["packing_slip", "shipping_label"]
