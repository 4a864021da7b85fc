"""The site board (Shift+F3 / CMD:BOARD) in the station app, against a real broker: the
app's own sync client and a second station (a plain MQTT client with a real Will) both
show; a device problem shows in words; the second station's Will flips its row to
OFFLINE and to the top."""

from __future__ import annotations

import pytest

from drivers.base import Scan
from station.app import StationApp
from station.config import Login, StationConfig, Sync
from station.messages import ScanArrived
from station.screens.pack import PackScreen
from station.screens.site_board import SiteBoardScreen
from sync import topics
from sync.broker.runner import Broker
from sync.messages import StationStatus, encode
from tests.station.conftest import make_db
from tests.station.test_app_flow import login, wait_for
from tests.sync.conftest import Peer

SITE, ME, OTHER = "WH1", "WH1-PACK-01", "WH1-PACK-02"


@pytest.fixture
def broker(tmp_path):
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


@pytest.fixture
def other(broker):
    """Station 2: connected with its Will, born online with a scale and a label printer."""
    will = StationStatus(station=OTHER, online=False, bd_seq=7, at="2026-11-27T09:00:00Z")
    peer = Peer(
        broker.port, client_id=OTHER, will=(topics.station_status(SITE, OTHER), encode(will))
    )
    assert peer.connected()
    yield peer
    peer.close()


def publish_status(peer: Peer, **fields) -> None:
    status = StationStatus(station=OTHER, online=True, bd_seq=7, **fields)
    peer.publish(topics.station_status(SITE, OTHER), encode(status), retain=True)


def lines(app) -> list[str]:
    return str(app.screen.query_one("#rows").render()).splitlines()


def summary(app) -> str:
    return str(app.screen.query_one("#summary").render())


async def test_board_shows_both_stations_a_device_problem_and_a_death(tmp_path, broker, other):
    config = StationConfig(
        database=str(tmp_path / "station.db"),
        synchronous="NORMAL",
        login=Login(idle_lock_s=600),
        sync=Sync(enabled=True, port=broker.port, reconnect_max_s=0.5),
    )
    make_db(config.database).close()
    ok = {"scale": "ok", "label_printer": "ok"}
    publish_status(other, operator="B2002", screen="pack", devices=ok, outbox_depth=2)
    app = StationApp(config, devices=False)
    async with app.run_test(size=(180, 40)) as pilot:
        await login(pilot)
        await pilot.press("shift+f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SiteBoardScreen), what="board")
        await wait_for(
            pilot,
            lambda: len(lines(app)) == 2 and "B1001" in lines(app)[0],
            what="both stations, this one logged in",
        )
        mine, theirs = lines(app)
        assert mine.startswith(f"  {ME}") and " online " in mine
        assert theirs.startswith(f"  {OTHER}") and "B2002" in theirs and "pack" in theirs
        assert summary(app) == "2 stations: 2 online"

        publish_status(
            other, operator="B2002", devices={"scale": "ok", "label_printer": "out of paper"}
        )
        await wait_for(pilot, lambda: lines(app)[0].startswith(f"! {OTHER}"), what="problem")
        assert "label printer: out of paper" in lines(app)[0]
        assert "device problem" in lines(app)[0]
        assert summary(app) == "2 stations: 2 online; 1 printer problem"

        publish_status(other, operator="B2002", devices=ok, outbox_depth=0)
        await wait_for(pilot, lambda: lines(app)[0].startswith(f"  {ME}"), what="all fine")
        other.client.loop_stop()
        other.client.socket().close()  # dies without DISCONNECT: the broker sends the Will
        await wait_for(pilot, lambda: lines(app)[0].startswith(f"! {OTHER}"), what="the Will")
        row = lines(app)[0]
        assert "OFFLINE" in row and "[offline]" in row
        assert "B2002" in row  # what the dead connection last said
        assert f"1 offline ({OTHER} since " in summary(app)
        assert lines(app)[1].startswith(f"  {ME}")

        app.post_message(ScanArrived(Scan("CMD:CANCEL")))  # a scan closes it too
        await wait_for(pilot, lambda: isinstance(app.screen, PackScreen), what="back to packing")


async def test_board_barcode_opens_it_and_says_when_sync_is_off(tmp_path):
    config = StationConfig(database=str(tmp_path / "station.db"), login=Login(idle_lock_s=600))
    make_db(config.database).close()
    app = StationApp(config, devices=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await login(pilot)
        app.post_message(ScanArrived(Scan("CMD:BOARD")))  # as a serial scanner's scan
        await wait_for(pilot, lambda: isinstance(app.screen, SiteBoardScreen), what="board")
        assert "Sync is off" in summary(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PackScreen), what="closed")
