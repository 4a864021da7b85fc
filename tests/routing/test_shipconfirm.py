"""Shipment confirmations: channel orders imported, routed, packed, then told to the channel."""

from __future__ import annotations

import json

import pytest

from doms.cli import main
from routing import feed, shipconfirm
from routing.apply import receive_events
from routing.dispatch import route_pending
from routing.intake import import_bytes, map_sku
from tests.sync.fake_station import StationLog

from .intake.conftest import fixture_bytes
from .twosite import make_hub, order_row

SHOPIFY = "SHP-5678901234567"  # line 1: 2 x variant 44321, line 2: 1 x variant 4432
AMAZON = "AMZ-113-4962018-7251439"  # 2 x MUG-STW-OAT-FBM, 1 x BTL-STL-CRL
TIKTOK = "TTS-576461413038785752"  # 2 x sku 1729582718312380999 (two unit ids), 1 x ...777
CSV = "CSV-W-2025-0311"  # 12 x TWL-BTH-OAT, 12 x BTL-STL-CRL to Boston


@pytest.fixture
def hub(tmp_path):
    db = make_hub(str(tmp_path / "hub.db"))
    # SKU-A at both sites, SKU-B at WH2 only: an order of both to the east coast splits.
    for site, sku in (("WH1", "SKU-A"), ("WH2", "SKU-A"), ("WH2", "SKU-B")):
        feed.record_movement(db, site, sku, 40, "receipt", f"po:more:{site}:{sku}")
    for channel, key, sku in [
        ("shopify", "44321", "SKU-A"), ("shopify", "4432", "SKU-B"),
        ("amazon", "MUG-STW-OAT-FBM", "SKU-A"), ("amazon", "BTL-STL-CRL", "SKU-B"),
        ("tiktok", "1729582718312380999", "SKU-A"), ("tiktok", "1729582718312381777", "SKU-B"),
        ("csv", "TWL-BTH-OAT", "SKU-A"), ("csv", "BTL-STL-CRL", "SKU-B"),
    ]:  # fmt: skip
        map_sku(db, channel, key, sku)
    db.logs = {}  # station -> StationLog: one outbox per station, as a real one
    return db


def take_in(db, fixture: str) -> None:
    import_bytes(db, fixture_bytes(fixture), name=fixture)
    route_pending(db, "closest")


def pack(db, order_id: str, *trackings: str, short: dict[int, int] | None = None) -> None:
    """The station holding ``order_id`` packs it in one package per tracking number."""
    row = order_row(db, order_id)
    log = db.logs.setdefault(row["station"], StationLog(row["station"]))
    short = short or {}
    lines = dict(db.execute("SELECT line_no, qty FROM order_lines WHERE order_id = ?", [order_id]))
    log.add(
        "order_packed", order_id=order_id,
        packages=[{"package_no": n, "sscc": None, "tracking": t, "carton": "BOX-S", "grams": 500}
                  for n, t in enumerate(trackings, 1)],
        short=[{"line_no": n, "qty": q} for n, q in short.items()],
        lines=[{"line_no": n, "qty": q - short.get(n, 0)} for n, q in lines.items()],
    )  # fmt: skip
    receive_events(db, row["site"], row["station"], log.events)


def void(db, order_id: str, package_no: int) -> None:
    row = order_row(db, order_id)
    log = db.logs[row["station"]]
    log.void(order_id, package_no)
    receive_events(db, row["site"], row["station"], log.events)


def confirm(db, channel: str, tmp_path, **kw) -> tuple[shipconfirm.Feed, str]:
    """Write the channel's feed, take the file away as an uploader would; its text."""
    out = tmp_path / f"{channel}.feed"
    result = shipconfirm.write_ship_confirm(db, channel, out, **kw)
    text = out.read_text() if out.exists() else ""
    out.unlink(missing_ok=True)
    return result, text


def carrier_of(db, order_id: str) -> tuple[str, str]:
    return tuple(db.execute("SELECT carrier, service FROM orders WHERE order_id = ?", [order_id])
                 .fetchone())  # fmt: skip


# -- each channel's format ---------------------------------------------------------------
def test_shopify_gets_a_fulfillment_per_part_against_the_orders_line_items(hub, tmp_path):
    take_in(hub, "shopify_orders_create.json")
    assert order_row(hub, SHOPIFY)["site"] != order_row(hub, f"{SHOPIFY}-2")["site"]
    pack(hub, SHOPIFY, "1Z999AA10123456784")
    pack(hub, f"{SHOPIFY}-2", "1Z999AA10123456793")
    _, text = confirm(hub, "shopify", tmp_path)
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["order_id"] == second["order_id"] == 5678901234567
    assert first["name"] == "#1043"
    assert first["line_items"] == [{"id": 13912345678901, "quantity": 2}]
    assert second["line_items"] == [{"id": 13912345711669, "quantity": 1}]
    assert second["hub_order_id"] == f"{SHOPIFY}-2"
    carrier, _ = carrier_of(hub, SHOPIFY)
    names = {"UPS": "UPS", "USPS": "USPS", "FedEx": "FedEx"}
    assert first["fulfillment"]["notify_customer"] is True
    assert first["fulfillment"]["tracking_info"]["number"] == "1Z999AA10123456784"
    assert first["fulfillment"]["tracking_info"]["company"] == names[carrier]
    assert "1Z999AA10123456784" in first["fulfillment"]["tracking_info"]["url"]


