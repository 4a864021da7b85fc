"""The station app with ``[sync]`` on, against a real Mosquitto and a fake hub: the status
line says OFFLINE with the events waiting while the broker is dead and comes back to
online with nothing waiting; orders the hub assigns open by themselves."""

from __future__ import annotations

import pytest

from station.app import StationApp
from station.config import Login, StationConfig, Sync
from station.store.db import open_db
from station.widgets.side import SyncBar
from sync.broker.runner import Broker
from tests.station.conftest import make_db
from tests.station.test_app_flow import login, message, type_text, wait_for
from tests.sync.fake_hub import FakeHub
from tests.sync.test_photo_upload import jpeg, take_photo

STATION = "WH1-PACK-01"


@pytest.fixture
def broker(tmp_path):  # as tests/sync/conftest.py's: a real broker on a free port
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


@pytest.fixture
def config(tmp_path, broker):
    return StationConfig(
        database=str(tmp_path / "station.db"),
        synchronous="NORMAL",
        login=Login(idle_lock_s=600),
        sync=Sync(enabled=True, port=broker.port, reconnect_max_s=0.5),
    )


@pytest.fixture
def hub(broker):
    h = FakeHub(broker.port).start()
    yield h
    h.stop()


def sync_line(screen) -> str:
    return str(screen.query_one(SyncBar).render())


async def test_offline_shows_the_events_waiting_then_back_online(broker, hub, config):
    make_db(config.database).close()
    app = StationApp(config, devices=False)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await wait_for(
            pilot,
            lambda: "online · synced" in sync_line(screen) and app.sync.state().outbox_depth == 0,
            what="online, all delivered",
        )
        broker.kill()
        await wait_for(pilot, lambda: "OFFLINE" in sync_line(screen), what="offline")
        await type_text(pilot, "MUG-WHT")  # packing goes on: a scan while offline
        await wait_for(
            pilot, lambda: "OFFLINE — 1 event waiting" in sync_line(screen), what="1 waiting"
        )
        bar = screen.query_one(SyncBar)
        assert bar.has_class("offline")
        assert any("red" in str(span.style) for span in bar.render().spans)  # in red
        broker.start()
        await wait_for(
            pilot,
            lambda: "online · synced" in sync_line(screen) and "waiting" not in sync_line(screen),
            timeout=20,
            what="back online",
        )
        assert app.sync.state().outbox_depth == 0 and not bar.has_class("offline")
    assert "item_scanned" in [e.type for e in hub.applied[STATION]]


async def test_photos_not_uploaded_show_beside_the_events_online_and_offline(broker, hub, config):
    # The fake hub never says it is online, so photos wait: as behind a hub that is down.
    make_db(config.database).close()
    app = StationApp(config, devices=False)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await wait_for(pilot, lambda: "online · synced" in sync_line(screen), what="online")
        assert "photo" not in sync_line(screen)
        take_photo(config.database, jpeg(64, 48))
        take_photo(config.database, jpeg(64, 49))
        await wait_for(
            pilot, lambda: "· 2 photos waiting" in sync_line(screen), what="2 photos online"
        )
        broker.kill()
        await wait_for(
            pilot,
            lambda: "OFFLINE — 0 events waiting · 2 photos waiting" in sync_line(screen),
            what="2 photos offline",
        )
        assert app.sync.state().photos_waiting == 2


async def test_orders_the_hub_assigns_open_by_themselves_and_cancels_close(hub, config):
    db = make_db(config.database)
    db.execute("DELETE FROM order_lines")
    db.execute("DELETE FROM orders")
    db.conn.commit()
    db.close()
    app = StationApp(config, devices=False)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        assert screen.order is None
        await wait_for(
            pilot, lambda: app.sync.state().counters.get("snapshots_applied"), what="snapshot"
        )
        level = {"sku": "MUG-WHT", "on_hand": 14, "available": 12, "at": "2026-11-25T09:00Z"}
        hub.publish_site([hub.add_site("stock_level", level)])
        order = {
            "order_id": "SO-9001",
            "order_ref": "#9001",
            "ship_by": "2026-11-26T10:00:00Z",
            "ship_to": {"name": "Ann Lee", "city": "Columbus", "country": "US"},
            "carrier": "UPS",
            "service": "Ground",
            "lines": [{"line_no": 1, "sku": "MUG-WHT", "qty": 1}],
        }
        hub.publish_station(STATION, [hub.add_station(STATION, "order_assigned", order)])
        await wait_for(
            pilot, lambda: screen.order and screen.order.order_id == "SO-9001", what="opened"
        )
        await wait_for(
            pilot,
            lambda: "MUG-WHT 12 free" in str(screen.query_one("#devices").render()),
            what="hub stock shown",
        )
        assert "heard from hub" in str(screen.query_one("#devices").render())
        cancel = {"order_id": "SO-9001", "reason": "customer cancelled"}
        hub.publish_station(STATION, [hub.add_station(STATION, "order_cancelled", cancel)])
        await wait_for(pilot, lambda: "CANCELLED" in message(screen)[0], what="told")
        assert screen.order is None and "bad" in message(screen)[1]
    db = open_db(config.database)
    assert db.execute("SELECT status FROM orders").fetchall() == [("cancelled",)]
    db.close()
