"""The hub database and the feed API: ledger, streams, orders, snapshots, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from routing import feed, store

SITE = "WH1"
SKU = {"sku": "SKU-A", "name": "Mug", "weight_g": 350, "length_mm": 130, "width_mm": 100,
       "height_mm": 100}  # fmt: skip
ORDER = {
    "order_id": "SO-1", "order_ref": "#1001", "ship_by": "2025-01-02T00:00:00Z",
    "ship_to": {"name": "Zoë Müller", "city": "Köln"}, "carrier": "UPS", "service": "Ground",
    "lines": [{"line_no": 1, "sku": "SKU-A", "qty": 2}],
}  # fmt: skip


@pytest.fixture
def db():
    return store.open_db(":memory:")


@pytest.fixture
def stocked(db):
    feed.upsert_sku(db, SITE, SKU)
    feed.record_movement(db, SITE, "SKU-A", 10, "receipt", "po:1")
    return db


def changes(db, key):
    return [(seq, type_) for seq, type_, _ in store.read_stream(db, key, 1, 10_000)]


# -- schema -----------------------------------------------------------------------------
def test_a_new_database_has_no_pending_migration(db):
    assert store.MIGRATIONS.pending(db) == []


def test_reopening_applies_no_migration_again(tmp_path):
    store.open_db(tmp_path / "hub.db").close()
    assert store.MIGRATIONS.migrate(store.open_db(tmp_path / "hub.db")) == []


def test_hub_database_is_in_wal_mode(tmp_path):
    assert store.open_db(tmp_path / "hub.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_replicated_tables_have_the_station_replicas_columns():
    from station.store.db import open_db as open_station_db

    station = open_station_db(":memory:")
    for table, columns in (
        ("skus", feed.SKU_COLUMNS),
        ("barcodes", feed.BARCODE_COLUMNS),
        ("cartons", feed.CARTON_COLUMNS),
        ("operators", feed.OPERATOR_COLUMNS),
    ):
        assert tuple(station[table].columns_dict) == columns
    assert set(feed.ORDER_COLUMNS) <= set(station["orders"].columns_dict)


# -- the ledger -------------------------------------------------------------------------
def test_stock_is_the_sum_of_movements(stocked):
    feed.record_movement(stocked, SITE, "SKU-A", -3, "adjustment", "count:7")
    feed.record_movement(stocked, SITE, "SKU-A", 1, "return", "rma:2")
    assert store.stock(stocked, SITE, "SKU-A") == (8, 8)


def test_a_reservation_lowers_available_not_on_hand(stocked):
    feed.record_movement(stocked, SITE, "SKU-A", -4, "reservation", "hold:1")
    assert store.stock(stocked, SITE, "SKU-A") == (10, 6)


def test_stock_is_kept_per_site(stocked):
    feed.record_movement(stocked, "WH2", "SKU-A", 5, "receipt", "po:2")
    assert store.stock_levels(stocked, SITE) == {"SKU-A": (10, 10)}


def test_a_movement_with_a_recorded_ref_is_not_recorded_again(stocked):
    assert feed.record_movement(stocked, SITE, "SKU-A", 10, "receipt", "po:1") is None
    assert store.stock(stocked, SITE, "SKU-A") == (10, 10)


@pytest.mark.parametrize(("qty", "kind"), [(0, "receipt"), (1, "gift"), (1.5, "receipt")])
def test_a_movement_needs_a_known_kind_and_a_nonzero_integer(db, qty, kind):
    with pytest.raises(ValueError):
        feed.record_movement(db, SITE, "SKU-A", qty, kind, "x:1")


def test_a_movement_puts_the_new_stock_level_on_the_site_stream(stocked):
    seq, type_, data = store.read_stream(stocked, store.site_key(SITE), 1)[-1]
    assert (type_, data["sku"], data["on_hand"], data["available"]) == (
        "stock_level",
        "SKU-A",
        10,
        10,
    )


def test_publishing_several_sites_at_once_streams_what_one_site_at_a_time_does():
    def hub():
        db = store.open_db(":memory:")
        for site, sku, qty in [("WH1", "SKU-A", 10), ("WH1", "SKU-B", 3), ("WH2", "SKU-A", 4)]:
            feed.record_movement(db, site, sku, qty, "receipt", f"po:{site}:{sku}")
        return db

    moved = {"WH2": {"SKU-A", "SKU-Z"}, "WH1": {"SKU-B", "SKU-A"}, "WH3": set()}
    one, many = hub(), hub()
    with store.transaction(one):
        for site, skus in moved.items():
            feed.publish_stock(one, site, skus)
    with store.transaction(many):
        feed.publish_stocks(many, moved)

    def levels(db):
        rows = db.execute("SELECT stream_key, seq, data FROM streams ORDER BY rowid").fetchall()
        return [(key, seq, {**json.loads(data), "at": None}) for key, seq, data in rows]

    assert levels(many) == levels(one)
    assert levels(many)[-4:] == [  # site after site as given, SKUs in order, none for WH3
        ("site:WH2", 2, {"sku": "SKU-A", "on_hand": 4, "available": 4, "at": None}),
        ("site:WH2", 3, {"sku": "SKU-Z", "on_hand": 0, "available": 0, "at": None}),
        ("site:WH1", 3, {"sku": "SKU-A", "on_hand": 10, "available": 10, "at": None}),
        ("site:WH1", 4, {"sku": "SKU-B", "on_hand": 3, "available": 3, "at": None}),
    ]


# -- streams ----------------------------------------------------------------------------
def test_streams_are_gapless_per_key_from_one(db):
    for i in range(3):
        feed.append_change(db, "site:WH1", "x", {"i": i})
        feed.append_change(db, "station:P1", "y", {"i": i})
    assert changes(db, "site:WH1") == [(1, "x"), (2, "x"), (3, "x")]
    assert changes(db, "station:P1") == [(1, "y"), (2, "y"), (3, "y")]


def test_numbering_goes_on_after_pruning(db):
    for i in range(3):
        feed.append_change(db, "site:WH1", "x", {"i": i})
    store.prune_stream(db, "site:WH1", 4)
    assert store.stream_floor(db, "site:WH1") == 4
    assert feed.append_change(db, "site:WH1", "x", {}) == 4


def test_a_refused_feed_call_leaves_no_change_behind(stocked):
    head = store.stream_head(stocked, store.site_key(SITE))
    bad = ORDER | {"lines": [{"line_no": 1, "sku": "NOPE", "qty": 1}]}
    with pytest.raises(ValueError):
        feed.assign_order(stocked, SITE, "P1", bad)
    assert store.stream_head(stocked, store.station_key("P1")) == 0
    assert store.stream_head(stocked, store.site_key(SITE)) == head


def test_an_upsert_that_changes_nothing_writes_no_change(stocked):
    assert feed.upsert_sku(stocked, SITE, SKU) is None
    assert feed.upsert_sku(stocked, SITE, SKU | {"name": "Big mug"}) is not None


def test_an_upsert_streams_the_whole_row(stocked):
    _, type_, data = store.read_stream(stocked, store.site_key(SITE), 1)[0]
    assert type_ == "sku_upserted"
    assert data == SKU | {"gtin": None, "tracking": "none", "qty_keyable": 0}


# -- orders -----------------------------------------------------------------------------
def test_assigning_an_order_streams_it_to_its_station(stocked):
    assert feed.assign_order(stocked, SITE, "P1", ORDER) == 1
    [(_, type_, data)] = store.read_stream(stocked, store.station_key("P1"), 1)
    assert type_ == "order_assigned"
    assert data["ship_to"] == {"name": "Zoë Müller", "city": "Köln"}
    assert data["lines"] == [
        {"line_no": 1, "sku": "SKU-A", "qty": 2, "qty_short": 0, "short_reason": None}
    ]


def test_assigning_an_order_reserves_its_stock(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    assert store.stock(stocked, SITE, "SKU-A") == (10, 8)


def test_an_order_is_assigned_once(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    with pytest.raises(ValueError, match="already exists"):
        feed.assign_order(stocked, SITE, "P2", ORDER)


def test_cancelling_an_order_releases_its_stock_and_tells_its_station(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    assert feed.cancel_order(stocked, "SO-1", "customer asked") == 2
    assert store.stock(stocked, SITE, "SKU-A") == (10, 10)
    assert changes(stocked, store.station_key("P1"))[-1] == (2, "order_cancelled")


def test_cancelling_twice_changes_nothing_more(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    feed.cancel_order(stocked, "SO-1")
    assert feed.cancel_order(stocked, "SO-1") is None


def test_a_packed_order_cannot_be_cancelled(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    stocked.execute("UPDATE orders SET status = 'packed'")
    with pytest.raises(ValueError, match="packed"):
        feed.cancel_order(stocked, "SO-1")


def test_a_station_belongs_to_one_site(db):
    feed.ensure_station(db, "WH1", "P1")
    with pytest.raises(ValueError, match="belongs to site WH1"):
        feed.ensure_station(db, "WH2", "P1")


# -- snapshots --------------------------------------------------------------------------
def test_a_snapshot_holds_the_site_and_only_the_stations_open_orders(stocked):
    feed.assign_order(stocked, SITE, "P1", ORDER)
    feed.assign_order(stocked, SITE, "P1", ORDER | {"order_id": "SO-2"})
    feed.assign_order(stocked, SITE, "P2", ORDER | {"order_id": "SO-3"})
    feed.cancel_order(stocked, "SO-2")
    site_seq, station_seq, snap = feed.snapshot_changes(stocked, SITE, "P1")
    assert (site_seq, station_seq) == (
        store.stream_head(stocked, store.site_key(SITE)),
        store.stream_head(stocked, store.station_key("P1")),
    )
    assert [t for t, _ in snap] == ["sku_upserted", "stock_level", "order_assigned"]
    assert snap[1][1]["available"] == 6  # SO-1 and SO-3 reserve 2 each
    assert snap[2][1]["order_id"] == "SO-1"


# -- sample and CLI ---------------------------------------------------------------------
def test_the_sample_assigns_orders_round_robin_and_loads_once(db):
    counts = feed.load_sample_hub(db, SITE, ["WH1-PACK-01", "WH1-PACK-02"], orders=6, skus=20)
    assert counts == {"skus": 20, "barcodes": counts["barcodes"], "cartons": 8, "operators": 7,
                      "orders": 6}  # fmt: skip
    by_station = dict(db.execute("SELECT station, count(*) FROM orders GROUP BY station"))
    assert by_station == {"WH1-PACK-01": 3, "WH1-PACK-02": 3}
    again = feed.load_sample_hub(db, SITE, ["WH1-PACK-01", "WH1-PACK-02"], orders=6, skus=20)
    assert set(again.values()) == {0}


def test_hub_init_creates_a_sample_database(tmp_path, capsys):
    from doms.cli import main

    path = tmp_path / "hub.db"
    assert main(["hub", "init", "--db", str(path), "--site", "WH1", "--stations", "2",
                 "--sample", "--orders", "4"]) == 0  # fmt: skip
    db = store.open_db(path)
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
    assert [r[0] for r in db.execute("SELECT station_id FROM stations ORDER BY 1")] == [
        "WH1-PACK-01", "WH1-PACK-02",
    ]  # fmt: skip


def test_hub_run_refuses_a_world_readable_password_file(tmp_path, capsys):
    from doms.cli import main

    secret = tmp_path / "hub.password"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    code = main(["hub", "run", "--db", str(tmp_path / "h.db"), "--site", "WH1",
                 "--password-file", str(secret)])  # fmt: skip
    assert code == 2
    assert "world-readable" in capsys.readouterr().err


def test_every_hub_command_has_help():
    from doms.cli import build_parser

    hub = build_parser()._subparsers._group_actions[0].choices["hub"]
    actions = hub._subparsers._group_actions[0]
    assert set(actions.choices) >= {"init", "run"}
    for name, parser in actions.choices.items():
        assert parser.description, name
        assert all(a.help for a in parser._actions), name
    assert all(choice.help for choice in actions._choices_actions)


def test_the_hub_does_not_import_station_or_textual():
    code = (
        "import sys\n"
        "import routing.store, routing.feed, routing.apply, routing.cli, sync.hub\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'station'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
