"""Partial cancellations: fewer units on some lines of an order the hub has (intake.amend)."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest

from routing import store
from routing.apply import receive_events
from routing.dispatch import route_pending
from routing.intake import import_bytes, map_sku
from routing.intake.webhook import ShopifyWebhook
from station.store.db import open_db as open_station_db
from sync import messages as m
from sync.station_apply import apply_batch, read_marks
from tests.sync.fake_station import StationLog

from ..twosite import NYC, SF, add_order, available, csv_order, make_hub, order_row, stream_types
from .conftest import fixture_bytes

SHOPIFY = "SHP-5678901234567"  # line 1: 2 x variant 44321 (SKU-A), line 2: 1 x 4432 (SKU-B)
LINE_A, LINE_B = 13912345678901, 13912345711669


@pytest.fixture
def db(tmp_path):
    hub = make_hub(str(tmp_path / "hub.db"))
    map_sku(hub, "shopify", "44321", "SKU-A")
    map_sku(hub, "shopify", "4432", "SKU-B")  # only WH2 has SKU-B
    return hub


def shopify_order() -> dict:
    return json.loads(fixture_bytes("shopify_orders_create.json"))


def refund(refund_id: int, *lines: tuple[int, int], restock: str = "cancel") -> dict:
    """A refunds/create body as Shopify sends it (the fields doms reads, and some more)."""
    return {
        "id": refund_id, "order_id": 5678901234567, "created_at": "2025-03-14T11:02:41-04:00",
        "note": "out of stock", "restock": True, "user_id": 9012,
        "refund_line_items": [
            {"id": 1000 + refund_id + n, "line_item_id": line, "quantity": qty,
             "restock_type": restock, "location_id": 5501, "subtotal": 24.0, "total_tax": 1.74}
            for n, (line, qty) in enumerate(lines)
        ],
        "transactions": [], "order_adjustments": [],
    }  # fmt: skip


def updated(*removed: tuple[int, int], refund_id: int = 8801) -> dict:
    """The orders/updated body after a refund of ``removed`` (line item id, units):
    current_quantity down, the refund in ``refunds``."""
    body = shopify_order()
    for item in body["line_items"]:
        gone = sum(q for line, q in removed if line == item["id"])
        item["current_quantity"] = item["quantity"] - gone
        item["fulfillable_quantity"] = item["quantity"] - gone
    body["refunds"] = [refund(refund_id, *removed)]
    body["updated_at"] = "2025-03-14T11:02:42-04:00"
    return body


def deliver(db, topic: str, body: dict) -> tuple[int, dict]:
    hook = ShopifyWebhook(db, b"secret", port=0)
    try:
        return hook.handle(json.dumps(body).encode(), {"X-Shopify-Topic": topic})
    finally:
        hook.server.server_close()


def routed(db) -> tuple[str, str]:
    """The fixture order routed in two parts: SKU-A x2 at WH1, SKU-B x1 at WH2."""
    import_bytes(db, fixture_bytes("shopify_orders_create.json"), name="order.json")
    route_pending(db, "closest")
    return order_row(db, SHOPIFY)["station"], order_row(db, f"{SHOPIFY}-2")["station"]


def lines(db, order_id: str) -> dict[int, int]:
    return dict(db.execute("SELECT line_no, qty FROM order_lines WHERE order_id = ?", [order_id]))


def reserved(db, order_id: str) -> dict[int, int]:
    rows = db.execute(
        "SELECT line_no, -sum(qty) FROM ledger WHERE order_id = ? AND kind = 'reservation' "
        "GROUP BY line_no",
        [order_id],
    ).fetchall()
    return {n: q for n, q in rows if q}


def counts(db) -> tuple[int, int]:
    return tuple(
        db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("ledger", "streams")
    )


def replica(db, tmp_path, station: str) -> sqlite3.Connection:
    """A station replica that has applied the catalogue and the station's stream (the
    two-site hub writes its catalogue on WH1's site stream)."""
    site = "WH1"
    path = tmp_path / f"{station}.db"
    open_station_db(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for stream, key in (("site", store.site_key(site)), ("station", store.station_key(station))):
        mark = read_marks(conn)[stream]
        batch = [m.Change(seq, t, d) for seq, t, d in store.read_stream(db, key, mark + 1, 10_000)]
        apply_batch(conn, stream, batch, topic="test", now="2026-11-27T10:00:00Z")
    return conn


# -- Shopify ---------------------------------------------------------------------------------
def test_orders_updated_with_a_refunded_unit_shrinks_the_line_and_its_reservation(db, tmp_path):
    east, _ = routed(db)
    assert (available(db, "WH1", "SKU-A"), reserved(db, SHOPIFY)) == (8, {1: 2})
    station = replica(db, tmp_path, east)
    assert station.execute(
        "SELECT qty FROM order_lines WHERE order_id = ?", [SHOPIFY]
    ).fetchall() == [(2,)]

    status, answer = deliver(db, "orders/updated", updated((LINE_A, 1)))
    assert (status, answer) == (200, {"order_id": SHOPIFY, "status": "amended"})
    assert lines(db, SHOPIFY) == {1: 1}
    assert (available(db, "WH1", "SKU-A"), reserved(db, SHOPIFY)) == (9, {1: 1})
    assert stream_types(db, east)[-1] == ("order_assigned", SHOPIFY)
    # The station replaces its copy (it has not opened the order): one unit to pack.
    station = replica(db, tmp_path, east)
    assert station.execute(
        "SELECT line_no, qty FROM order_lines WHERE order_id = ?", [SHOPIFY]
    ).fetchall() == [(1, 1)]
    # The same delivery again (Shopify retries), and the refund's own webhook: nothing.
    before = counts(db)
    assert deliver(db, "orders/updated", updated((LINE_A, 1)))[1]["status"] == "duplicate"
    assert deliver(db, "refunds/create", refund(8801, (LINE_A, 1)))[1]["status"] == "duplicate"
    assert counts(db) == before and lines(db, SHOPIFY) == {1: 1}


def test_a_refund_of_a_whole_line_cancels_the_part_that_shipped_only_it(db):
    east, west = routed(db)
    assert available(db, "WH2", "SKU-B") == 4
    status, answer = deliver(db, "refunds/create", refund(8802, (LINE_B, 1)))
    assert (status, answer) == (200, {"order_id": SHOPIFY, "status": "amended"})
    assert order_row(db, f"{SHOPIFY}-2")["status"] == "cancelled"
    assert available(db, "WH2", "SKU-B") == 5
    assert stream_types(db, west)[-1] == ("order_cancelled", f"{SHOPIFY}-2")
    assert order_row(db, SHOPIFY)["status"] == "assigned" and lines(db, SHOPIFY) == {1: 2}
    # Delivered twice; then orders/updated that counts the same refund: nothing more.
    before = counts(db)
    assert deliver(db, "refunds/create", refund(8802, (LINE_B, 1)))[1]["status"] == "duplicate"
    body = updated((LINE_B, 1), refund_id=8802)
    assert deliver(db, "orders/updated", body)[1]["status"] == "duplicate"
    assert counts(db) == before


def test_refunding_every_unit_cancels_the_order(db):
    east, west = routed(db)
    answer = deliver(db, "refunds/create", refund(8803, (LINE_A, 2), (LINE_B, 1)))[1]
    assert answer == {"order_id": SHOPIFY, "status": "cancelled"}
    assert order_row(db, SHOPIFY)["status"] == "cancelled"
    assert order_row(db, f"{SHOPIFY}-2")["status"] == "cancelled"
    assert (available(db, "WH1", "SKU-A"), available(db, "WH2", "SKU-B")) == (10, 5)
    # orders/updated then shows every line at 0: a cancellation already made.
    body = updated((LINE_A, 2), (LINE_B, 1), refund_id=8803)
    assert deliver(db, "orders/updated", body)[1]["status"] == "cancelled"
    assert [t for t, _ in stream_types(db, east)].count("order_cancelled") == 1


def test_a_refund_of_returned_units_changes_no_shipment(db):
    routed(db)
    before = counts(db)
    body = refund(8804, (LINE_A, 1), restock="return")
    assert deliver(db, "refunds/create", body)[1]["status"] == "duplicate"
    assert counts(db) == before and lines(db, SHOPIFY) == {1: 2}


def test_orders_updated_after_a_return_changes_no_shipment(db):
    routed(db)
    before = counts(db)
    body = updated((LINE_A, 1))  # current_quantity 1 ...
    body["refunds"] = [refund(8807, (LINE_A, 1), restock="return")]  # ... as it came back
    assert deliver(db, "orders/updated", body)[1]["status"] == "duplicate"
    assert counts(db) == before and lines(db, SHOPIFY) == {1: 2}


def test_a_refund_of_an_order_never_taken_in_is_skipped(db):
    assert deliver(db, "refunds/create", refund(8805, (LINE_A, 1)))[1] == {
        "skipped": "order 5678901234567 is not at the hub"
    }


def test_units_already_packed_are_named_not_taken(db):
    _, west = routed(db)
    log = StationLog(west)
    log.pack(f"{SHOPIFY}-2", {2: 1})
    receive_events(db, "WH2", west, log.events)
    answer = deliver(db, "refunds/create", refund(8806, (LINE_B, 1)))[1]
    assert answer == {
        "order_id": SHOPIFY, "status": "amended",
        "not_removed": f"line 2: 1 unit already at a station ({SHOPIFY}-2: packed)",
    }  # fmt: skip
    assert order_row(db, f"{SHOPIFY}-2")["status"] == "packed"
    assert store.stock(db, "WH2", "SKU-B") == (4, 4)


def test_an_order_imported_after_a_refund_ships_what_is_left():
    from routing.intake import shopify

    body = updated((LINE_A, 2))
    (order,) = shopify.parse(body)
    assert [line.qty for line in order.lines] == [0, 1]
    assert order.refunds == ("8801",)
    del body["line_items"][0]["current_quantity"]  # before REST 2024-01: refunds count
    (order,) = shopify.parse(body)
    assert [line.qty for line in order.lines] == [0, 1]


def test_a_line_removed_before_intake_is_not_stored(db):
    body = updated((LINE_A, 2))
    report = import_bytes(db, json.dumps(body).encode(), name="o.json")
    assert [r.status for r in report.orders] == ["new"]
    assert lines(db, SHOPIFY) == {2: 1}


# -- CSV re-imports ------------------------------------------------------------------------------
def test_a_csv_reimport_with_a_lower_qty_shrinks_an_unrouted_order(db):
    order = add_order(db, "R1", NYC, ("SKU-A", 3), ("SKU-B", 2))
    report = import_bytes(db, csv_order("R1", NYC, ("SKU-A", 1), ("SKU-B", 2)), name="a.csv")
    assert [r.status for r in report.orders] == ["amended"]
    assert lines(db, order) == {1: 1, 2: 2}
    assert db.execute("SELECT count(*) FROM ledger WHERE order_id = ?", [order]).fetchone() == (0,)
    again = import_bytes(db, csv_order("R1", NYC, ("SKU-A", 1), ("SKU-B", 2)), name="a.csv")
    assert [r.status for r in again.orders] == ["duplicate"]


def test_a_csv_line_at_qty_0_is_removed_and_its_reservation_released(db, tmp_path):
    order = add_order(db, "R2", SF, ("SKU-A", 3), ("SKU-B", 2))
    route_pending(db, "closest")
    station = order_row(db, order)["station"]
    assert (order_row(db, order)["site"], available(db, "WH2", "SKU-B")) == ("WH2", 3)
    report = import_bytes(db, csv_order("R2", SF, ("SKU-A", 3), ("SKU-B", 0)), name="b.csv")
    assert [r.status for r in report.orders] == ["amended"]
    assert lines(db, order) == {1: 3}
    assert reserved(db, order) == {1: 3}
    assert available(db, "WH2", "SKU-B") == 5
    conn = replica(db, tmp_path, station)
    assert conn.execute(
        "SELECT line_no, sku, qty FROM order_lines WHERE order_id = ?", [order]
    ).fetchall() == [(1, "SKU-A", 3)]
    # Less again, then the same file twice: the second changes nothing.
    import_bytes(db, csv_order("R2", SF, ("SKU-A", 1), ("SKU-B", 0)), name="c.csv")
    before = counts(db)
    import_bytes(db, csv_order("R2", SF, ("SKU-A", 1), ("SKU-B", 0)), name="c.csv")
    assert counts(db) == before
    assert (reserved(db, order), available(db, "WH2", "SKU-A")) == ({1: 1}, 9)


def test_every_csv_line_at_qty_0_cancels_the_order(db):
    order = add_order(db, "R3", SF, ("SKU-A", 1))
    route_pending(db, "closest")
    report = import_bytes(db, csv_order("R3", SF, ("SKU-A", 0)), name="d.csv")
    assert [(r.order_id, r.status) for r in report.orders] == [(order, "cancelled")]
    assert available(db, "WH2", "SKU-A") == 10


def test_a_back_order_loses_its_units_before_the_routed_part(db):
    order = add_order(db, "R4", SF, ("SKU-B", 7))  # WH2 ships 5; -B1 holds 2
    route_pending(db, "closest")
    back = f"{order}-B1"
    assert (lines(db, order), lines(db, back)) == ({1: 5}, {1: 2})
    import_bytes(db, csv_order("R4", SF, ("SKU-B", 6)), name="e.csv")
    assert (lines(db, back), order_row(db, back)["status"]) == ({1: 1}, "on_hold")
    import_bytes(db, csv_order("R4", SF, ("SKU-B", 4)), name="f.csv")
    assert order_row(db, back)["status"] == "cancelled"
    assert (lines(db, order), reserved(db, order), available(db, "WH2", "SKU-B")) == (
        {1: 4}, {1: 4}, 1,
    )  # fmt: skip


def test_more_units_than_before_are_not_added_and_said_so(db):
    order = add_order(db, "R5", NYC, ("SKU-A", 1))
    report = import_bytes(db, csv_order("R5", NYC, ("SKU-A", 3)), name="g.csv")
    assert report.orders[0].status == "duplicate"
    assert "line 1: 3 units now, 1 before" in report.orders[0].hold_reason
    assert lines(db, order) == {1: 1}


def test_removing_the_unlinked_line_releases_a_held_order(db):
    body = shopify_order()
    body["line_items"][1]["variant_id"] = 999  # not linked
    body["line_items"][1]["sku"] = ""
    import_bytes(db, json.dumps(body).encode(), name="o.json")
    assert order_row(db, SHOPIFY)["status"] == "on_hold"
    gone = copy.deepcopy(body)
    gone["line_items"][1]["current_quantity"] = 0
    report = import_bytes(db, json.dumps(gone).encode(), name="o.json")
    assert [r.status for r in report.orders] == ["amended"]
    assert (order_row(db, SHOPIFY)["status"], lines(db, SHOPIFY)) == ("new", {1: 2})


# -- TikTok ----------------------------------------------------------------------------------
def test_a_tiktok_unit_cancelled_after_intake_comes_off_its_line(tmp_path):
    from routing import feed

    from .conftest import SITE, SKUS

    db = store.open_db(str(tmp_path / "t.db"))
    for sku in SKUS:
        feed.upsert_sku(db, SITE, {"sku": sku, "name": sku, "weight_g": 300, "length_mm": 100,
                                   "width_mm": 100, "height_mm": 100})  # fmt: skip
    map_sku(db, "tiktok", "1729582718312380999", "TSH-ORG-M-BLK")
    map_sku(db, "tiktok", "1729582718312381777", "CDL-SOY-LAV")
    raw = fixture_bytes("tiktok_order_detail.json")
    (taken,) = import_bytes(db, raw, name="t.json").orders
    assert lines(db, taken.order_id) == {1: 2, 2: 1}
    body = json.loads(raw)
    body["data"]["orders"][0]["line_items"][1]["display_status"] = "CANCELLED"
    again = json.dumps(body).encode()
    # The line's id (its units' ids) changed; its sku_id did not.
    assert [r.status for r in import_bytes(db, again, name="t.json").orders] == ["amended"]
    assert lines(db, taken.order_id) == {1: 1, 2: 1}
    assert [r.status for r in import_bytes(db, again, name="t.json").orders] == ["duplicate"]
