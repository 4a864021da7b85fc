"""goods_received at the hub: a receipt closed at a station's dock becomes stock, once."""

from __future__ import annotations

import json

import pytest

from routing.apply import prune_inbox, receive_events
from routing.backorders import requeue_backorders
from routing.dispatch import route_pending
from tests.sync.fake_station import StationLog

from .twosite import NYC, add_order, available, make_hub, order_row

STATION = "WH1-PACK-01"


@pytest.fixture
def db():
    return make_hub()


def received(log: StationLog, ref: str, *lines: tuple[str, int, int]) -> None:
    log.add(
        "goods_received",
        ref=ref,
        lines=[{"sku": s, "qty_received": r, "qty_damaged": d} for s, r, d in lines],
    )


def movements(db) -> list[tuple]:
    return db.execute(
        "SELECT site, sku, kind, qty, ref FROM ledger WHERE ref LIKE ? ORDER BY movement_id",
        [f"{STATION}:%"],
    ).fetchall()


def levels(db, site: str = "WH1") -> list[dict]:
    rows = db.execute(
        "SELECT data FROM streams WHERE stream_key = ? AND type = 'stock_level' ORDER BY seq",
        [f"site:{site}"],
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_good_units_become_available_and_damaged_ones_are_written_off(db):
    before = available(db, "WH1", "SKU-A")
    log = StationLog(STATION)
    log.noise()
    received(log, "PO-4711", ("SKU-A", 12, 2), ("SKU-C", 5, 0))
    receipt = receive_events(db, "WH1", STATION, log.events)
    assert (receipt.applied, receipt.rejected) == (2, 0)
    assert movements(db) == [
        ("WH1", "SKU-A", "receipt", 12, f"{STATION}:2/SKU-A"),
        ("WH1", "SKU-A", "adjustment", -2, f"{STATION}:2/SKU-A"),
        ("WH1", "SKU-C", "receipt", 5, f"{STATION}:2/SKU-C"),
    ]
    assert available(db, "WH1", "SKU-A") == before + 10
    assert available(db, "WH1", "SKU-C") == 5
    # One level per SKU the batch moved, with the sums after the whole receipt.
    last = {lv["sku"]: (lv["on_hand"], lv["available"]) for lv in levels(db)[-2:]}
    assert last == {"SKU-A": (before + 10, before + 10), "SKU-C": (5, 5)}


def test_a_replayed_batch_adds_nothing(db):
    log = StationLog(STATION)
    received(log, "PO-1", ("SKU-B", 4, 1))
    receive_events(db, "WH1", STATION, log.events)
    stream = len(levels(db))
    again = receive_events(db, "WH1", STATION, log.events)
    assert (again.applied, again.duplicates) == (0, 1)
    assert available(db, "WH1", "SKU-B") == 3
    assert len(movements(db)) == 2 and len(levels(db)) == stream


def test_a_second_delivery_against_the_same_po_is_booked_too(db):
    log = StationLog(STATION)
    received(log, "PO-1", ("SKU-B", 4, 0))
    received(log, "PO-1", ("SKU-B", 3, 0))  # the rest of the PO, on the next truck
    receive_events(db, "WH1", STATION, log.events)
    assert available(db, "WH1", "SKU-B") == 7


def test_lines_of_one_sku_are_summed(db):
    log = StationLog(STATION)
    received(log, "PO-1", ("SKU-B", 4, 1), ("SKU-B", 2, 1))
    assert receive_events(db, "WH1", STATION, log.events).rejected == 0
    assert available(db, "WH1", "SKU-B") == 4
    assert [m[2:4] for m in movements(db)] == [("receipt", 6), ("adjustment", -2)]


def test_all_damaged_books_the_receipt_and_writes_it_off(db):
    log = StationLog(STATION)
    received(log, "PO-1", ("SKU-B", 3, 3))
    receive_events(db, "WH1", STATION, log.events)
    assert available(db, "WH1", "SKU-B") == 0
    assert [m[2:4] for m in movements(db)] == [("receipt", 3), ("adjustment", -3)]


@pytest.mark.parametrize(
    "lines, reason",
    [
        ([("SKU-A", 2, 0), ("NOPE", 1, 0)], "receipt 'PO-9': unknown SKU NOPE"),
        ([("SKU-A", 2, 3)], "SKU-A: 3 damaged of 2 received"),
        ([("SKU-A", -1, 0)], "SKU-A: 0 damaged of -1 received"),
        ([("SKU-A", 1.5, 0)], "SKU-A: quantities must be whole numbers"),
        ([], "a receipt without lines"),
    ],
)
def test_a_receipt_that_cannot_apply_is_refused_whole_with_the_reason(db, lines, reason):
    log = StationLog(STATION)
    received(log, "PO-9", *lines)
    log.noise()
    receipt = receive_events(db, "WH1", STATION, log.events)
    assert (receipt.applied_seq, receipt.rejected) == (2, 1)
    assert db.execute("SELECT seq, error FROM inbox WHERE error IS NOT NULL").fetchall() == [
        (1, reason)
    ]
    assert movements(db) == []


def test_a_back_order_is_requeued_once_the_receipt_is_applied(db):
    # SKU-C is stocked nowhere: the order is held for stock.
    order = add_order(db, "R1", NYC, ("SKU-C", 2))
    route_pending(db, "closest")
    assert order_row(db, order)["status"] == "on_hold"
    assert requeue_backorders(db) == []
    log = StationLog(STATION)  # its events are stamped 2025, long before the hold
    received(log, "PO-7", ("SKU-C", 3, 1))
    receive_events(db, "WH1", STATION, log.events)
    assert requeue_backorders(db) == [order]
    assert route_pending(db, "closest").routed == [order]
    assert (order_row(db, order)["site"], available(db, "WH1", "SKU-C")) == ("WH1", 0)


def test_receipts_stay_in_the_inbox_when_it_is_pruned(db):
    log = StationLog(STATION)
    received(log, "PO-1", ("SKU-B", 1, 0))
    log.noise(3)
    receive_events(db, "WH1", STATION, log.events)
    assert prune_inbox(db, "WH1", keep_last=0, before="9999") == 3
    assert db.execute("SELECT seq, type FROM inbox").fetchall() == [(1, "goods_received")]