def test_amazon_gets_the_flat_file_with_the_shipped_quantity_of_a_short_line(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784", short={1: 1})
    carrier, service = carrier_of(hub, AMAZON)
    site = order_row(hub, AMAZON)["site"]
    day = {"WH1": "2025-01-01", "WH2": "2024-12-31"}[site]  # 00:00 UTC at Los Angeles: Dec 31
    _, text = confirm(hub, "amazon", tmp_path)
    assert text.splitlines() == [
        "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\t"
        "tracking-number\tship-method",
        f"113-4962018-7251439\t52986411826454\t1\t{day}\t{carrier}\t\t1Z999AA10123456784\t{service}",
        f"113-4962018-7251439\t52986411826466\t1\t{day}\t{carrier}\t\t1Z999AA10123456784\t{service}",
    ]


def test_a_short_unit_routed_again_confirms_against_the_same_amazon_item(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784", short={1: 1})
    confirm(hub, "amazon", tmp_path)
    route_pending(hub, "closest")
    pack(hub, f"{AMAZON}-R1", "9400100000000000000017")
    result, text = confirm(hub, "amazon", tmp_path)
    assert [c.order_id for c in result.confirmations] == [f"{AMAZON}-R1"]
    (row,) = [r.split("\t") for r in text.splitlines()[1:]]
    assert row[:3] == ["113-4962018-7251439", "52986411826454", "1"]
    assert row[6] == "9400100000000000000017"


def test_tiktok_parts_name_disjoint_unit_ids_of_the_same_line(hub, tmp_path):
    take_in(hub, "tiktok_order_detail.json")
    pack(hub, TIKTOK, "1Z999AA10123456784", short={1: 1})
    _, text = confirm(hub, "tiktok", tmp_path)
    (first,) = (json.loads(line) for line in text.splitlines())
    assert first["path"] == "/fulfillment/202309/orders/576461413038785752/packages"
    assert first["body"] == {
        "order_line_item_ids": ["577086512123755123", "577086512123755125"],
        "tracking_number": "1Z999AA10123456784",
    }
    route_pending(hub, "closest")
    pack(hub, f"{TIKTOK}-R1", "1Z999AA10123456793")
    _, text = confirm(hub, "tiktok", tmp_path)
    (second,) = (json.loads(line) for line in text.splitlines())
    assert second["body"]["order_line_item_ids"] == ["577086512123755124"]
    assert second["hub_order_id"] == f"{TIKTOK}-R1"


def test_the_doms_csv_confirms_each_part_against_the_senders_order_and_lines(hub, tmp_path):
    take_in(hub, "orders.csv")  # SKU-B is only at WH2: line 2 leaves as part -2
    pack(hub, CSV, "1Z999AA10123456784", "1Z999AA10123456793")
    pack(hub, f"{CSV}-2", "9400100000000000000017")
    one, two = carrier_of(hub, CSV), carrier_of(hub, f"{CSV}-2")
    _, text = confirm(hub, "csv", tmp_path)
    at = "2025-01-01T00:00:01.000Z"
    assert text.splitlines() == [
        "order_id,line_no,sku,qty,package_no,carrier,service,tracking,shipped_at",
        f"W-2025-0311,1,SKU-A,12,1,{one[0]},{one[1]},1Z999AA10123456784,{at}",
        f"W-2025-0311,,,0,2,{one[0]},{one[1]},1Z999AA10123456793,{at}",
        f"W-2025-0311,2,SKU-B,12,1,{two[0]},{two[1]},9400100000000000000017,{at}",
    ]


def test_an_unknown_carrier_goes_to_amazon_as_other_with_its_name():
    names = shipconfirm.carrier("OnTrac")
    assert (names.amazon, names.shopify, names.url) == ("Other", "OnTrac", "")
    assert shipconfirm.carrier("fedex").amazon == "FedEx"


# -- exactly once ------------------------------------------------------------------------
def test_confirming_twice_confirms_once_and_writes_no_empty_file(hub, tmp_path):
    take_in(hub, "shopify_orders_create.json")
    pack(hub, SHOPIFY, "1Z999AA10123456784")
    result, text = confirm(hub, "shopify", tmp_path)
    assert result.packages == 1 and text
    pack(hub, f"{SHOPIFY}-2", "1Z999AA10123456793")
    result, text = confirm(hub, "shopify", tmp_path)
    assert [c.order_id for c in result.confirmations] == [f"{SHOPIFY}-2"]
    result, text = confirm(hub, "shopify", tmp_path)
    assert (result.packages, text) == (0, "")
    result, text = confirm(hub, "shopify", tmp_path, include_confirmed=True)
    assert len(text.splitlines()) == 2  # --all sends both again
    assert hub.execute("SELECT count(*) FROM ship_confirmations").fetchone()[0] == 2


def test_a_dry_run_records_nothing(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784")
    _, text = confirm(hub, "amazon", tmp_path, mark=False)
    _, again = confirm(hub, "amazon", tmp_path)
    assert text == again and len(text.splitlines()) == 3


def test_a_feed_not_yet_taken_is_never_written_over(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784")
    out = tmp_path / "amazon.txt"
    out.write_text("the last feed\n")
    with pytest.raises(FileExistsError):
        shipconfirm.write_ship_confirm(hub, "amazon", out)
    assert out.read_text() == "the last feed\n"
    assert hub.execute("SELECT count(*) FROM ship_confirmations").fetchone()[0] == 0


def test_since_leaves_out_packages_packed_before_it(hub, tmp_path):
    take_in(hub, "shopify_orders_create.json")
    pack(hub, SHOPIFY, "1Z999AA10123456784")  # seq 1 at its station: 00:00:01
    pack(hub, f"{SHOPIFY}-2", "1Z999AA10123456793")  # seq 1 at the other
    later = shipconfirm.parse_since("2025-01-01T00:00:02Z")
    result, text = confirm(hub, "shopify", tmp_path, since=later)
    assert (result.packages, text) == (0, "")
    result, _ = confirm(hub, "shopify", tmp_path, since=shipconfirm.parse_since("2025-01-01"))
    assert result.packages == 2
    with pytest.raises(ValueError, match="not an ISO"):
        shipconfirm.parse_since("yesterday")


def test_a_channel_sees_only_its_own_orders(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784")
    assert confirm(hub, "shopify", tmp_path)[0].packages == 0
    assert confirm(hub, "amazon", tmp_path)[0].packages == 1


# -- voids after confirmation --------------------------------------------------------------
def test_a_void_after_confirmation_is_reported_once_and_the_repack_confirmed(hub, tmp_path):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784")
    confirm(hub, "amazon", tmp_path)
    void(hub, AMAZON, 1)
    result, text = confirm(hub, "amazon", tmp_path)
    assert text == ""
    (correction,) = result.corrections
    assert (correction.order_id, correction.package_no, correction.tracking) == (
        AMAZON, 1, "1Z999AA10123456784",
    )  # fmt: skip
    assert "not shipped, order packing" in correction.now
    assert confirm(hub, "amazon", tmp_path)[0].corrections == []  # reported once
    pack(hub, AMAZON, "1Z999AA10123456793")
    result, text = confirm(hub, "amazon", tmp_path)
    rows = [r.split("\t") for r in text.splitlines()[1:]]
    assert [(r[1], r[6]) for r in rows] == [
        ("52986411826454", "1Z999AA10123456793"), ("52986411826466", "1Z999AA10123456793"),
    ]  # fmt: skip
    assert confirm(hub, "amazon", tmp_path, include_confirmed=True)[0].corrections


def test_the_cli_writes_the_feed_and_exits_3_on_a_correction(hub, tmp_path, capsys):
    take_in(hub, "amazon_order.json")
    pack(hub, AMAZON, "1Z999AA10123456784")
    db_path = str(tmp_path / "hub.db")
    out = tmp_path / "amazon.txt"
    args = ["hub", "ship-confirm", "amazon", "--db", db_path, "--out", str(out)]
    assert main([*args, "--dry-run"]) == 0
    assert out.read_text().startswith("order-id\torder-item-id\t")
    assert main(args) == 1  # the last feed is still there: not written over
    assert "not been taken" in capsys.readouterr().err
    out.unlink()
    assert main(args) == 0
    assert "1 packages of 1 shipments for amazon" in capsys.readouterr().out
    out.unlink()
    void(hub, AMAZON, 1)
    assert main(args) == 3
    captured = capsys.readouterr()
    assert "nothing to confirm to amazon" in captured.out
    assert "113-4962018-7251439" in captured.err and "1Z999AA10123456784" in captured.err
    assert main([*args, "--since", "someday"]) == 1


def test_a_carton_repacked_after_its_lines_were_confirmed_adds_only_its_number(hub, tmp_path):
    take_in(hub, "shopify_orders_create.json")
    pack(hub, SHOPIFY, "1Z999AA10123456784", "1Z999AA10123456793")
    confirm(hub, "shopify", tmp_path)
    void(hub, SHOPIFY, 2)
    pack(hub, SHOPIFY, "1Z999AA10123456784", "1Z999AA10123456800")  # package 1 unchanged
    result, text = confirm(hub, "shopify", tmp_path)
    (line,) = (json.loads(line) for line in text.splitlines())
    assert line["line_items"] == []  # package 1 still carries them
    assert [t["number"] for t in line["tracking"]] == ["1Z999AA10123456800"]
    assert [(k.package_no, k.tracking) for k in result.corrections] == [(2, "1Z999AA10123456793")]
    assert "now ships as 1Z999AA10123456800" in result.corrections[0].now
