"""goods_returned at the hub: a customer's return is booked back into stock, once, and listed."""

from __future__ import annotations

import json

import pytest

from doms.cli import main
from routing.apply import receive_events
from routing.dispatch import route_pending
from routing.returns import list_returns
from tests.sync.fake_station import StationLog

from .twosite import NYC, add_order, available, make_hub, order_row

DOCK = "WH1-PACK-02"  # returns come back to any station of the site, not only the packer's


@pytest.fixture
def hub(tmp_path):
    db = make_hub(str(tmp_path / "hub.db"))
    order = add_order(db, "R-1", NYC, ("SKU-A", 3), ("SKU-C", 1), ("SKU-A", 2))
    db.execute("INSERT INTO ledger (site, sku, qty, kind, ref, at) VALUES "
               "('WH1', 'SKU-C', 5, 'receipt', 'po:c', '2025-01-01T00:00:00.000Z')")  # fmt: skip
    route_pending(db, "closest")
    row = order_row(db, order)
    assert row["site"] == "WH1"
    packer = StationLog(row["station"])
    packer.pack(order, {1: 3, 2: 1, 3: 2}, short={3: 1})  # line 3 shipped 1 of 2
    assert receive_events(db, "WH1", row["station"], packer.events).rejected == 0
    db.order, db.dock = order, StationLog(DOCK)
    return db


def returned(db, *lines: dict, order_id: str | None = None, order_ref: str | None = None):
    order = {"order_ref": order_ref} if order_ref else {"order_id": order_id or db.order}
    db.dock.add("goods_returned", **order, lines=list(lines))
    return receive_events(db, "WH1", DOCK, db.dock.events)


def line(sku: str, back: int, damaged: int = 0, line_no: int | None = None) -> dict:
    out = {"sku": sku, "qty_returned": back, "qty_damaged": damaged}
    return out if line_no is None else {**out, "line_no": line_no}


def movements(db) -> list[tuple]:
    return db.execute(
        "SELECT sku, kind, qty, ref, order_id FROM ledger WHERE ref LIKE ? ORDER BY movement_id",
        [f"{DOCK}:%"],
    ).fetchall()


def rows(db) -> list[tuple]:
    return db.execute(
        "SELECT seq, line_no, sku, qty_returned, qty_damaged, site FROM returns "
        "ORDER BY seq, order_id, line_no"
    ).fetchall()


def order_ref(db, order_id: str) -> str:
    return db.execute("SELECT order_ref FROM orders WHERE order_id = ?", [order_id]).fetchone()[0]


def error(db) -> str | None:
    return db.execute(
        "SELECT error FROM inbox WHERE station = ? ORDER BY seq DESC LIMIT 1", [DOCK]
    ).fetchone()[0]


def test_good_units_go_back_to_stock_and_damaged_ones_are_written_off(hub):
    before = available(hub, "WH1", "SKU-A")
    receipt = returned(hub, line("SKU-A", 4, 1), line("SKU-C", 1))
    assert (receipt.applied, receipt.rejected) == (1, 0)
    assert movements(hub) == [
        ("SKU-A", "return", 4, f"{DOCK}:1/SKU-A", hub.order),
        ("SKU-A", "adjustment", -1, f"{DOCK}:1/SKU-A", hub.order),
        ("SKU-C", "return", 1, f"{DOCK}:1/SKU-C", hub.order),
    ]
    assert available(hub, "WH1", "SKU-A") == before + 3
    # By SKU alone, the order's lines of the SKU fill in line order (3 on line 1, 1 on 3).
    assert rows(hub) == [
        (1, 1, "SKU-A", 3, 1, "WH1"), (1, 2, "SKU-C", 1, 0, "WH1"), (1, 3, "SKU-A", 1, 0, "WH1"),
    ]  # fmt: skip
    levels = [json.loads(r[0]) for r in hub.execute(
        "SELECT data FROM streams WHERE stream_key = 'site:WH1' AND type = 'stock_level' "
        "ORDER BY seq DESC LIMIT 2").fetchall()]  # fmt: skip
    assert {lv["sku"]: lv["available"] for lv in levels}["SKU-A"] == before + 3


def test_a_replayed_return_books_nothing_twice(hub):
    returned(hub, line("SKU-C", 1))
    again = receive_events(hub, "WH1", DOCK, hub.dock.events)
    assert (again.applied, again.duplicates) == (0, 1)
    assert len(movements(hub)) == 1 and len(rows(hub)) == 1


