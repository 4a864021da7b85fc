"""The watched folder: files are imported, then moved to done/ or failed/ with a reason."""

from __future__ import annotations

import os
import time

from routing.intake.watch import scan_once

from .conftest import fixture_bytes


def test_an_imported_file_moves_to_done(db, tmp_path):
    (tmp_path / "orders.csv").write_bytes(fixture_bytes("orders.csv"))
    (outcome,) = scan_once(db, tmp_path, settle=0)
    assert [r.status for r in outcome.report.orders] == ["new", "new"]
    assert os.listdir(tmp_path / "done") == ["orders.csv"]
    assert not (tmp_path / "orders.csv").exists()


def test_a_bad_file_moves_to_failed_with_its_reason(db, tmp_path):
    (tmp_path / "broken.csv").write_text(
        "order_id,name,street1,city,country,sku,qty\n"
        "A-1,Lena Schröder,Sendlinger Straße 7,München,DE,KNF-CHF,1\n"
        "A-1,,,,,BTL-STL-CRL,-1\n"
    )
    scan_once(db, tmp_path, settle=0)
    assert sorted(os.listdir(tmp_path / "failed")) == ["broken.csv", "broken.csv.reason"]
    reason = (tmp_path / "failed" / "broken.csv.reason").read_text()
    assert reason == "row 3: qty '-1' is not a whole number >= 0\n"
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 0


def test_a_file_still_being_written_is_left_for_the_next_scan(db, tmp_path):
    (tmp_path / "orders.csv").write_bytes(fixture_bytes("orders.csv"))
    (tmp_path / "next.json.part").write_bytes(b"{")
    assert scan_once(db, tmp_path, settle=60) == []  # changed just now
    assert scan_once(db, tmp_path, settle=0)[0].name == "orders.csv"
    assert (tmp_path / "next.json.part").exists()


def test_a_file_dropped_again_is_a_duplicate_and_does_not_overwrite_done(db, tmp_path):
    for _ in range(2):
        (tmp_path / "orders.csv").write_bytes(fixture_bytes("orders.csv"))
        old = time.time() - 10
        os.utime(tmp_path / "orders.csv", (old, old))
        (outcome,) = scan_once(db, tmp_path)
    assert [r.status for r in outcome.report.orders] == ["duplicate", "duplicate"]
    assert len(os.listdir(tmp_path / "done")) == 2
