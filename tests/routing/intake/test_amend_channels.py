"""Amazon buyer cancellation requests and Shopify order edits (orders/edited) at the hub."""

from __future__ import annotations

import copy
import json

import pytest

from routing import store
from routing.dispatch import route_pending
from routing.intake import import_bytes, map_sku

from ..twosite import available, make_hub, order_row, stream_types
from .conftest import fixture_bytes
from .test_amend import LINE_A, SHOPIFY, counts, deliver, lines, reserved, routed, shopify_order

AMAZON = "AMZ-113-4962018-7251439"  # line 1: 2 x MUG (SKU-A), line 2: 1 x BTL (SKU-B)
NEW_LINE = 13912345744437


@pytest.fixture
def db(tmp_path):
    hub = make_hub(str(tmp_path / "hub.db"))
    map_sku(hub, "shopify", "44321", "SKU-A")
    map_sku(hub, "shopify", "4432", "SKU-B")
    map_sku(hub, "amazon", "MUG-STW-OAT-FBM", "SKU-A", key_type="seller_sku")
    map_sku(hub, "amazon", "BTL-STL-CRL", "SKU-B", key_type="seller_sku")
    return hub


def amazon_order(*, cancel: dict[str, str] | None = None) -> bytes:
    """The getOrder + getOrderItems fixture, with the buyer's cancellation request
    (``{OrderItemId: BuyerCancelReason}``) on some items, as getOrderItems shows it."""
    data = json.loads(fixture_bytes("amazon_order.json"))
    for response in data[1:]:
        for item in response["payload"]["OrderItems"]:
            reason = (cancel or {}).get(item["OrderItemId"])
            if reason is not None:
                item["BuyerRequestedCancel"] = {
                    "IsBuyerRequestedCancel": "true", "BuyerCancelReason": reason,
                }  # fmt: skip
    return json.dumps(data).encode()


def station_lines(db, station: str, order_id: str) -> dict[int, int]:
    """The lines of the last ``order_assigned`` of ``order_id`` on the station's stream."""
    last = [
        data
        for _, type_, data in store.read_stream(db, store.station_key(station), 1, 10_000)
        if type_ == "order_assigned" and data["order_id"] == order_id
    ][-1]
    return {line["line_no"]: line["qty"] for line in last["lines"]}


# -- Amazon ----------------------------------------------------------------------------------
def test_a_buyer_cancel_request_on_an_item_cancels_its_units(db):
    import_bytes(db, amazon_order(), name="a.json")
    route_pending(db, "closest")
    station = order_row(db, AMAZON)["station"]
    assert (reserved(db, AMAZON), available(db, "WH2", "SKU-A")) == ({1: 2, 2: 1}, 8)

    again = amazon_order(cancel={"52986411826454": "Order Created by mistake"})
    (outcome,) = import_bytes(db, again, name="a.json").orders
    assert (outcome.status, outcome.hold_reason) == (
        "amended", "line 1: 2 units cancelled (buyer requested cancel: Order Created by mistake)",
    )  # fmt: skip
    assert (lines(db, AMAZON), reserved(db, AMAZON)) == ({2: 1}, {2: 1})
    assert available(db, "WH2", "SKU-A") == 10
    assert stream_types(db, station)[-1] == ("order_assigned", AMAZON)
    assert station_lines(db, station, AMAZON) == {2: 1}
    # The same response again, and the ORDER_CHANGE notification of that request: nothing.
    before = counts(db)
    assert [r.status for r in import_bytes(db, again, name="a.json").orders] == ["duplicate"]
    notice = fixture_bytes("amazon_order_change.json")
    assert [r.status for r in import_bytes(db, notice, name="n.json").orders] == ["duplicate"]
    assert counts(db) == before


