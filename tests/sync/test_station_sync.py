"""The station side of sync (issue 3) against a real Mosquitto and a fake hub."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from station.config import ConfigError, StationConfig, Sync, broker_settings, load_config
from station.packing.operators import Operator
from station.packing.service import PackingService
from station.store.db import open_db
from station.store.outbox import record_event
from sync import messages as m
from sync import topics
from sync.mqtt import BrokerSettings, MqttLink
from sync.station import StationSync
from sync.station_apply import apply_batch, read_marks
from tests.station.conftest import make_db
from tests.sync.fake_hub import FakeHub

STATION = "WH1-PACK-01"
PACKER = Operator("B1001", "Sam Packer", "packer")
ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout: float = 15.0, what: str = ""):
    """Poll ``predicate`` until it is truthy; return its value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


@pytest.fixture
def hub(broker):
    h = FakeHub(broker.port).start()
    yield h
    h.stop()


@pytest.fixture
def config(tmp_path, broker):
    return StationConfig(
        database=str(tmp_path / "station.db"),
        synchronous="NORMAL",
        sync=Sync(enabled=True, port=broker.port, reconnect_max_s=0.5),
    )


@pytest.fixture
def station_db(config):
    """The station tests' catalogue and three orders; no events yet, marks at 0."""
    make_db(config.database).close()
    return config.database


@pytest.fixture
def start_sync(config):
    started: list[StationSync] = []

    def start(ack_timeout: float = 5.0) -> StationSync:
        settings = BrokerSettings(port=config.sync.port, backoff_min=0.05, backoff_max=0.5)
        presence = {"operator": "B1001", "screen": "pack", "devices": {"scale": "ok"}}
        sync = StationSync(
            config.database, config, settings, lambda: presence, ack_timeout=ack_timeout
        )
        started.append(sync.start())
        return sync

    yield start
    for sync in started:
        sync.stop()


def write_events(path: str, n: int) -> None:
    db = open_db(path, synchronous="NORMAL")
    with db.atomic():
        for i in range(n):
            record_event(db, STATION, "test_event", {"i": i})
    db.close()


def undelivered(path: str) -> int:
    db = open_db(path)
    try:
        return db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
    finally:
        db.close()