def test_more_than_shipped_is_refused_with_the_reason_and_books_nothing(hub):
    receipt = returned(hub, line("SKU-C", 1), line("SKU-A", 5))  # 3 + 1 shipped, not 5
    assert (receipt.applied, receipt.rejected) == (1, 1)
    assert "SKU-A: 5 returned, but order" in error(hub) and "shipped 4" in error(hub)
    assert movements(hub) == [] and rows(hub) == []


def test_a_second_parcel_takes_back_only_what_is_left(hub):
    assert returned(hub, line("SKU-A", 3, line_no=1)).rejected == 0
    assert returned(hub, line("SKU-A", 1)).rejected == 0  # the one left is line 3's
    assert returned(hub, line("SKU-A", 1)).rejected == 1
    assert "shipped 4 and 4 came back before" in error(hub)
    assert [r[:4] for r in rows(hub)] == [(1, 1, "SKU-A", 3), (2, 3, "SKU-A", 1)]


@pytest.mark.parametrize(
    ("order_id", "lines", "reason"),
    [
        ("CSV-NOPE", [line("SKU-A", 1)], "return of unknown order 'CSV-NOPE'"),
        (None, [line("SKU-B", 1)], "SKU-B is not on order"),
        (None, [line("SKU-A", 1, line_no=2)], "SKU-A is not on line 2 of order"),
        (None, [line("SKU-A", 1, 2)], "SKU-A: 2 damaged of 1 returned"),
        (None, [line("SKU-A", 0)], "SKU-A: 0 damaged of 0 returned"),
    ],
)
def test_a_return_that_cannot_apply_is_refused_whole(hub, order_id, lines, reason):
    assert returned(hub, *lines, order_id=order_id).rejected == 1
    assert reason in error(hub)
    assert movements(hub) == [] and rows(hub) == []


def test_an_order_not_yet_shipped_takes_no_return(hub):
    other = add_order(hub, "R-2", NYC, ("SKU-A", 1))
    assert returned(hub, line("SKU-A", 1), order_id=other).rejected == 1
    assert "has not shipped" in error(hub)


def test_the_cli_lists_returns_with_their_channel_order(hub, capsys):
    returned(hub, line("SKU-A", 2, 1, line_no=1))
    db_path = hub.conn.execute("PRAGMA database_list").fetchone()[2]
    assert main(["hub", "returns", "--db", db_path, "--json"]) == 0
    (out,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert out["order_id"] == hub.order and out["channel_order_id"] == "R-1"
    assert (out["station"], out["seq"], out["site"]) == (DOCK, 1, "WH1")
    assert out["lines"] == [
        {"order_id": hub.order, "line_no": 1, "sku": "SKU-A", "qty_returned": 2, "qty_damaged": 1}
    ]
    assert main(["hub", "returns", "--db", db_path]) == 0
    text = capsys.readouterr().out
    assert hub.order in text and "1 return(s), 2 unit(s), 1 damaged" in text
    assert main(["hub", "returns", "--db", db_path, "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == "no returns\n"
    assert list_returns(hub, "2999-01-01T00:00:00.000Z") == []
    assert main(["hub", "returns", "--db", db_path, "--since", "soon"]) == 1
    assert "not an ISO date" in capsys.readouterr().err


def test_a_return_by_order_reference_spans_the_orders_parts(hub):
    # A station that did not pack the order sends the reference its slip encodes; the
    # hub finds every packed order with it: the channel order and a part split off it.
    part = f"{hub.order}-2"
    hub.execute("INSERT INTO orders (order_id, site, station, order_ref, ship_by, status, "
                "ship_to, carrier, service) SELECT ?, site, station, order_ref, ship_by, "
                "'packed', ship_to, carrier, service FROM orders WHERE order_id = ?",
                [part, hub.order])  # fmt: skip
    hub["order_lines"].insert({"order_id": part, "line_no": 1, "sku": "SKU-A", "qty": 2})
    ref = order_ref(hub, hub.order)
    assert returned(hub, line("SKU-A", 6), order_ref=ref).rejected == 0
    assert [r[:4] for r in rows(hub)] == [
        (1, 1, "SKU-A", 3),
        (1, 3, "SKU-A", 1),
        (1, 1, "SKU-A", 2),
    ]
    assert movements(hub) == [("SKU-A", "return", 6, f"{DOCK}:1/SKU-A", None)]
    assert returned(hub, line("SKU-A", 1), order_ref="NO-SUCH-REF").rejected == 1
    assert "unknown order 'NO-SUCH-REF'" in error(hub)