def test_the_order_change_notification_cancels_the_units_once(db):
    import_bytes(db, amazon_order(), name="a.json")
    route_pending(db, "closest")
    notice = fixture_bytes("amazon_order_change.json")
    report = import_bytes(db, notice, name="n.json")
    assert (report.channel, [(r.order_id, r.status) for r in report.orders]) == (
        "amazon", [(AMAZON, "amended")],
    )  # fmt: skip
    assert report.orders[0].hold_reason == "line 1: 2 units cancelled (buyer requested cancel)"
    assert (lines(db, AMAZON), reserved(db, AMAZON)) == ({2: 1}, {2: 1})
    before = counts(db)
    # SQS delivers at least once; then getOrderItems shows the request: both change nothing.
    assert [r.status for r in import_bytes(db, notice, name="n.json").orders] == ["duplicate"]
    again = amazon_order(cancel={"52986411826454": "Order Created by mistake"})
    assert [r.status for r in import_bytes(db, again, name="a.json").orders] == ["duplicate"]
    assert counts(db) == before


def test_a_cancel_request_on_every_item_cancels_the_order(db):
    import_bytes(db, amazon_order(), name="a.json")
    route_pending(db, "closest")
    both = {"52986411826454": "Found cheaper", "52986411826466": "Found cheaper"}
    report = import_bytes(db, amazon_order(cancel=both), name="a.json")
    assert [(r.order_id, r.status) for r in report.orders] == [(AMAZON, "cancelled")]
    assert (available(db, "WH2", "SKU-A"), available(db, "WH2", "SKU-B")) == (10, 5)


def test_an_item_cancel_requested_before_intake_is_not_stored(db):
    report = import_bytes(db, amazon_order(cancel={"52986411826466": ""}), name="a.json")
    assert [r.status for r in report.orders] == ["new"]
    assert lines(db, AMAZON) == {1: 2}
    both = {"52986411826454": "", "52986411826466": ""}
    fresh = make_hub()
    (skip,) = import_bytes(fresh, amazon_order(cancel=both), name="a.json").skipped
    assert skip.reason == "buyer requested cancel: no reason given"


def test_an_order_change_of_an_order_never_taken_in_is_a_clear_skip(db):
    (skip,) = import_bytes(db, fixture_bytes("amazon_order_change.json"), name="n.json").skipped
    assert "the order is not at the hub" in skip.reason
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)


# -- Shopify orders/edited ---------------------------------------------------------------------
def edited(*, removals=(), additions=(), edit_id: int = 78912345601, committed: str = "") -> dict:
    body = json.loads(fixture_bytes("shopify_orders_edited.json"))
    edit = body["order_edit"]
    edit["id"] = edit_id
    edit["committed_at"] = committed or edit["committed_at"]
    edit["line_items"] = {
        "additions": [{"id": i, "delta": d} for i, d in additions],
        "removals": [{"id": i, "delta": d} for i, d in removals],
    }
    return body


def updated_after_edit(*, shirt: int = 2, new_line: int = 0, at: str) -> dict:
    """The orders/updated body Shopify sends for an edit: ``current_quantity`` of the shirt
    line, and a new line item (3 x variant 44321 in the edit) when ``new_line``."""
    body = shopify_order()
    body["updated_at"] = at
    body["line_items"][0]["current_quantity"] = shirt
    if new_line:
        item = copy.deepcopy(body["line_items"][0])
        item.update(id=NEW_LINE, quantity=new_line, current_quantity=new_line)
        body["line_items"].append(item)
    return body


def test_an_edit_removing_a_unit_shrinks_the_line_once(db):
    east, _ = routed(db)
    status, answer = deliver(db, "orders/edited", edited(removals=[(LINE_A, 1)]))
    assert (status, answer["status"]) == (200, "amended")
    assert answer["notes"] == "line 1: 1 unit cancelled (order edited)"
    assert (lines(db, SHOPIFY), reserved(db, SHOPIFY)) == ({1: 1}, {1: 1})
    assert available(db, "WH1", "SKU-A") == 9
    assert station_lines(db, east, SHOPIFY) == {1: 1}
    before = counts(db)
    assert deliver(db, "orders/edited", edited(removals=[(LINE_A, 1)]))[1]["status"] == "duplicate"
    later = updated_after_edit(shirt=1, at="2025-03-14T12:10:42-04:00")
    assert deliver(db, "orders/updated", later)[1]["status"] == "duplicate"
    assert counts(db) == before and lines(db, SHOPIFY) == {1: 1}


