"""doms hub import / watch / webhook / map-sku / stock-feed: thin wrappers, documented."""

from __future__ import annotations

import pytest

from doms.cli import build_parser, main
from routing import feed, store

from .conftest import FIXTURES

INTAKE_COMMANDS = {"import", "watch", "webhook", "map-sku", "stock-feed"}


@pytest.fixture
def hub(tmp_path):
    path = tmp_path / "hub.db"
    db = store.open_db(path)
    for sku in ("TSH-ORG-M-BLK", "MUG-STW-OAT"):
        feed.upsert_sku(db, "WH1", {"sku": sku, "name": sku, "weight_g": 1, "length_mm": 1,
                                    "width_mm": 1, "height_mm": 1})  # fmt: skip
    db.close()
    return str(path)


def test_import_prints_each_order_and_why_it_is_held(hub, capsys):
    code = main(["hub", "import", "--db", hub, str(FIXTURES / "shopify_orders_create.json")])
    assert code == 0
    assert "SHP-5678901234567 on_hold: line 1: Shopify variant 44321 not linked" in (
        capsys.readouterr().out
    )


def test_import_of_an_unreadable_file_fails(hub, tmp_path, capsys):
    bad = tmp_path / "orders.json"
    bad.write_text('{"hello": "world"}')
    assert main(["hub", "import", "--db", hub, str(bad)]) == 1
    assert "not an order shape" in capsys.readouterr().err


def test_map_sku_releases_the_orders_it_unblocks(hub, capsys):
    main(["hub", "import", "--db", hub, str(FIXTURES / "shopify_orders_create.json")])
    main(["hub", "map-sku", "shopify", "44321", "TSH-ORG-M-BLK", "--db", hub])
    assert main(["hub", "map-sku", "shopify", "4432", "MUG-STW-OAT", "--db", hub]) == 0
    assert "released 1 held orders: SHP-5678901234567" in capsys.readouterr().out


def test_stock_feed_writes_the_channels_file(hub, tmp_path):
    main(["hub", "map-sku", "shopify", "4432", "MUG-STW-OAT", "--db", hub])
    out = tmp_path / "feed.csv"
    assert main(["hub", "stock-feed", "shopify", "--db", hub, "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1] == "MUG-STW-OAT,variant_id,4432,0"


def test_watch_once_imports_and_moves_the_files(hub, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "tiktok.json").write_bytes((FIXTURES / "tiktok_order_detail.json").read_bytes())
    assert main(["hub", "watch", str(drop), "--db", hub, "--once"]) == 0
    assert (drop / "done" / "tiktok.json").exists()


def test_webhook_refuses_a_world_readable_secret_file(hub, tmp_path, capsys):
    secret = tmp_path / "shopify.secret"
    secret.write_text("shpss_0123\n")
    secret.chmod(0o644)
    assert main(["hub", "webhook", "--db", hub, "--secret-file", str(secret)]) == 2
    assert "world-readable" in capsys.readouterr().err


def test_every_intake_command_has_help():
    hub = build_parser()._subparsers._group_actions[0].choices["hub"]
    actions = hub._subparsers._group_actions[0]
    assert set(actions.choices) >= INTAKE_COMMANDS
    for name in INTAKE_COMMANDS:
        parser = actions.choices[name]
        assert parser.description, name
        assert all(a.help for a in parser._actions), name
    helps = {a.dest: a.help for a in actions._choices_actions}
    assert all(helps[name] for name in INTAKE_COMMANDS)


def test_intake_does_not_import_station_or_textual():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import routing.intake, routing.intake.watch, routing.intake.webhook, routing.atp\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'station'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
