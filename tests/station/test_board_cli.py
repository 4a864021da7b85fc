"""``doms board``: the site board alone, over a read-only client, against a real broker.
The retained statuses make it complete at once; a station's own user is refused; on the
broker ``doms broker setup`` wrote, the board-<site> user's snippet is the whole config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from doms.cli import build_parser
from station.board_cli import board_settings, make_app
from station.config import ConfigError
from station.screens.site_board import SiteBoardScreen
from sync import topics
from sync.broker.runner import Broker, broker_kind
from sync.messages import HubStatus, StationStatus, encode
from tests.station.test_app_flow import wait_for
from tests.sync.conftest import Peer

SITE = "WH1"
ROOT = Path(__file__).resolve().parents[2]


def args(*argv: str):
    return build_parser().parse_args(["board", *argv])


def retain_statuses(peer: Peer) -> None:
    """Two stations (one dead, by its Will) and the hub, as the broker keeps them."""
    alive = StationStatus(
        station="WH1-PACK-01",
        online=True,
        bd_seq=3,
        operator="B1001",
        screen="pack",
        devices={"scale": "ok", "slip_printer": "not answering"},
    )
    dead = StationStatus(station="WH1-PACK-02", online=False, bd_seq=5)
    for status in (alive, dead):
        peer.publish(topics.station_status(SITE, status.station), encode(status), retain=True)
    hub = HubStatus(online=True, bd_seq=1)
    peer.publish(topics.hub_status(SITE), encode(hub), retain=True)


def rows(app) -> list[str]:
    return str(app.screen.query_one("#rows").render()).splitlines()


async def test_board_starts_and_shows_the_retained_statuses(tmp_path):
    with Broker(workdir=tmp_path / "broker") as broker:
        peer = Peer(broker.port, client_id="publisher")
        assert peer.connected()
        retain_statuses(peer)
        peer.close()
        app = make_app(args("--broker", f"127.0.0.1:{broker.port}", "--site", SITE))
        async with app.run_test(size=(180, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, SiteBoardScreen), what="board")
            await wait_for(pilot, lambda: len(rows(app)) == 2, what="both stations")
            dead, alive = rows(app)
            assert dead.startswith("! WH1-PACK-02") and "OFFLINE" in dead and "before " in dead
            assert alive.startswith("! WH1-PACK-01") and "slip printer: not answering" in alive
            summary = str(app.screen.query_one("#summary").render())
            assert summary.startswith("2 stations: 1 online, 1 offline (WH1-PACK-02 since before")
            assert summary.endswith("; 1 printer problem")
            assert str(app.screen.query_one("#hub").render()) == "Hub: online"
            await pilot.press("escape")  # the board is the whole app: Esc keeps it
            assert isinstance(app.screen, SiteBoardScreen)
        assert not app.client.connected  # stopped with the app


def test_a_station_config_with_its_own_user_is_refused(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    config = tmp_path / "station.toml"
    config.write_text(
        f'station_id = "WH1-PACK-03"\n[sync]\nenabled = true\npassword_file = "{secret}"\n'
    )
    with pytest.raises(ConfigError, match="WH1-PACK-03's own broker user.*board-WH1"):
        board_settings(args("--config", str(config)))
    settings, site = board_settings(
        args("--config", str(config), "--username", "board-WH1", "--broker", "b.test:8883")
    )
    assert (settings.username, settings.password, settings.host, site) == (
        "board-WH1",
        "s3cret",
        "b.test",
        "WH1",
    )


def test_flags_without_a_site_are_a_clear_error():
    done = subprocess.run(
        [sys.executable, "-m", "doms", "board", "--broker", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (
        done.returncode == 2 and done.stderr == "doms board: --site is required without --config\n"
    )


@pytest.mark.skipif(broker_kind() != "mosquitto", reason="needs Mosquitto (users, ACL, TLS)")
async def test_board_user_of_broker_setup_over_tls(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "doms", "broker", "setup", "--site", SITE, "--stations", "1"]
        + ["--out", str(site), "--host", "localhost"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with Broker.from_setup(site, workdir=tmp_path / "run") as broker:
        station = Peer(
            broker.port, "WH1-PACK-01", (site / "credentials/WH1-PACK-01.password").read_text()
        )
        assert station.connected()
        status = StationStatus(station="WH1-PACK-01", online=True, bd_seq=1, operator="B7")
        station.publish(topics.station_status(SITE, "WH1-PACK-01"), encode(status), retain=True)
        station.close()
        config = site / "credentials" / f"board-{SITE}.toml"
        app = make_app(args("--config", str(config), "--broker", f"localhost:{broker.tls_port}"))
        async with app.run_test(size=(180, 30)) as pilot:
            await wait_for(pilot, lambda: len(rows(app)) == 1, what="the station, over TLS")
            assert "B7" in rows(app)[0]
            assert app.client.board.site == SITE