def test_an_edit_already_counted_by_orders_updated_changes_nothing(db):
    routed(db)
    later = updated_after_edit(shirt=1, at="2025-03-14T12:10:42-04:00")
    assert deliver(db, "orders/updated", later)[1]["status"] == "amended"
    before = counts(db)
    answer = deliver(db, "orders/edited", edited(removals=[(LINE_A, 1)]))[1]
    assert answer["status"] == "duplicate"
    assert counts(db) == before and lines(db, SHOPIFY) == {1: 1}


def test_a_line_added_to_a_routed_order_becomes_a_part_routed_on_its_own(db):
    east, _ = routed(db)
    answer = deliver(db, "orders/edited", edited(additions=[(NEW_LINE, 3)]))[1]
    # The edit names a line item, not its product: nothing changes until orders/updated.
    assert answer["status"] == "duplicate" and "next orders/updated" in answer["notes"]
    body = updated_after_edit(new_line=3, at="2025-03-14T12:10:42-04:00")
    answer = deliver(db, "orders/updated", body)[1]
    part = f"{SHOPIFY}-E1"
    assert (answer["status"], order_row(db, part)["status"]) == ("amended", "new")
    assert part in answer["hold_reason"]
    assert (lines(db, SHOPIFY), lines(db, part)) == ({1: 2}, {3: 3})
    assert reserved(db, part) == {}
    before = counts(db)
    assert deliver(db, "orders/updated", body)[1]["status"] == "duplicate"
    assert counts(db) == before
    route_pending(db, "closest")
    row = order_row(db, part)
    assert (row["status"], reserved(db, part)) == ("assigned", {3: 3})
    assert stream_types(db, row["station"])[-1] == ("order_assigned", part)
    assert station_lines(db, row["station"], part) == {3: 3}
    # Cancelling the order reaches the added part too.
    body["cancelled_at"] = "2025-03-14T13:00:00-04:00"
    assert deliver(db, "orders/cancelled", body)[1]["status"] == "cancelled"
    assert order_row(db, part)["status"] == "cancelled" and reserved(db, part) == {}


def test_units_added_to_an_order_not_routed_join_it(db):
    import_bytes(db, fixture_bytes("shopify_orders_create.json"), name="o.json")
    answer = deliver(db, "orders/edited", edited(additions=[(LINE_A, 1)]))[1]
    assert answer["status"] == "amended" and lines(db, SHOPIFY) == {1: 3, 2: 1}
    body = updated_after_edit(shirt=3, new_line=2, at="2025-03-14T12:20:00-04:00")
    body["line_items"][0]["quantity"] = 3
    assert deliver(db, "orders/updated", body)[1]["status"] == "amended"
    assert lines(db, SHOPIFY) == {1: 3, 2: 1, 3: 2}
    assert db.execute("SELECT count(*) FROM ledger WHERE order_id LIKE 'SHP-%'").fetchone() == (0,)
    assert order_row(db, SHOPIFY)["status"] == "new"
    route_pending(db, "closest")
    assert sum(reserved(db, SHOPIFY).values()) + sum(reserved(db, f"{SHOPIFY}-2").values()) == 6


def test_an_edit_imported_as_a_file_is_applied(db):
    routed(db)
    report = import_bytes(db, fixture_bytes("shopify_orders_edited.json"), name="edit.json")
    assert (report.channel, [r.status for r in report.orders]) == ("shopify", ["amended"])
    assert lines(db, SHOPIFY) == {1: 1}


def test_an_edit_of_an_unknown_order_is_kept_in_quarantine_and_answered_200(db):
    status, answer = deliver(db, "orders/edited", edited(removals=[(LINE_A, 1)]))
    assert status == 200 and "the order is not at the hub" in answer["skipped"]
    (reason,) = db.execute("SELECT reason FROM quarantine").fetchone()
    assert "5678901234567" in reason and "edit:78912345601" in reason
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_a_bad_edit_body_is_refused(db):
    body = {"order_edit": {"id": 1, "order_id": 2, "line_items": {"removals": [{"id": 3}]}}}
    status, answer = deliver(db, "orders/edited", body)
    assert status == 422 and "shopify order edit" in answer["error"]
