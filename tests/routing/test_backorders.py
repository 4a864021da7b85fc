"""Back-orders go back in the queue once stock for them has come in (routing.backorders)."""

from __future__ import annotations

import pytest

from doms.cli import main
from routing import feed, store
from routing.backorders import held_for_stock, requeue_backorders
from routing.dispatch import route_pending
from routing.intake import import_bytes

from .twosite import NYC, add_order, available, make_hub, order_row


@pytest.fixture
def db(tmp_path):
    return make_hub(str(tmp_path / "hub.db"))


def test_a_back_order_part_is_requeued_after_a_receipt_and_routed(db):
    # WH2 has 5 SKU-B, WH1 none: 7 ordered, 5 routed, 2 split off as -B1 and held.
    order = add_order(db, "B1", NYC, ("SKU-B", 7))
    summary = route_pending(db, "closest")
    back = f"{order}-B1"
    assert list(summary.backorders) == [back]
    assert requeue_backorders(db) == []  # nothing has come in
    assert order_row(db, back)["status"] == "on_hold"
    feed.record_movement(db, "WH1", "SKU-B", 3, "receipt", "po:B")
    assert requeue_backorders(db) == [back]
    assert (order_row(db, back)["status"], order_row(db, back)["hold_reason"]) == ("new", None)
    assert route_pending(db, "closest").routed == [back]
    assert (order_row(db, back)["site"], available(db, "WH1", "SKU-B")) == ("WH1", 1)


def test_a_whole_order_held_for_stock_is_requeued_too(db):
    order = add_order(db, "C1", NYC, ("SKU-C", 2))  # SKU-C is stocked nowhere
    route_pending(db, "closest")
    assert order_row(db, order)["status"] == "on_hold"
    assert [oid for oid, _ in held_for_stock(db)] == [order]
    feed.record_movement(db, "WH2", "SKU-C", 1, "receipt", "po:C")
    assert requeue_backorders(db) == [order]
    # One unit of two: the rest is split off again, held, and waits for the next receipt.
    summary = route_pending(db, "closest")
    assert summary.routed == [order] and list(summary.backorders) == [f"{order}-B1"]
    assert requeue_backorders(db) == []


def test_every_line_needs_stock_somewhere(db):
    order = add_order(db, "D1", NYC, ("SKU-C", 1), ("SKU-B", 9))  # SKU-C nowhere
    route_pending(db, "closest")
    back = f"{order}-B1"  # WH2 ships its 5 SKU-B; 1 SKU-C and 4 SKU-B wait
    assert [oid for oid, _ in held_for_stock(db)] == [back]
    feed.record_movement(db, "WH1", "SKU-A", 5, "receipt", "po:A")  # not what it needs
    assert requeue_backorders(db) == []
    feed.record_movement(db, "WH1", "SKU-C", 5, "receipt", "po:C")  # SKU-B still nowhere
    assert requeue_backorders(db) == []
    feed.record_movement(db, "WH1", "SKU-B", 4, "receipt", "po:B")
    assert requeue_backorders(db) == [back]
    assert route_pending(db, "closest").routed == [back]


def test_a_cancellation_that_frees_stock_requeues_a_back_order(db):
    first = add_order(db, "E1", NYC, ("SKU-B", 5))
    second = add_order(db, "E2", NYC, ("SKU-B", 1))
    route_pending(db, "closest")
    assert order_row(db, first)["site"] == "WH2"
    assert order_row(db, second)["status"] == "on_hold"  # WH2's 5 went to the first
    feed.cancel_order(db, first, "buyer changed their mind")
    assert requeue_backorders(db) == [second]


def test_orders_held_for_other_reasons_stay_held(db):
    # An address routing cannot place (no postal code, no coordinates) ...
    raw = b"order_id,name,street1,city,country,sku,qty\nF1,Ada,1 Main St,Nowhere,US,SKU-A,1\n"
    (placed,) = import_bytes(db, raw, name="f.csv").orders
    # ... a product not linked to a SKU ...
    raw = b"order_id,name,street1,city,postal_code,country,sku,qty\nF2,Ada,1 Main St,NY,10001,US,NOPE,1\n"
    (unlinked,) = import_bytes(db, raw, name="g.csv").orders
    route_pending(db, "closest")
    assert order_row(db, placed.order_id)["hold_reason"].startswith("cannot route:")
    assert order_row(db, unlinked.order_id)["status"] == "on_hold"
    feed.record_movement(db, "WH1", "SKU-A", 5, "receipt", "po:A")
    assert requeue_backorders(db) == []
    assert held_for_stock(db) == []


def test_a_back_order_the_engine_still_cannot_ship_waits_for_the_next_arrival(db):
    order = add_order(db, "G1", NYC, ("SKU-C", 1))
    route_pending(db, "closest")
    feed.record_movement(db, "WH1", "SKU-C", 1, "receipt", "po:C1")
    # Someone else's order takes the unit first; ours is held again by this run ...
    other = add_order(db, "G0", NYC, ("SKU-C", 1))
    db.execute("UPDATE orders SET ship_by = '2020-01-01T00:00:00Z' WHERE order_id = ?", [other])
    assert requeue_backorders(db) == [order]
    route_pending(db, "closest")
    assert order_row(db, order)["status"] == "on_hold"
    # ... and is not requeued again on every run until more stock comes in.
    assert requeue_backorders(db) == []
    feed.record_movement(db, "WH2", "SKU-C", 1, "receipt", "po:C2")
    assert requeue_backorders(db) == [order]


def test_doms_hub_requeue_backorders(db, tmp_path, capsys):
    order = add_order(db, "H1", NYC, ("SKU-C", 1))
    route_pending(db, "closest")
    feed.record_movement(db, "WH1", "SKU-C", 2, "receipt", "po:H")
    path = str(tmp_path / "hub.db")
    assert main(["hub", "requeue", "--backorders", "--db", path]) == 0
    assert capsys.readouterr().out == f"{order} new\n"
    assert order_row(store.open_db(path), order)["status"] == "new"
    assert main(["hub", "requeue", "--db", path]) == 2
