"""doms hub stock receive / count / adjust / transfer (routing.stock), through the CLI."""

from __future__ import annotations

import json

import pytest

from doms.cli import build_parser, main
from routing import store

from .twosite import NYC, add_order, make_hub, order_row


@pytest.fixture
def hub(tmp_path):
    path = tmp_path / "hub.db"
    make_hub(path).close()
    return str(path)


def stock(path: str, site: str, sku: str) -> tuple[int, int]:
    return store.stock(store.open_db(path), site, sku)


def ledger_rows(path: str) -> int:
    return store.open_db(path).execute("SELECT count(*) FROM ledger").fetchone()[0]


def levels(path: str, site: str, after: int = 0) -> list[tuple[str, int, int]]:
    """``(sku, on_hand, available)`` of each ``stock_level`` on the site stream past seq
    ``after``."""
    rows = store.read_stream(store.open_db(path), store.site_key(site), after + 1, 10_000)
    return [(d["sku"], d["on_hand"], d["available"]) for _, t, d in rows if t == "stock_level"]


def head(path: str, site: str) -> int:
    return store.stream_head(store.open_db(path), store.site_key(site))


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def stock_cmd(*args: str) -> int:
    return main(["hub", "stock", *args])


# -- receive -------------------------------------------------------------------------------
def test_a_receipt_file_booked_twice_is_booked_once(hub, tmp_path, capsys):
    po = write(tmp_path, "po.csv", "sku,qty\nSKU-A,4\nSKU-B,6\nSKU-A,1\n")
    seq = head(hub, "WH1")
    assert stock_cmd("receive", po, "--db", hub, "--site", "WH1", "--ref", "PO-4711") == 0
    assert "2 receipts of 11 units booked" in capsys.readouterr().out
    assert stock(hub, "WH1", "SKU-A") == (15, 15) and stock(hub, "WH1", "SKU-B") == (6, 6)
    # One stream change per SKU, carrying the new levels; lines of one SKU are one receipt.
    assert levels(hub, "WH1", seq) == [("SKU-A", 15, 15), ("SKU-B", 6, 6)]
    rows, seq = ledger_rows(hub), head(hub, "WH1")
    assert stock_cmd("receive", po, "--db", hub, "--site", "WH1", "--ref", "PO-4711") == 0
    assert "nothing new, 2 already received" in capsys.readouterr().out
    assert (ledger_rows(hub), head(hub, "WH1"), stock(hub, "WH1", "SKU-A")) == (rows, seq, (15, 15))


def test_a_file_without_a_ref_is_known_by_its_content(hub, tmp_path, capsys):
    text = "sku,qty\nSKU-C,3\n"
    first, copy = write(tmp_path, "a.csv", text), write(tmp_path, "b.csv", text)
    assert stock_cmd("receive", first, "--db", hub, "--site", "WH2", "--json") == 0
    ref = json.loads(capsys.readouterr().out)["lines"][0]["ref"]
    assert ref.startswith("file-")
    assert stock_cmd("receive", copy, "--db", hub, "--site", "WH2") == 0  # same bytes
    assert stock(hub, "WH2", "SKU-C") == (3, 3)
    other = write(tmp_path, "c.csv", "sku,qty\nSKU-C,2\n")
    assert stock_cmd("receive", other, "--db", hub, "--site", "WH2") == 0
    assert stock(hub, "WH2", "SKU-C") == (5, 5)


