"""Receiving at the dock (Shift+F2): counting against a receipt, damage, undo, closing into
one goods_received event, and a receipt that survives a restart. Through the Textual app
with keys and the keyboard wedge; the receiving functions on a fresh database below."""

from __future__ import annotations

import pytest

from routing import store as hub_store
from routing.apply import receive_events
from station.app import StationApp
from station.packing.errors import Refused
from station.receiving import (
    close_receipt,
    count_units,
    open_receipt,
    start_receipt,
    tally,
    undo_count,
)
from station.screens.inspect import InspectScreen
from station.store.db import open_db
from station.store.outbox import pending_events
from sync.messages import Event
from tests.station.conftest import make_db
from tests.station.test_app_flow import login, type_text, wait_for
from tests.station.test_camera_flow import make_config, outbox

MUG = "04006381333931"  # MUG-WHT's GTIN
BATTERY_CASE = "10012345678902"  # a case of 12 BAT-AA-4


async def open_inspect(app, pilot) -> InspectScreen:
    await login(pilot, "Q5001")
    await pilot.press("f14")
    await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="inspect")
    return app.screen


def text(screen, widget: str) -> str:
    return str(screen.query_one(widget).render())


def receipts(config) -> list[tuple]:
    db = open_db(config.database)
    try:
        return db.execute("SELECT ref, closed_at IS NOT NULL, event_seq FROM receipts").fetchall()
    finally:
        db.close()


async def test_count_note_damage_undo_and_close_into_one_event(tmp_path, monkeypatch):
    config = make_config(tmp_path, "emulator://camera")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        await type_text(pilot, "PO-4711")
        for _ in range(3):
            await type_text(pilot, MUG)  # one unit a scan
        await type_text(pilot, "TSH-M-BLK")  # the SKU's own label counts too
        await type_text(pilot, "2")  # a keyed quantity times a case of 12
        await type_text(pilot, BATTERY_CASE)
        await type_text(pilot, "TSH-M-BLK")
        await pilot.press("f3")  # that last T-shirt was a mis-scan
        assert "Undone: 1 × TSH-M-BLK" in text(inspect, "#said")
        await pilot.press("f2")
        await type_text(pilot, MUG)
        await type_text(pilot, "4")  # more than were counted: refused, nothing noted
        assert "Only 3 counted unit(s) of MUG-WHT" in text(inspect, "#note")
        await type_text(pilot, "1")
        await pilot.press("f13")
        await wait_for(pilot, lambda: len(inspect.photos) == 1, what="photo")
        await type_text(pilot, "2")  # wet
        await wait_for(pilot, lambda: inspect.noted == 1, what="note")
        shown = text(inspect, "#tally")
        assert "MUG-WHT                 3        1        2" in shown
        assert "BAT-AA-4               24        0       24" in shown
        assert "3 SKU(s), 28 unit(s) received, 1 damaged" in shown
        monkeypatch.setattr("station.screens.inspect._TALLY_ROWS", 2)  # a long receipt
        inspect._show()
        shown = text(inspect, "#tally")
        assert "1 SKU(s) counted earlier" in shown and "MUG-WHT " not in shown
        assert "3 SKU(s), 28 unit(s) received, 1 damaged" in shown
        assert outbox(config, "goods_received") == []  # nothing booked before the close
        await pilot.press("f10")
        await wait_for(pilot, lambda: inspect.closed == 1, what="close")
        assert "Receipt PO-4711 closed: 3 SKU(s), 28 unit(s) received (1 damaged)" in text(
            inspect, "#said"
        )
        assert "Scan the receipt or PO reference." in text(inspect, "#body")
    [event] = outbox(config, "goods_received")
    assert event == {
        "ref": "PO-4711",
        "lines": [
            {"sku": "MUG-WHT", "qty_received": 3, "qty_damaged": 1},
            {"sku": "TSH-M-BLK", "qty_received": 1, "qty_damaged": 0},
            {"sku": "BAT-AA-4", "qty_received": 24, "qty_damaged": 0},
        ],
        "operator": "Q5001",
    }
    [note] = outbox(config, "inbound_inspected")
    assert (note["sku"], note["qty_damaged"], note["reason"], len(note["photos"])) == (
        "MUG-WHT",
        1,
        "wet",
        1,
    )
    db = open_db(config.database)
    seq = db.execute("SELECT seq FROM outbox WHERE type = 'goods_received'").fetchone()[0]
    db.close()
    assert receipts(config) == [("PO-4711", 1, seq)]


