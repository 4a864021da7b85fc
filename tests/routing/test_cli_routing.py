"""doms hub site / route / route-pending / explain / safety-stock, and hub run's router."""

from __future__ import annotations

import json
import time

import pytest

from doms.cli import build_parser, main
from routing import atp, feed, sites, store
from routing.dispatch import RoutingLoop, route_pending

from .twosite import NYC, SF, add_order, csv_order, make_hub, order_row

COMMANDS = {"site", "route", "route-pending", "explain", "requeue", "atp", "safety-stock"}


@pytest.fixture
def hub(tmp_path):
    path = tmp_path / "hub.db"
    make_hub(path).close()
    return str(path)


def counts(path: str) -> dict[str, int]:
    db = store.open_db(path)
    tables = ("orders", "order_lines", "ledger", "streams", "routing_decisions")
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


# -- sites ---------------------------------------------------------------------------------
def test_site_add_places_a_site_by_its_postal_code(tmp_path, capsys):
    db = str(tmp_path / "hub.db")
    args = ["hub", "site", "add", "--db", db, "--site", "WH2", "--postal-code", "90001",
            "--rank", "2", "--capacity", "800", "--cutoff", "15", "--utc-offset", "-8"]  # fmt: skip
    assert main(args) == 0
    row = sites.get_site(store.open_db(db), "WH2")
    assert (round(row["lat"], 2), round(row["lon"], 2)) == (33.97, -118.25)
    assert (row["rank"], row["capacity"], row["cutoff_hour"], row["utc_offset_h"]) == (
        2, 800, 15, -8,
    )  # fmt: skip
    assert "WH2: 33.9731,-118.2479 (US 90001)" in capsys.readouterr().out


def test_site_add_takes_coordinates_and_keeps_what_is_not_given(tmp_path):
    db = str(tmp_path / "hub.db")
    main(["hub", "site", "add", "--db", db, "--site", "DE1", "--lat", "52.52", "--lon",
          "13.405", "--country", "DE", "--capacity", "100"])  # fmt: skip
    main(["hub", "site", "add", "--db", db, "--site", "DE1", "--rank", "1"])
    row = sites.get_site(store.open_db(db), "DE1")
    assert (row["lat"], row["country"], row["capacity"], row["rank"]) == (52.52, "DE", 100, 1)


def test_site_add_refuses_a_postal_code_it_cannot_place(tmp_path, capsys):
    db = str(tmp_path / "hub.db")
    assert main(["hub", "site", "add", "--db", db, "--site", "X", "--postal-code", "00000"]) == 1
    assert "unknown to the zipcodes data" in capsys.readouterr().err