def test_the_ref_column_names_each_rows_delivery(hub, tmp_path, capsys):
    po = write(tmp_path, "po.csv", "sku,qty,ref,note\nSKU-C,2,PO-1,x\nSKU-C,5,PO-2,y\n")
    assert stock_cmd("receive", po, "--db", hub, "--site", "WH1", "--ref", "IGNORED") == 0
    assert stock(hub, "WH1", "SKU-C") == (7, 7)
    # PO-2 alone again: already there; PO-2 with another quantity: refused, nothing written.
    again = write(tmp_path, "again.csv", "sku,qty\nSKU-C,5\nSKU-A,1\n")
    assert stock_cmd("receive", again, "--db", hub, "--site", "WH1", "--ref", "PO-2") == 0
    assert stock(hub, "WH1", "SKU-C") == (7, 7) and stock(hub, "WH1", "SKU-A") == (11, 11)
    capsys.readouterr()
    wrong = write(tmp_path, "wrong.csv", "sku,qty\nSKU-C,6\n")
    assert stock_cmd("receive", wrong, "--db", hub, "--site", "WH1", "--ref", "PO-2") == 1
    assert "line 2: SKU-C of PO-2 was received as 5, not 6" in capsys.readouterr().err
    assert stock(hub, "WH1", "SKU-C") == (7, 7)


def test_one_sku_from_the_command_line(hub, capsys):
    args = ["--db", hub, "--site", "WH1", "--sku", "SKU-B", "--qty", "4", "--ref", "PO-9"]
    assert stock_cmd("receive", *args) == 0
    assert stock_cmd("receive", *args) == 0
    assert stock(hub, "WH1", "SKU-B") == (4, 4)
    # Without a ref each command is a receipt of its own.
    assert stock_cmd("receive", "--db", hub, "--site", "WH1", "--sku", "SKU-B", "--qty", "1") == 0
    assert stock_cmd("receive", "--db", hub, "--site", "WH1", "--sku", "SKU-B", "--qty", "1") == 0
    assert stock(hub, "WH1", "SKU-B") == (6, 6)
    capsys.readouterr()
    assert stock_cmd("receive", "--db", hub, "--site", "WH1", "--sku", "SKU-B", "--qty", "-1") == 1
    assert "--qty -1 must be above 0" in capsys.readouterr().err
    assert stock_cmd("receive", "--db", hub, "--site", "WH1", "--sku", "SKU-B") == 2