async def test_an_open_receipt_survives_a_restart(tmp_path):
    config = make_config(tmp_path, "")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        await type_text(pilot, "PO-8")
        await type_text(pilot, "5")
        await type_text(pilot, MUG)
        await wait_for(pilot, lambda: "+5" in text(inspect, "#said"), what="count")
    # The app is gone (as after a crash: each count was committed when it was shown).
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        assert "Receipt PO-8 is still open" in text(inspect, "#said")
        assert "MUG-WHT                 5" in text(inspect, "#tally")
        await type_text(pilot, MUG)
        await type_text(pilot, "CMD:RECEIVED")  # the command barcode closes it too
        await wait_for(pilot, lambda: inspect.closed == 1, what="close")
    [event] = outbox(config, "goods_received")
    assert event["lines"] == [{"sku": "MUG-WHT", "qty_received": 6, "qty_damaged": 0}]


async def test_the_dock_refuses_what_would_lose_or_invent_counts(tmp_path):
    config = make_config(tmp_path, "")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        await pilot.press("f10")
        assert "No receipt open" in text(inspect, "#note")
        await type_text(pilot, "PO-1")
        await pilot.press("f10")
        assert "Nothing counted on receipt PO-1" in text(inspect, "#note")
        await type_text(pilot, "PO-2")  # nothing counted yet: another receipt is fine
        assert inspect.ref == "PO-2"
        await type_text(pilot, MUG)
        await type_text(pilot, "PO-3")  # a stray scan must not drop PO-2's count
        assert "Receipt PO-2 is open with counts" in text(inspect, "#note")
        await type_text(pilot, "4006381333932")  # a GTIN misread (check digit): not a new receipt
        assert "Barcode not valid" in text(inspect, "#note")
        await pilot.press("f2")
        await type_text(pilot, "TSH-M-BLK")  # damaged but never counted
        assert "No TSH-M-BLK counted" in text(inspect, "#note")
        await type_text(pilot, "CMD:CANCEL")  # as Esc: cancels the note, stays on the receipt
        assert isinstance(app.screen, InspectScreen) and not inspect.damage
        await type_text(pilot, "7")
        await pilot.press("f10")
        assert "Quantity 7 waits for its item" in text(inspect, "#note")
        await pilot.press("escape")  # leaves; the receipt stays open
        await wait_for(pilot, lambda: not isinstance(app.screen, InspectScreen), what="back")
    assert outbox(config, "goods_received") == [] and receipts(config) == [("PO-2", 0, None)]


def test_undo_cannot_take_back_units_noted_damaged(tmp_path):
    from station.inspection import record_inspection

    db = make_db(tmp_path / "s.db")
    receipt = start_receipt(db, "PO-1", "Q5001")
    count_units(db, receipt.receipt_id, "MUG-WHT", 2, "Q5001")
    record_inspection(
        db, "S1", "Q5001", "PO-1", "MUG-WHT", 2, "broken", receipt_id=receipt.receipt_id
    )
    with pytest.raises(Refused, match="noted damaged"):
        undo_count(db, receipt.receipt_id)
    with pytest.raises(Refused, match="Only 0 counted"):
        record_inspection(
            db, "S1", "Q5001", "PO-1", "MUG-WHT", 1, "wet", receipt_id=receipt.receipt_id
        )
    assert [(ln.qty_received, ln.qty_damaged) for ln in tally(db, receipt.receipt_id)] == [(2, 2)]
    assert [e["type"] for e in pending_events(db)] == ["inbound_inspected"]


def test_a_closed_receipt_is_booked_at_the_hub_from_the_station_outbox(tmp_path):
    station = make_db(tmp_path / "s.db")
    receipt = start_receipt(station, "PO-5", "Q5001")
    count_units(station, receipt.receipt_id, "MUG-WHT", 4, "Q5001")
    count_units(station, receipt.receipt_id, "BAT-AA-4", 12, "Q5001")
    close_receipt(station, "WH1-PACK-01", receipt.receipt_id, "Q5001")
    assert open_receipt(station) is None
    with pytest.raises(Refused, match="not open"):
        close_receipt(station, "WH1-PACK-01", receipt.receipt_id, "Q5001")
    events = [
        Event(seq=e["seq"], id=e["event_id"], type=e["type"], at=e["at"], data=e["payload"])
        for e in pending_events(station)
    ]
    hub = hub_store.open_db(tmp_path / "hub.db")
    for sku in ("MUG-WHT", "BAT-AA-4"):
        hub["skus"].insert({"sku": sku, "name": sku, "weight_g": 1, "length_mm": 1,
                            "width_mm": 1, "height_mm": 1})  # fmt: skip
    for _ in range(2):  # the second time a replay
        receive_events(hub, "WH1", "WH1-PACK-01", events)
    assert hub_store.stock(hub, "WH1", "MUG-WHT") == (4, 4)
    assert hub_store.stock(hub, "WH1", "BAT-AA-4") == (12, 12)