def rows(path: str, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def snapshot_done(sync: StationSync) -> bool:
    return sync.state().counters.get("snapshots_applied", 0) >= 1


# -- outbox -> hub ------------------------------------------------------------------------
def test_outbox_drained_in_order_in_batches_and_marked_delivered(hub, station_db, start_sync):
    write_events(station_db, 1200)
    sync = start_sync()
    hub.wait(lambda: hub.applied_seqs(STATION) == list(range(1, 1201)), what="all applied")
    assert [len(b.events) for b in hub.batches] == [500, 500, 200]
    wait_until(lambda: sync.state().outbox_depth == 0, what="depth 0")
    assert undelivered(station_db) == 0
    state = sync.state()
    assert state.acked_seq == 1200 and state.last_ack_at is not None
    ids = [r[0] for r in rows(station_db, "SELECT event_id FROM outbox ORDER BY seq")]
    assert [e.id for e in hub.applied[STATION]] == ids


def test_at_most_four_batches_unacked_then_resend_after_ack_timeout(broker, station_db, start_sync):
    hub = FakeHub(broker.port, ack=False).start()
    try:
        write_events(station_db, 2100)
        sync = start_sync(ack_timeout=1.0)
        hub.wait(
            lambda: [b.events[0].seq for b in hub.batches[4:]].count(1) >= 1,
            what="a resend from seq 1",
        )
        firsts = [b.events[0].seq for b in hub.batches]
        # Four batches in flight, then nothing new: after the timeout, again from the
        # last ack (none: seq 1), never seq 2001. (A QoS 1 duplicate of an in-flight batch
        # may arrive in between; that is the broker's right.)
        assert firsts[:4] == [1, 501, 1001, 1501]
        assert 2001 not in firsts[: firsts.index(1, 4) + 1]
        assert sync.state().counters["ack_timeouts"] >= 1
        assert undelivered(station_db) == 2100
    finally:
        hub.stop()


def test_resend_from_is_honoured_before_the_ack_timeout(hub, station_db, start_sync):
    hub.lose_batches = 1  # 1-500 vanish; 501-600 arrive to a gap
    write_events(station_db, 600)
    sync = start_sync(ack_timeout=60.0)
    hub.wait(lambda: hub.applied_seqs(STATION) == list(range(1, 601)), what="all applied")
    assert any(a.resend_from == 1 for a in hub.acks)
    counters = sync.state().counters
    assert counters["resends"] >= 1 and "ack_timeouts" not in counters


def test_lost_batch_is_sent_again_after_the_ack_timeout(hub, station_db, start_sync):
    hub.lose_batches = 1  # the only batch vanishes: no ack, no gap to report
    write_events(station_db, 10)
    sync = start_sync(ack_timeout=1.0)
    hub.wait(lambda: hub.applied_seqs(STATION) == list(range(1, 11)), what="all applied")
    assert sync.state().counters["ack_timeouts"] >= 1
    wait_until(lambda: undelivered(station_db) == 0, what="marked delivered")


def test_offline_station_keeps_packing_then_drains_exactly_once_in_order(
    broker, hub, station_db, config, start_sync
):
    db = open_db(station_db, synchronous="NORMAL")
    service = PackingService(db, config)
    service.log_in(PACKER)
    sync = start_sync()
    hub.wait(lambda: hub.applied_seqs(STATION) == [1], what="first event")
    wait_until(lambda: sync.state().outbox_depth == 0, what="delivered")

    broker.kill()
    wait_until(lambda: not sync.state().online, what="offline")
    order_id = service.next_order()
    service.open_order(order_id, PACKER)
    service.scan_item(order_id, service.classify("MUG-WHT"), PACKER)
    service.scan_item(order_id, service.classify("BAT-AA-4"), PACKER, qty=30)
    for _ in range(10):
        service.log_out(PACKER)
        service.log_in(PACKER)
    waiting = 23
    wait_until(lambda: sync.state().outbox_depth == waiting, what=f"{waiting} waiting")
    assert not sync.state().online

    stop, errors = threading.Event(), []

    def keep_packing() -> None:  # its own connection, as the UI thread has
        other = open_db(station_db, synchronous="NORMAL")
        packer = PackingService(other, config)
        try:
            while not stop.is_set():
                packer.log_out(PACKER)
                packer.log_in(PACKER)
                stop.wait(0.005)
        except Exception as exc:  # e.g. "database is locked": the test must fail
            errors.append(exc)
        finally:
            other.close()

    writer = threading.Thread(target=keep_packing)
    writer.start()
    try:
        before = len(hub.batches)
        broker.start()
        # Packing goes on while the backlog drains: three batches after the restart.
        hub.wait(lambda: len(hub.batches) >= before + 3, what="draining while packing")
    finally:
        stop.set()
        writer.join()
    assert errors == []
    last = rows(station_db, "SELECT max(seq) FROM outbox")[0][0]
    hub.wait(lambda: hub.applied_seqs(STATION) == list(range(1, last + 1)), what="all, once")
    wait_until(lambda: sync.state().outbox_depth == 0 and undelivered(station_db) == 0)
    types = [e.type for e in hub.applied[STATION][1:5]]
    assert types == ["order_opened", "item_scanned", "item_scanned", "operator_logged_out"]
    db.close()


def test_birth_bd_seq_persists_and_a_clean_stop_says_offline(hub, station_db, start_sync):
    first = start_sync()
    births = lambda: [s for s in hub.statuses if s.online]  # noqa: E731
    birth = hub.wait(lambda: births() and births()[-1], what="birth")
    assert (birth.station, birth.bd_seq, birth.operator, birth.screen) == (
        STATION,
        1,
        "B1001",
        "pack",
    )
    assert birth.devices == {"scale": "ok"}
    first.stop()
    hub.wait(lambda: any(not s.online and s.bd_seq == 1 for s in hub.statuses), what="goodbye")
    start_sync()
    hub.wait(lambda: any(s.online and s.bd_seq == 2 for s in hub.statuses), what="rebirth")


CHILD = """
import sys, threading
from station.config import StationConfig, Sync
from sync.mqtt import BrokerSettings
from sync.station import StationSync
path, port = sys.argv[1], int(sys.argv[2])
config = StationConfig(database=path, sync=Sync(enabled=True, port=port))
settings = BrokerSettings(port=port, backoff_min=0.05, backoff_max=0.5)
StationSync(path, config, settings, lambda: {"operator": "B1001"}).start()
threading.Event().wait()
"""


def test_will_is_published_retained_with_the_births_bd_seq_when_the_station_dies(
    broker, hub, station_db
):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, station_db, str(broker.port)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        birth = hub.wait(lambda: next((s for s in hub.statuses if s.online), None), what="birth")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    death = hub.wait(lambda: next((s for s in hub.statuses if not s.online), None), what="the Will")
    assert (death.station, death.bd_seq) == (STATION, birth.bd_seq)
    # Retained: a lead's screen that connects now still sees the station as dead.
    got: list[m.StationStatus] = []
    arrived = threading.Event()
    topic = topics.station_status("WH1", STATION)
    watcher = MqttLink(
        BrokerSettings(port=broker.port),
        "lead-screen",
        on_message=lambda t, p: (got.append(m.decode(p)), arrived.set()),
        on_connect=lambda: watcher.subscribe([topic]),
        clean_session=True,
    )
    watcher.start()
    try:
        assert arrived.wait(10)
    finally:
        watcher.stop()
    assert not got[0].online and got[0].bd_seq == birth.bd_seq


# -- hub -> station -----------------------------------------------------------------------
SKU = {
    "sku": "LAMP-01",
    "name": "Desk lamp",
    "gtin": "00614141000012",
    "weight_g": 900.0,
    "length_mm": 300,
    "width_mm": 200,
    "height_mm": 150,
    "tracking": "none",
    "qty_keyable": 0,
}
ORDER = {
    "order_id": "SO-9001",
    "order_ref": "#9001",
    "channel": "shopify",
    "tote": "TOTE-9001",
    "pick_list": None,
    "ship_by": "2026-11-26T10:00:00Z",
    "priority": 0,
    "ship_to": {"name": "Ann Lee", "city": "Columbus", "country": "US"},
    "carrier": "UPS",
    "service": "Ground",
    "assigned_at": "2026-11-25T08:00:00Z",
    "status": "assigned",
    "hold_reason": None,
    "lines": [{"line_no": 1, "sku": "LAMP-01", "qty": 1, "qty_short": 0, "short_reason": None}],
}


def stock(sku: str, available: int) -> dict:
    return {"sku": sku, "on_hand": available + 2, "available": available, "at": "2026-11-25T09:00Z"}


def test_stream_changes_applied_once_and_duplicates_ignored(hub, station_db, start_sync):
    sync = start_sync()
    wait_until(lambda: snapshot_done(sync), what="empty snapshot")
    site = [
        hub.add_site("sku_upserted", SKU),
        hub.add_site("barcode_upserted", {"code": "LAMP-01", "sku": "LAMP-01", "kind": "sku"}),
        hub.add_site("stock_level", stock("LAMP-01", 7)),
    ]
    hub.publish_site(site)
    hub.publish_site(site)  # a QoS 1 duplicate, or a replay
    hub.publish_station(STATION, [hub.add_station(STATION, "order_assigned", ORDER)])
    wait_until(lambda: sync.state().counters.get("duplicates") == 3, what="duplicates")
    wait_until(lambda: sync.state().station_seq == 1, what="order")
    state = sync.state()
    assert (state.site_seq, state.changes_applied) == (3, 4)
    path = station_db
    assert rows(path, "SELECT name, weight_g FROM skus WHERE sku='LAMP-01'") == [("Desk lamp", 900)]
    assert rows(path, "SELECT on_hand, available FROM stock") == [(9, 7)]
    assert rows(path, "SELECT status FROM orders WHERE order_id='SO-9001'") == [("assigned",)]
    assert rows(path, "SELECT sku, qty FROM order_lines WHERE order_id='SO-9001'") == [
        ("LAMP-01", 1)
    ]
    assert rows(path, "SELECT count(*) FROM quarantine") == [(0,)]


def test_gap_asks_for_catch_up_and_applies_nothing_past_it(broker, station_db, start_sync):
    hub = FakeHub(broker.port, answer_requests=False).start()
    try:
        sync = start_sync()
        request = hub.wait(lambda: hub.requests and hub.requests[0], what="snapshot request")
        assert isinstance(request, m.SnapshotRequest)  # both marks 0: a new station
        hub.reply(request)
        wait_until(lambda: snapshot_done(sync), what="snapshot")
        changes = [hub.add_site("stock_level", stock(f"SKU-{n}", n)) for n in range(1, 5)]
        hub.publish_site(changes[:1])
        hub.publish_site(changes[2:])  # seq 2 lost on the way
        gap = hub.wait(
            lambda: next((r for r in hub.requests if isinstance(r, m.CatchUpRequest)), None),
            what="catch-up request",
        )
        assert (gap.stream, gap.from_seq) == ("site", 2)
        assert sync.state().site_seq == 1
        assert rows(station_db, "SELECT sku FROM stock ORDER BY sku") == [("SKU-1",)]
        hub.reply(gap)
        wait_until(lambda: sync.state().site_seq == 4, what="caught up")
        assert [r[0] for r in rows(station_db, "SELECT available FROM stock ORDER BY sku")] == [
            1,
            2,
            3,
            4,
        ]
    finally:
        hub.stop()


def test_snapshot_bootstraps_an_empty_station(broker, config, start_sync):
    open_db(config.database).close()  # brand new: schema only
    hub = FakeHub(broker.port, snapshot_parts=3).start()
    try:
        hub.add_site("sku_upserted", SKU)
        hub.add_site(
            "barcode_upserted", {"code": "00614141000012", "sku": "LAMP-01", "kind": "gtin"}
        )
        hub.add_site(
            "carton_upserted",
            {
                "code": "BOX-M",
                "name": "Medium box",
                "length_mm": 350,
                "width_mm": 250,
                "height_mm": 150,
                "tare_g": 250.0,
                "max_weight_g": 15000.0,
            },
        )
        hub.add_site("operator_upserted", {"badge": "B1001", "name": "Sam", "role": "packer"})
        hub.add_site("stock_level", stock("LAMP-01", 5))
        hub.add_station(STATION, "order_assigned", ORDER)
        sync = start_sync()
        wait_until(lambda: snapshot_done(sync), what="snapshot applied")
        assert isinstance(hub.requests[0], m.SnapshotRequest)
        state = sync.state()
        assert (state.site_seq, state.station_seq, state.changes_applied) == (5, 1, 6)
        path = config.database
        for table in ("skus", "barcodes", "cartons", "operators", "stock", "orders", "order_lines"):
            assert rows(path, f"SELECT count(*) FROM {table}") == [(1,)], table
        # ... and continues live from there.
        hub.publish_site([hub.add_site("stock_level", stock("LAMP-01", 4))])
        wait_until(lambda: sync.state().site_seq == 6, what="live change")
        assert rows(path, "SELECT available FROM stock") == [(4,)]
    finally:
        hub.stop()


def test_an_order_waits_for_its_skus_then_arrives(hub, station_db, start_sync):
    sync = start_sync()
    wait_until(lambda: snapshot_done(sync), what="empty snapshot")
    sku = hub.add_site("sku_upserted", SKU)  # the site stream's batch is lost...
    hub.publish_station(STATION, [hub.add_station(STATION, "order_assigned", ORDER)])
    # ... so the order waits (not applied, not skipped), the station asks for the
    # catalogue, and takes the order again once the SKU is there.
    wait_until(lambda: sync.state().station_seq == 1, what="order applied")
    assert sync.state().waiting_for_catalogue is None
    assert any(
        isinstance(r, m.CatchUpRequest) and r.stream == "site" and r.from_seq == 1
        for r in hub.requests
    )
    assert sku.seq == sync.state().site_seq == 1
    assert rows(station_db, "SELECT count(*) FROM order_lines WHERE order_id='SO-9001'") == [(1,)]


def test_malformed_hub_messages_are_quarantined_and_the_station_carries_on(
    hub, station_db, start_sync
):
    sync = start_sync()
    wait_until(lambda: snapshot_done(sync), what="empty snapshot")
    site, ack = topics.site_stream("WH1"), topics.hub_acks("WH1", STATION)
    to_me = topics.station_stream("WH1", STATION)
    hub.send_raw(site, b"\x00\xffnot msgpack")
    hub.send_raw(site, m.encode(m.StreamBatch(stream="site", changes=[], v=2)))
    hub.send_raw(ack, m.encode(m.EventAck(station="WH1-PACK-99", applied_seq=10)))
    hub.send_raw(site, m.encode(m.StreamBatch(stream="station", station=STATION, changes=[])))
    foreign = m.Snapshot(
        station="WH1-PACK-99", snapshot_id="x", part=1, parts=1, site_seq=9, station_seq=9,
        changes=[],
    )  # fmt: skip
    hub.send_raw(to_me, m.encode(foreign))
    hub.send_raw(ack, m.encode(m.HubStatus(online=True, bd_seq=1)))
    hub.publish_site(
        [
            hub.add_site("coupon_issued", {"code": "X"}),  # a type this station does not know
            hub.add_site("sku_upserted", {"sku": "BAD"}),  # no name, no weight
            hub.add_site("stock_level", stock("MUG-WHT", 3)),
        ]
    )
    wait_until(lambda: sync.state().site_seq == 3, what="the good change")
    reasons = wait_until(
        lambda: (
            (r := rows(station_db, "SELECT reason FROM quarantine ORDER BY id"))
            and len(r) == 8
            and r
        ),
        what="8 quarantined",
    )
    text = " | ".join(r[0] for r in reasons)
    for expected in (
        "undecodable",
        "protocol version 2",
        "EventAck for another station",
        "'station' stream batch on the site stream topic",
        "Snapshot for another station",
        "HubStatus does not belong",
        "unknown change type 'coupon_issued'",
        "missing field 'name'",
    ):
        assert expected in text
    counters = sync.state().counters
    assert counters["quarantined"] == 6 and counters["changes_quarantined"] == 2
    write_events(station_db, 1)  # and the station still works
    hub.wait(lambda: hub.applied_seqs(STATION) == [1], what="event after the garbage")


# -- applying changes (no broker) ---------------------------------------------------------
@pytest.fixture
def conn(station_db):
    c = sqlite3.connect(station_db, isolation_level=None)
    c.execute("PRAGMA foreign_keys=ON")
    yield c
    c.close()


def apply(conn, stream: str, *changes: tuple[str, dict]) -> object:
    mark = read_marks(conn)[stream]
    batch = [m.Change(mark + n, t, d) for n, (t, d) in enumerate(changes, 1)]
    return apply_batch(conn, stream, batch, topic="test", now="2026-11-25T10:00:00Z")


def test_order_assigned_replaces_only_an_order_not_yet_opened(conn, station_db, config):
    db = open_db(station_db)
    PackingService(db, config).open_order("SO-0001", PACKER)  # being packed here
    db.close()
    lines = [{"line_no": 1, "sku": "MUG-WHT", "qty": 5}]
    for order_id in ("SO-0001", "SO-0002"):
        apply(conn, "station", ("order_assigned", {**ORDER, "order_id": order_id, "lines": lines}))
    got = dict(conn.execute("SELECT order_id, sum(qty) FROM order_lines GROUP BY order_id"))
    assert got["SO-0001"] == 1  # the packer's order is left alone
    assert got["SO-0002"] == 5  # not opened yet: replaced
    assert conn.execute("SELECT ship_by FROM orders WHERE order_id='SO-0002'").fetchone() == (
        ORDER["ship_by"],
    )


def test_order_cancelled_cancels_unless_packed(conn, station_db, config):
    db = open_db(station_db)
    PackingService(db, config).open_order("SO-0001", PACKER)
    db.execute("UPDATE orders SET status='packed' WHERE order_id='SO-0003'")
    db.conn.commit()
    db.close()
    result = apply(
        conn,
        "station",
        *[
            ("order_cancelled", {"order_id": o, "reason": "fraud"})
            for o in ("SO-0001", "SO-0002", "SO-0003", "SO-NOPE")
        ],
    )
    assert (result.applied, result.mark) == (4, 4)
    status = dict(conn.execute("SELECT order_id, status FROM orders"))
    assert status == {"SO-0001": "cancelled", "SO-0002": "cancelled", "SO-0003": "packed"}


def test_a_bad_order_leaves_nothing_behind(conn):
    bad = {
        **ORDER,
        "lines": [
            {"line_no": 1, "sku": "MUG-WHT", "qty": 1},
            {"line_no": 1, "sku": "MUG-WHT", "qty": 2},
        ],
    }
    result = apply(conn, "station", ("order_assigned", bad))
    assert (result.skipped, result.mark) == (1, 1)  # quarantined, and the stream moves on
    assert conn.execute("SELECT count(*) FROM orders WHERE order_id='SO-9001'").fetchone() == (0,)


# -- configuration ------------------------------------------------------------------------
def test_world_readable_password_file_is_refused(tmp_path):
    secret = tmp_path / "station.password"
    secret.write_text("s3cret\n")
    toml = tmp_path / "station.toml"
    toml.write_text(f'[sync]\nenabled = true\npassword_file = "{secret}"\n')
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="refuses to start with a plaintext password"):
        load_config(toml)
    secret.chmod(0o600)
    settings = broker_settings(load_config(toml))
    assert (settings.username, settings.password) == (STATION, "s3cret")