BAD_RECEIPT = """sku,qty
SKU-A,2
SKU-NOPE,1
SKU-B,ten
SKU-B,-3
SKU-B,0
,4
SKU-B,1,extra
SKU-B,

SKU-B,3
"""


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(hub, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", BAD_RECEIPT)
    rows = ledger_rows(hub)
    assert stock_cmd("receive", path, "--db", hub, "--site", "WH1", "--ref", "PO-B") == 1
    err = capsys.readouterr().err.splitlines()
    assert [e.removeprefix("doms hub stock receive: ") for e in err] == [
        "line 3: SKU-NOPE is not in the catalogue",
        "line 4: SKU-B: qty 'ten' is not a whole number",
        "line 5: SKU-B: qty -3 must be above 0",
        "line 6: SKU-B: qty 0 must be above 0",
        "line 7: no sku",
        "line 8: 3 fields, the header has 2",
        "line 9: SKU-B: no qty",
    ]
    assert ledger_rows(hub) == rows
    # --dry-run says what the good rows would do and writes nothing either.
    args = ["--db", hub, "--site", "WH1", "--ref", "PO-B", "--skip-bad"]
    assert stock_cmd("receive", path, *args, "--dry-run", "--json") == 1
    out = json.loads(capsys.readouterr().out)
    assert [(r["sku"], r["qty"]) for r in out["lines"]] == [("SKU-A", 2), ("SKU-B", 3)]
    assert (out["written"], len(out["bad"]), ledger_rows(hub)) == (0, 7, rows)
    # --skip-bad books the good rows (the exit status says bad rows were left out).
    assert stock_cmd("receive", path, *args) == 3
    assert stock(hub, "WH1", "SKU-A") == (12, 12) and stock(hub, "WH1", "SKU-B") == (3, 3)


def test_a_file_that_is_not_a_stock_csv_is_refused_whole(hub, tmp_path, capsys):
    path = write(tmp_path, "x.csv", "item,count\nSKU-A,1\n")
    assert stock_cmd("receive", path, "--db", hub, "--site", "WH1") == 1
    assert "needs columns sku and qty (found: item, count)" in capsys.readouterr().err
    (tmp_path / "bin.csv").write_bytes(b"sku,qty\n\xff\xfe,1\n")
    assert stock_cmd("receive", str(tmp_path / "bin.csv"), "--db", hub, "--site", "WH1") == 1
    assert "not UTF-8 text" in capsys.readouterr().err


def test_a_semicolon_separated_export_reads_as_the_catalogue_loader_reads_it(hub, tmp_path):
    # One CSV reader (routing/csvtable.py) for every file the hub takes: a spreadsheet set
    # to a decimal comma writes ';' between cells.
    path = write(tmp_path, "eu.csv", "\ufeffSKU;Qty\nSKU-A;4\n\n")
    assert stock_cmd("receive", path, "--db", hub, "--site", "WH1", "--ref", "PO-EU") == 0
    assert stock(hub, "WH1", "SKU-A") == (14, 14)


def test_an_unregistered_site_is_refused(hub, capsys):
    assert stock_cmd("receive", "--db", hub, "--site", "WH9", "--sku", "SKU-A", "--qty", "1") == 1
    assert "site WH9 is not registered (sites: WH1, WH2)" in capsys.readouterr().err
    assert stock(hub, "WH9", "SKU-A") == (0, 0)


def test_atp_shows_what_was_received(hub, capsys):
    assert stock_cmd("receive", "--db", hub, "--site", "WH2", "--sku", "SKU-C", "--qty", "8") == 0
    capsys.readouterr()
    assert main(["hub", "atp", "SKU-C", "--db", hub, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["by_site"], row["total"]) == ({"WH2": 8}, 8)


def test_a_back_order_routes_once_its_stock_is_received(hub, capsys):
    db = store.open_db(hub)
    order = add_order(db, "BO1", NYC, ("SKU-C", 2))  # SKU-C is stocked nowhere
    db.close()
    assert main(["hub", "route-pending", "--db", hub, "--policy", "closest"]) == 0
    assert order_row(store.open_db(hub), order)["status"] == "on_hold"
    assert main(["hub", "requeue", "--backorders", "--db", hub]) == 0  # nothing came in
    assert order_row(store.open_db(hub), order)["status"] == "on_hold"
    args = ["--db", hub, "--site", "WH1", "--sku", "SKU-C", "--qty", "3", "--ref", "PO-77"]
    assert stock_cmd("receive", *args) == 0
    capsys.readouterr()
    # What 'doms hub run' does before each routing run.
    assert main(["hub", "requeue", "--backorders", "--db", hub]) == 0
    assert capsys.readouterr().out == f"{order} new\n"
    assert main(["hub", "route-pending", "--db", hub, "--policy", "closest"]) == 0
    row = order_row(store.open_db(hub), order)
    assert (row["status"], row["site"]) == ("assigned", "WH1")
    assert stock(hub, "WH1", "SKU-C") == (3, 1)


# -- count ---------------------------------------------------------------------------------
def reserve(path: str, order_id: str, *lines: tuple[str, int]) -> str:
    """Route an order to New York (WH1 is closest): its units are reserved at WH1."""
    db = store.open_db(path)
    order = add_order(db, order_id, NYC, *lines)
    db.close()
    assert main(["hub", "route-pending", "--db", path, "--policy", "closest"]) == 0
    assert order_row(store.open_db(path), order)["site"] == "WH1"
    return order


def test_a_count_sets_on_hand_and_leaves_reservations_alone(hub, tmp_path, capsys):
    reserve(hub, "R1", ("SKU-A", 4))
    assert stock(hub, "WH1", "SKU-A") == (10, 6)  # 4 reserved, still on the shelf
    seq = head(hub, "WH1")
    capsys.readouterr()
    path = write(tmp_path, "count.csv", "sku,qty\nSKU-A,8\nSKU-B,2\n")
    assert stock_cmd("count", path, "--db", hub, "--site", "WH1", "--ref", "CC-1") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        "sku    was  counted  adjustment  reserved",
        "SKU-A   10        8          -2         4",
        "SKU-B    0        2          +2         0",
    ]
    assert stock(hub, "WH1", "SKU-A") == (8, 4) and stock(hub, "WH1", "SKU-B") == (2, 2)
    assert levels(hub, "WH1", seq) == [("SKU-A", 8, 4), ("SKU-B", 2, 2)]
    reservations = (
        store.open_db(hub)
        .execute("SELECT sum(qty) FROM ledger WHERE kind = 'reservation' AND sku = 'SKU-A'")
        .fetchone()[0]
    )
    assert reservations == -4


def test_a_count_is_applied_once_even_after_stock_moved(hub, tmp_path, capsys):
    path = write(tmp_path, "count.csv", "sku,qty\nSKU-A,7\n")
    args = ["--db", hub, "--site", "WH1", "--ref", "CC-2"]
    assert stock_cmd("count", path, *args) == 0
    assert stock_cmd("receive", "--db", hub, "--site", "WH1", "--sku", "SKU-A", "--qty", "5",
                     "--ref", "PO-5") == 0  # fmt: skip
    seq = head(hub, "WH1")
    capsys.readouterr()
    assert stock_cmd("count", path, *args) == 0
    assert "already applied at" in capsys.readouterr().out
    assert (stock(hub, "WH1", "SKU-A"), head(hub, "WH1")) == ((12, 12), seq)
    other = write(tmp_path, "other.csv", "sku,qty\nSKU-A,9\n")
    assert stock_cmd("count", other, *args) == 1
    assert "from another file" in capsys.readouterr().err
    assert stock(hub, "WH1", "SKU-A") == (12, 12)


def test_a_partial_count_leaves_other_skus_and_full_zeroes_them(hub, tmp_path):
    path = write(tmp_path, "count.csv", "sku,qty\nSKU-B,1\n")
    assert stock_cmd("count", path, "--db", hub, "--site", "WH2", "--ref", "P") == 0
    assert stock(hub, "WH2", "SKU-A") == (10, 10) and stock(hub, "WH2", "SKU-B") == (1, 1)
    assert stock_cmd("count", path, "--db", hub, "--site", "WH2", "--ref", "F", "--full") == 0
    assert stock(hub, "WH2", "SKU-A") == (0, 0) and stock(hub, "WH2", "SKU-B") == (1, 1)
    assert stock(hub, "WH1", "SKU-A") == (10, 10)  # another site: untouched


def test_a_sku_counted_twice_is_a_bad_row_and_full_does_not_zero_it(hub, tmp_path, capsys):
    path = write(tmp_path, "count.csv", "sku,qty\nSKU-B,1\nSKU-A,3\nSKU-A,4\nSKU-C,x\n")
    args = ["--db", hub, "--site", "WH2", "--full"]
    assert stock_cmd("count", path, *args) == 1
    err = capsys.readouterr().err
    assert "line 3: SKU-A is counted on more than one line" in err
    assert "line 4: SKU-A is counted on more than one line (first on line 3)" in err
    assert "line 5: SKU-C: qty 'x' is not a whole number" in err
    assert stock(hub, "WH2", "SKU-B") == (5, 5)  # all or nothing
    assert stock_cmd("count", path, *args, "--skip-bad") == 3
    # SKU-B as counted; SKU-A, on bad rows, is not taken for absent (not zeroed).
    assert stock(hub, "WH2", "SKU-B") == (1, 1) and stock(hub, "WH2", "SKU-A") == (10, 10)


def test_a_dry_run_count_prints_the_differences_and_writes_nothing(hub, tmp_path, capsys):
    path = write(tmp_path, "count.csv", "sku,qty\nSKU-A,13\n")
    rows = ledger_rows(hub)
    assert stock_cmd("count", path, "--db", hub, "--site", "WH1", "--dry-run", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["sku"], r["was"], r["counted"], r["adjustment"]) for r in out["lines"]] == [
        ("SKU-A", 10, 13, 3)
    ]
    assert out["ref"].startswith("count-") and out["dry_run"] and out["written"] == 0
    assert ledger_rows(hub) == rows
    assert stock_cmd("count", path, "--db", hub, "--site", "WH1") == 0  # not taken as done
    assert stock(hub, "WH1", "SKU-A") == (13, 13)