def ship(config, order_id: str, short: dict[int, int] | None = None) -> None:
    """``order_id`` as this station keeps it once packed (``short``: line_no -> units)."""
    db = open_db(config.database)
    try:
        with db.atomic():
            db.execute("UPDATE orders SET status = 'packed', packed_at = '2026-11-27T10:00:00Z' "
                       "WHERE order_id = ?", [order_id])  # fmt: skip
            for line_no, qty in (short or {}).items():
                db.execute("UPDATE order_lines SET qty_short = ? WHERE order_id = ? AND "
                           "line_no = ?", [qty, order_id, line_no])  # fmt: skip
    finally:
        db.close()


async def test_a_return_slip_opens_a_return_of_its_order_counted_against_what_shipped(tmp_path):
    config = make_config(tmp_path, "")
    ship(config, "SO-0001", short={1: 1})  # 1 of 2 mugs and the T-shirt went out
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        await type_text(pilot, "SO-0002")  # an order of this station, not shipped
        assert "Order SO-0002 is" in text(inspect, "#note")
        assert "not shipped: it cannot come back" in text(inspect, "#note")
        assert inspect.receipt is None
        await type_text(pilot, "#0001")  # the order reference the slip's Code 128 encodes
        assert inspect.receipt.order_id == "SO-0001"
        assert "Return of order #0001 open" in text(inspect, "#said")
        await type_text(pilot, BATTERY_CASE)
        assert "BAT-AA-4 is not on order SO-0001" in text(inspect, "#note")
        await type_text(pilot, "TSH-M-BLK")
        await type_text(pilot, MUG)
        await type_text(pilot, MUG)  # the short mug never left
        assert "Order SO-0001 shipped 1 × MUG-WHT; 1 counted back already" in text(inspect, "#note")
        await pilot.press("f2")  # the mug came back broken: the damage note as for a PO
        await type_text(pilot, MUG)
        await type_text(pilot, "1")
        await type_text(pilot, "1")
        await wait_for(pilot, lambda: inspect.noted == 1, what="damage note")
        shown = text(inspect, "#tally")
        assert "returned" in shown and "2 SKU(s), 2 unit(s) returned, 1 damaged" in shown
        await pilot.press("f10")
        await wait_for(pilot, lambda: inspect.closed == 1, what="close")
        assert "Return of order #0001 closed: 2 SKU(s), 2 unit(s) returned (1 damaged)" in text(
            inspect, "#said"
        )
    assert outbox(config, "goods_received") == []
    [event] = outbox(config, "goods_returned")
    assert event == {
        "order_id": "SO-0001",
        "lines": [
            {"sku": "TSH-M-BLK", "qty_returned": 1, "qty_damaged": 0},
            {"sku": "MUG-WHT", "qty_returned": 1, "qty_damaged": 1},
        ],
        "operator": "Q5001",
    }
    [note] = outbox(config, "inbound_inspected")
    assert (note["ref"], note["sku"], note["qty_damaged"]) == ("#0001", "MUG-WHT", 1)


async def test_f5_opens_a_return_of_an_order_packed_at_another_station(tmp_path):
    config = make_config(tmp_path, "")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        inspect = await open_inspect(app, pilot)
        await pilot.press("f5")
        assert "Customer return: scan the order reference" in text(inspect, "#body")
        await type_text(pilot, "#7788")  # no order here has it: the hub checks the order
        assert inspect.receipt.is_return and inspect.receipt.order_id is None
        await type_text(pilot, BATTERY_CASE)  # any known item counts
        await pilot.press("f5")
        assert "is open: close it (F10) first" in text(inspect, "#note")
        await type_text(pilot, "CMD:RECEIVED")
        await wait_for(pilot, lambda: inspect.closed == 1, what="close")
        await type_text(pilot, "PO-9")  # F5 holds for one reference only
        assert inspect.receipt.ref == "PO-9" and not inspect.receipt.is_return
    [event] = outbox(config, "goods_returned")
    assert event == {
        "order_ref": "#7788",
        "lines": [{"sku": "BAT-AA-4", "qty_returned": 12, "qty_damaged": 0}],
        "operator": "Q5001",
    }