def test_site_list_shows_every_site_and_its_stations(hub, capsys):
    assert main(["hub", "site", "list", "--db", hub, "--json"]) == 0
    rows = {r["site"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"WH1", "WH2"} and rows["WH1"]["stations"] == 2


def test_hub_init_still_works_and_the_sample_site_has_a_location(tmp_path):
    db = str(tmp_path / "hub.db")
    assert main(["hub", "init", "--db", db, "--site", "WH1", "--stations", "2"]) == 0
    assert sites.get_site(store.open_db(db), "WH1")["lat"] is None
    assert main(["hub", "init", "--db", db, "--site", "WH1", "--sample", "--orders", "3"]) == 0
    assert sites.engine_sites(store.open_db(db))[0].id == "WH1"


# -- route ---------------------------------------------------------------------------------
def test_route_json_prints_the_plan_and_writes_nothing(hub, tmp_path, capsys):
    order = tmp_path / "order.csv"
    order.write_bytes(csv_order("W9", SF, ("SKU-A", 2), ("SKU-B", 1)))
    before = counts(hub)
    assert main(["hub", "route", str(order), "--db", hub, "--policy", "closest", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["order_id"] == "CSV-W9" and plan["policy"] == "closest"
    assert set(plan) >= {"summary", "method", "total_cost", "shipments", "unfilled", "sites"}
    [shipment] = plan["shipments"]
    assert shipment["site"] == "WH2" and shipment["carrier"]
    assert [(li["sku"], li["qty"]) for li in shipment["lines"]] == [("SKU-A", 2), ("SKU-B", 1)]
    assert {r["site"] for r in plan["sites"]} == {"WH1", "WH2"}
    assert counts(hub) == before


def test_route_explains_in_words(hub, tmp_path, capsys):
    order = tmp_path / "order.csv"
    order.write_bytes(csv_order("E9", NYC, ("SKU-A", 1)))
    assert main(["hub", "route", str(order), "--db", hub, "--policy", "closest"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("order CSV-E9 (closest") and "ship WH1 ->" in out


def test_route_names_an_unknown_policy(hub, tmp_path, capsys):
    order = tmp_path / "order.csv"
    order.write_bytes(csv_order("E9", NYC, ("SKU-A", 1)))
    assert main(["hub", "route", str(order), "--db", hub, "--policy", "nearest"]) == 1
    assert "nearest" in capsys.readouterr().err


def test_route_names_a_product_not_linked(hub, tmp_path, capsys):
    order = tmp_path / "order.csv"
    order.write_bytes(csv_order("E9", NYC, ("NOPE", 1)))
    assert main(["hub", "route", str(order), "--db", hub]) == 1
    assert "SKU NOPE is not in the catalogue" in capsys.readouterr().err


# -- route-pending, explain ----------------------------------------------------------------
def test_route_pending_routes_the_queue_and_explain_says_why(hub, capsys):
    db = store.open_db(hub)
    west = add_order(db, "W1", SF, ("SKU-A", 1))
    assert main(["hub", "route-pending", "--db", hub, "--policy", "closest"]) == 0
    assert "1 orders: 1 assigned to stations, 0 held" in capsys.readouterr().out
    assert order_row(db, west)["station"] == "WH2-PACK-01"
    assert main(["hub", "explain", west, "--db", hub]) == 0
    out = capsys.readouterr().out
    assert f"order {west} routed at" in out and "ship WH2 ->" in out
    assert "WH2 chosen" in " ".join(out.split())


def test_requeue_puts_a_back_order_back_once_stock_came_in(hub, capsys):
    db = store.open_db(hub)
    order = add_order(db, "E1", NYC, ("SKU-C", 1))
    main(["hub", "route-pending", "--db", hub])
    assert order_row(db, order)["status"] == "on_hold"
    feed.record_movement(db, "WH1", "SKU-C", 4, "receipt", "po:late")
    assert main(["hub", "requeue", order, "--db", hub]) == 0
    main(["hub", "route-pending", "--db", hub])
    assert order_row(db, order)["site"] == "WH1"
    assert main(["hub", "requeue", order, "--db", hub]) == 1
    assert "is not on_hold at the hub" in capsys.readouterr().err


def test_explain_of_an_order_never_routed_fails(hub, capsys):
    assert main(["hub", "explain", "CSV-NONE", "--db", hub]) == 1
    assert "no routing decision" in capsys.readouterr().err


def test_safety_stock_sets_the_channels_hold_back(hub):
    assert main(["hub", "safety-stock", "--db", hub, "--channel", "shopify", "--sku",
                 "SKU-A", "--units", "3"]) == 0  # fmt: skip
    assert atp.safety_stock(store.open_db(hub), "shopify") == ({"SKU-A": 3}, 0)


def test_atp_shows_each_site_the_unrouted_demand_and_the_channels_share(hub, capsys):
    db = store.open_db(hub)
    add_order(db, "1", NYC, ("SKU-A", 4))  # new: lowers the total, not a site
    atp.set_safety_stock(db, "shopify", "SKU-A", 5)
    assert main(["hub", "atp", "--db", hub, "SKU-A", "SKU-B", "--channel", "shopify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["sku", "WH1", "WH2", "unrouted", "total", "shopify"]
    assert lines[1].split() == ["SKU-A", "10", "10", "4", "16", "11"]
    assert lines[2].split() == ["SKU-B", "0", "5", "0", "5", "5"]
    route_pending(db)  # routed: the demand is now a reservation at one site
    assert main(["hub", "atp", "--db", hub, "SKU-A", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["unrouted"] == 0 and row["total"] == 16
    assert sorted(row["by_site"].values()) == [6, 10]


def test_atp_names_an_unknown_sku(hub, capsys):
    assert main(["hub", "atp", "--db", hub, "NOPE"]) == 1
    assert "NOPE" in capsys.readouterr().err


def test_safety_stock_refuses_an_unknown_sku(hub, capsys):
    args = ["hub", "safety-stock", "--db", hub, "--channel", "csv", "--sku", "X", "--units", "1"]
    assert main(args) == 1
    assert "not in the catalogue" in capsys.readouterr().err


# -- hub run's router ----------------------------------------------------------------------
def test_the_routing_loop_routes_what_arrives_while_it_runs(hub):
    woken = []
    loop = RoutingLoop(hub, "closest", every=0.05, on_routed=woken.append).start()
    try:
        db = store.open_db(hub)
        order = add_order(db, "E1", NYC, ("SKU-A", 1))
        deadline = time.monotonic() + 10
        while order_row(db, order)["status"] == "new" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert order_row(db, order)["site"] == "WH1"
    assert loop.routed == 1 and woken and loop.errors == 0


def test_the_routing_loop_ships_a_back_order_once_stock_arrives(hub):
    db = store.open_db(hub)
    order = add_order(db, "E2", NYC, ("SKU-B", 7))  # WH2 has 5: 2 held as -B1
    loop = RoutingLoop(hub, "closest", every=0.05).start()
    try:
        back = f"{order}-B1"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = db.execute("SELECT status FROM orders WHERE order_id = ?", [back]).fetchone()
            if row and row[0] == "on_hold":
                break
            time.sleep(0.05)
        assert order_row(db, back)["status"] == "on_hold"
        feed.record_movement(db, "WH1", "SKU-B", 3, "receipt", "po:E2")
        while order_row(db, back)["status"] != "assigned" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert (order_row(db, back)["status"], order_row(db, back)["site"]) == ("assigned", "WH1")
    assert loop.errors == 0


def test_hub_run_takes_the_routing_options():
    args = build_parser().parse_args(
        ["hub", "run", "--db", "h.db", "--site", "WH1", "--route-every", "5", "--policy", "ranked"]
    )
    assert (args.route_every, args.policy) == (5.0, "ranked")


def test_every_routing_command_has_help():
    hub = build_parser()._subparsers._group_actions[0].choices["hub"]
    actions = hub._subparsers._group_actions[0]
    assert set(actions.choices) >= COMMANDS
    helps = {a.dest: a.help for a in actions._choices_actions}
    for name in COMMANDS:
        assert helps[name] and actions.choices[name].description, name
        assert all(a.help for a in actions.choices[name]._actions), name
    site_actions = actions.choices["site"]._subparsers._group_actions[0]
    for name in ("add", "list"):
        parser = site_actions.choices[name]
        assert parser.description and all(a.help for a in parser._actions), name