# -- adjust and transfer -------------------------------------------------------------------
def test_an_adjustment_keeps_its_reason_and_a_ref_makes_it_once(hub, capsys):
    args = ["--db", hub, "--site", "WH1", "--sku", "SKU-A", "--qty", "-3", "--reason",
            "crushed by a forklift", "--ref", "DMG-1"]  # fmt: skip
    seq = head(hub, "WH1")
    assert stock_cmd("adjust", *args) == 0
    assert stock_cmd("adjust", *args) == 0
    assert "already booked" in capsys.readouterr().out
    assert stock(hub, "WH1", "SKU-A") == (7, 7)
    assert levels(hub, "WH1", seq) == [("SKU-A", 7, 7)]
    reason = (
        store.open_db(hub)
        .execute(
            "SELECT r.reason FROM stock_reasons r JOIN ledger l USING (movement_id) "
            "WHERE l.kind = 'adjustment' AND l.sku = 'SKU-A'"
        )
        .fetchall()
    )
    assert reason == [("crushed by a forklift",)]


def test_an_adjustment_cannot_take_on_hand_below_zero(hub, capsys):
    args = ["--db", hub, "--site", "WH1", "--sku", "SKU-A", "--reason", "lost"]
    assert stock_cmd("adjust", *args, "--qty", "-11") == 1
    assert "WH1 has 10 of SKU-A on hand: cannot take 11 off" in capsys.readouterr().err
    assert stock_cmd("adjust", *args, "--qty", "+2") == 0
    assert stock_cmd("adjust", *args, "--qty", "0") == 1
    assert stock_cmd("adjust", *args[:6], "--qty", "1", "--reason", " ") == 1
    assert stock(hub, "WH1", "SKU-A") == (12, 12)


def test_a_transfer_moves_available_stock_between_sites(hub, capsys):
    reserve(hub, "T1", ("SKU-A", 6))
    args = ["--db", hub, "--from", "WH1", "--to", "WH2", "--sku", "SKU-A", "--ref", "TR-1"]
    capsys.readouterr()
    assert stock_cmd("transfer", *args, "--qty", "5") == 1  # 4 available, 6 reserved
    assert "WH1 has 4 of SKU-A available" in capsys.readouterr().err
    seq1, seq2 = head(hub, "WH1"), head(hub, "WH2")
    assert stock_cmd("transfer", *args, "--qty", "4") == 0
    assert stock_cmd("transfer", *args, "--qty", "4") == 0  # the same ref: once
    assert stock(hub, "WH1", "SKU-A") == (6, 0) and stock(hub, "WH2", "SKU-A") == (14, 14)
    assert levels(hub, "WH1", seq1) == [("SKU-A", 6, 0)]
    assert levels(hub, "WH2", seq2) == [("SKU-A", 14, 14)]
    assert stock_cmd("transfer", *args[:-2], "--to", "WH1", "--qty", "1") == 1


def test_every_stock_action_is_documented():
    hub_actions = build_parser()._subparsers._group_actions[0].choices["hub"]
    stock_parser = hub_actions._subparsers._group_actions[0].choices["stock"]
    actions = stock_parser._subparsers._group_actions[0]
    assert set(actions.choices) == {"receive", "count", "adjust", "transfer"}
    helps = {a.dest: a.help for a in actions._choices_actions}
    for name, parser in actions.choices.items():
        assert helps[name] and parser.description, name
        assert all(a.help for a in parser._actions), name
