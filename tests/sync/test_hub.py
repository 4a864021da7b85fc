"""The hub over a real broker: a fake station sends batches, asks for catch-up and
snapshots, misbehaves, and comes and goes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from routing import feed, store
from sync import messages as m
from sync import topics
from sync.hub import HubSync
from sync.mqtt import BrokerSettings
from tests.sync.e2e_helpers import wait_until
from tests.sync.fake_station import FakeStation, StationLog

SITE = "WH1"
WAIT = 15.0  # generous: a loaded 2-core machine


def seed(path, skus: int = 3) -> None:
    """A catalogue with stock, SO-1 for P1 and SO-2 for P2, every change marked published
    (so a test sees only what it causes)."""
    db = store.open_db(path, synchronous="OFF")
    with store.transaction(db):
        for i in range(skus):
            sku = f"SKU-{i:03d}"
            feed.upsert_sku(db, SITE, {"sku": sku, "name": sku, "weight_g": 100,
                                       "length_mm": 1, "width_mm": 1, "height_mm": 1})  # fmt: skip
            feed.record_movement(db, SITE, sku, 50, "receipt", f"po:{sku}")
        for order_id, station in (("SO-1", "P1"), ("SO-2", "P2")):
            feed.assign_order(db, SITE, station, {
                "order_id": order_id, "order_ref": order_id, "ship_by": "2025-01-02T00:00:00Z",
                "ship_to": {"name": "Ana"}, "carrier": "UPS", "service": "Ground",
                "lines": [{"line_no": 1, "sku": "SKU-000", "qty": 2}],
            })  # fmt: skip
        db.execute("UPDATE stream_heads SET published_seq = seq")
    db.close()


@pytest.fixture
def settings(broker):
    return BrokerSettings(port=broker.port, backoff_min=0.05, backoff_max=0.5)


@pytest.fixture
def hub_path(tmp_path):
    path = tmp_path / "hub.db"
    seed(path)
    return path


@pytest.fixture
def hub(hub_path, settings):
    hub = HubSync(hub_path, SITE, settings, poll_interval=0.05).start()
    yield hub
    hub.stop()


@pytest.fixture
def station(hub, settings):
    station = FakeStation(settings, SITE, "P1").start(WAIT)
    yield station
    station.stop()


def query(path, sql, params=()):
    db = store.open_db(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def noise(n: int) -> StationLog:
    log = StationLog("P1")
    log.noise(n)
    return log


# -- events -----------------------------------------------------------------------------
def test_a_batch_is_applied_and_acknowledged(hub_path, station):
    station.send(noise(5).events)
    ack = station.wait_ack(1, WAIT)
    assert (ack.station, ack.applied_seq, ack.resend_from) == ("P1", 5, None)
    assert query(hub_path, "SELECT count(*) FROM inbox") == [(5,)]


def test_duplicate_batches_and_replays_are_applied_once(hub_path, hub, station):
    log = StationLog("P1")
    log.pack("SO-1", {1: 2})
    n = len(log.events)
    for batch in (log.events, log.events, log.events[:3], log.events):
        station.send(batch)
    acks = [station.wait_ack(i, WAIT) for i in range(1, 5)]
    assert [a.applied_seq for a in acks] == [n, n, n, n]
    assert (hub.counters.applied, hub.counters.duplicates) == (n, 2 * n + 3)
    assert query(hub_path, "SELECT sum(qty) FROM ledger WHERE kind = 'ship'") == [(-2,)]
    assert query(hub_path, "SELECT status FROM orders WHERE order_id = 'SO-1'") == [("packed",)]


def test_a_gap_asks_for_a_resend_and_applies_nothing_past_it(hub_path, hub, station):
    log = noise(9)
    station.send(log.events[0:3])
    station.send(log.events[6:9])
    first, second = station.wait_ack(1, WAIT), station.wait_ack(2, WAIT)
    assert (first.applied_seq, first.resend_from) == (3, None)
    assert (second.applied_seq, second.resend_from) == (3, 4)
    assert query(hub_path, "SELECT max(seq) FROM inbox") == [(3,)]
    assert hub.counters.gaps == 1


def test_the_resend_fills_the_gap(hub_path, station):
    log = noise(9)
    station.send(log.events[0:3])
    station.send(log.events[6:9])
    station.send(log.events[3:9])
    ack = station.wait_ack(3, WAIT)
    assert (ack.applied_seq, ack.resend_from) == (9, None)
    assert query(hub_path, "SELECT count(*), max(seq) FROM inbox") == [(9, 9)]


def test_acks_carry_the_high_water_mark(station):
    log = noise(8)
    for batch in (log.events[0:4], log.events[4:8], log.events[2:6], log.events[7:8]):
        station.send(batch)
    assert [station.wait_ack(i, WAIT).applied_seq for i in range(1, 5)] == [4, 8, 8, 8]


def test_a_restarted_hub_goes_on_from_its_marks(hub_path, hub, station, settings):
    log = noise(8)
    station.send(log.events[0:5])
    station.wait_ack(1, WAIT)
    hub.stop()
    with HubSync(hub_path, SITE, settings, poll_interval=0.05) as again:
        station.send(log.events[3:8])
        # A broker may also hand the new hub its session's earlier batch (more acks, more
        # duplicates): what matters is that 6-8 are applied once.
        assert station.wait_for(lambda: station.acks()[-1].applied_seq == 8, WAIT)
        assert again.counters.applied == 3 and again.counters.duplicates >= 2


# -- streams ----------------------------------------------------------------------------
def test_catch_up_sends_the_changes_from_the_asked_seq_in_batches_of_500(hub_path, station):
    db = store.open_db(hub_path)
    for i in range(1200):
        feed.append_change(db, store.site_key(SITE), "test_change", {"i": i})
    db.execute("UPDATE stream_heads SET published_seq = seq")
    head = store.stream_head(db, store.site_key(SITE))
    db.close()
    station.request(m.CatchUpRequest(station="P1", stream="site", from_seq=7))
    assert station.wait_for(
        lambda: station.changes("site", "to")[-1:] == [(head, "test_change")], WAIT
    )
    assert [seq for seq, _ in station.changes("site", "to")] == list(range(7, head + 1))
    sizes = [len(b.changes) for b in station.of(m.StreamBatch, "to")]
    assert max(sizes) == 500 and sum(sizes) == head - 6


def test_catch_up_of_the_station_stream_sends_only_its_orders(station):
    station.request(m.CatchUpRequest(station="P1", stream="station", from_seq=1))
    assert station.wait_for(lambda: station.changes("station", "to"), WAIT)
    [batch] = station.of(m.StreamBatch, "to")
    assert (batch.station, [(c.seq, c.data["order_id"]) for c in batch.changes]) == (
        "P1", [(1, "SO-1")],
    )  # fmt: skip


def test_catch_up_from_a_pruned_seq_gets_a_snapshot(hub_path, station):
    db = store.open_db(hub_path)
    store.prune_stream(db, store.site_key(SITE), 5)
    db.close()
    station.request(m.CatchUpRequest(station="P1", stream="site", from_seq=2))
    assert station.wait_for(lambda: station.of(m.Snapshot), WAIT)
    assert station.changes("site", "to") == []


def test_old_published_changes_are_pruned_and_unpublished_ones_kept(hub_path):
    db = store.open_db(hub_path)
    db.execute("UPDATE streams SET at = '2020-01-01T00:00:00.000Z'")
    site_rows = query(hub_path, "SELECT count(*) FROM streams WHERE stream_key = 'site:WH1'")[0][0]
    # One change of P2's stream not yet published: it must survive, however old.
    db.execute(
        "UPDATE stream_heads SET published_seq = published_seq - 1 WHERE stream_key = 'station:P2'"
    )
    db.execute("INSERT INTO streams VALUES ('site:OTHER', 1, 't', '{}', '2020-01-01')")
    heads = query(hub_path, "SELECT stream_key, seq FROM stream_heads ORDER BY 1")
    assert store.prune_published(db, SITE, "2021-01-01T00:00:00") == site_rows + 1  # + P1's
    left = query(hub_path, "SELECT stream_key, seq FROM streams ORDER BY 1, 2")
    assert left == [("site:OTHER", 1), ("station:P2", 1)]
    assert query(hub_path, "SELECT stream_key, seq FROM stream_heads ORDER BY 1") == heads
    assert store.prune_published(db, SITE, "2021-01-01T00:00:00") == 0
    db.close()


def test_the_hub_prunes_by_age_and_a_station_behind_gets_a_snapshot(hub_path, settings):
    db = store.open_db(hub_path)
    db.execute("UPDATE streams SET at = '2020-01-01T00:00:00.000Z'")
    db.close()
    with HubSync(hub_path, SITE, settings, poll_interval=0.05, keep_stream_days=30) as hub:
        wait_until(lambda: hub.counters.pruned > 0, WAIT, "the hub pruning old changes")
        assert query(hub_path, "SELECT count(*) FROM streams")[0][0] == 0
        station = FakeStation(settings, SITE, "P1").start(WAIT)
        try:
            station.request(m.CatchUpRequest(station="P1", stream="site", from_seq=1))
            assert station.wait_for(lambda: station.of(m.Snapshot), WAIT)
        finally:
            station.stop()


def test_a_new_station_gets_a_snapshot_in_parts(tmp_path, settings):
    path = tmp_path / "big.db"
    seed(path, skus=300)  # 300 SKUs + 300 stock levels + 1 order: two parts
    with HubSync(path, SITE, settings) as hub:
        station = FakeStation(settings, SITE, "P1").start(WAIT)
        try:
            station.request(m.SnapshotRequest(station="P1"))
            assert station.wait_for(lambda: len(station.of(m.Snapshot)) == 2, WAIT)
        finally:
            station.stop()
        # Counted after the last part is handed to paho: the station can have it first.
        wait_until(lambda: hub.counters.snapshots == 1, WAIT, "the hub counting its snapshot")
        assert hub.counters.snapshots == 1
    parts = station.of(m.Snapshot)
    assert [(p.part, p.parts) for p in parts] == [(1, 2), (2, 2)]
    assert all(len(p.changes) <= 500 for p in parts)
    changes = [c for p in parts for c in p.changes]
    assert [c.seq for c in changes] == list(range(1, len(changes) + 1))
    kinds = [c.type for c in changes]
    assert (kinds.count("sku_upserted"), kinds.count("stock_level")) == (300, 300)
    assert [c.data["order_id"] for c in changes if c.type == "order_assigned"] == ["SO-1"]
    heads = dict(query(path, "SELECT stream_key, seq FROM stream_heads"))
    assert (parts[0].site_seq, parts[0].station_seq) == (heads["site:WH1"], heads["station:P1"])


def test_changes_written_by_another_process_are_published(hub_path, station):
    db = store.open_db(hub_path)  # as another process would: its own connection
    seq = feed.assign_order(db, SITE, "P1", {
        "order_id": "SO-9", "order_ref": "#9", "ship_by": "2025-01-02T00:00:00Z",
        "ship_to": {"name": "Ana"}, "carrier": "UPS", "service": "Ground",
        "lines": [{"line_no": 1, "sku": "SKU-001", "qty": 1}],
    })  # fmt: skip
    db.close()
    assert station.wait_for(
        lambda: (seq, "order_assigned") in station.changes("station", "to"), WAIT
    )
    assert station.wait_for(lambda: station.changes("site", "stream"), WAIT)
    [level] = [c for b in station.of(m.StreamBatch, "stream") for c in b.changes]
    assert (level.type, level.data["sku"], level.data["available"]) == (
        "stock_level",
        "SKU-001",
        49,
    )


# -- refusals ---------------------------------------------------------------------------
def test_malformed_and_misplaced_messages_are_quarantined_and_the_hub_goes_on(
    hub_path, hub, station
):
    station.publish("events", b"\xc1 not msgpack")
    station.publish("events", m.encode(m.EventBatch(v=2, station="P1", events=[])))
    station.publish("events", m.encode(m.EventBatch(station="P2", events=noise(1).events)))
    station.publish("events", m.encode(m.EventAck(station="P1", applied_seq=99)))
    station.publish("req", m.encode(m.CatchUpRequest(station="P1", stream="all", from_seq=1)))
    station.publish("status", m.encode(m.SnapshotRequest(station="P1")))
    station.send(noise(2).events)
    assert station.wait_ack(1, WAIT).applied_seq == 2
    assert hub.wait_for(lambda c: c.quarantined >= 6, WAIT)
    reasons = [r for (r,) in query(hub_path, "SELECT reason FROM quarantine ORDER BY id")]
    assert reasons[0].startswith("undecodable")
    assert "version 2" in reasons[1]
    assert "speaks for station 'P2'" in reasons[2]
    assert "EventAck does not belong on events" in reasons[3]
    assert "bad catch-up request" in reasons[4]
    assert "SnapshotRequest does not belong on status" in reasons[5]
    assert query(hub_path, "SELECT count(*) FROM inbox WHERE station = 'P2'") == [(0,)]


def test_a_station_of_another_site_is_quarantined(hub_path, settings):
    with HubSync(hub_path, "WH2", settings) as other:  # P1 is registered at WH1
        station = FakeStation(settings, "WH2", "P1").start(WAIT)
        try:
            station.send(noise(1).events)
            assert other.wait_for(lambda c: c.quarantined >= 1, WAIT)
        finally:
            station.stop()
    [(reason,)] = query(hub_path, "SELECT reason FROM quarantine")
    assert "belongs to site WH1" in reason
    assert station.acks() == []


# -- presence ---------------------------------------------------------------------------
def presence(path, station="P1"):
    return query(path, "SELECT online, bd_seq FROM presence WHERE station = ?", [station])


def test_presence_pairs_births_and_deaths_by_bd_seq(hub_path, hub, station):
    station.status(online=True, bd_seq=2)
    assert hub.wait_for(lambda c: c.statuses >= 1, WAIT)
    assert presence(hub_path) == [(1, 2)]
    station.status(online=False, bd_seq=1)  # the Will of the previous connection, late
    assert hub.wait_for(lambda c: c.stale_statuses >= 1, WAIT)
    assert presence(hub_path) == [(1, 2)]
    station.status(online=False, bd_seq=2)  # this connection's Will
    assert hub.wait_for(lambda c: c.statuses >= 3, WAIT)
    assert presence(hub_path) == [(0, 2)]


def test_a_wiped_station_whose_count_restarted_is_seen_online(hub_path, hub, station):
    station.status(online=True, bd_seq=57)
    station.status(online=False, bd_seq=57)  # its disk dies
    assert hub.wait_for(lambda c: c.statuses >= 2, WAIT)
    station.status(online=True, bd_seq=1)  # the new disk counts from 1 again
    assert hub.wait_for(lambda c: c.statuses >= 3, WAIT)
    assert presence(hub_path) == [(1, 1)]
    station.status(online=False, bd_seq=1)
    assert hub.wait_for(lambda c: c.statuses >= 4, WAIT)
    assert presence(hub_path) == [(0, 1)]


def test_a_killed_station_goes_offline_by_its_will(hub_path, hub, broker):
    code = textwrap.dedent(f"""
        import threading
        from sync import messages as m, topics
        from sync.mqtt import BrokerSettings, MqttLink
        topic = topics.station_status("{SITE}", "P9")
        def status(online):
            return m.encode(m.StationStatus(station="P9", online=online, bd_seq=5))
        link = MqttLink(BrokerSettings(port={broker.port}), "P9", on_message=lambda t, p: None,
                        will=lambda: (topic, status(False)),
                        on_connect=lambda: link.publish(topic, status(True), retain=True))
        link.start()
        threading.Event().wait()
    """)
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        assert hub.wait_for(lambda c: c.statuses >= 1, WAIT)
        assert presence(hub_path, "P9") == [(1, 5)]
    finally:
        child.kill()
        child.wait(5)
    assert hub.wait_for(lambda c: c.statuses >= 2, WAIT)
    assert presence(hub_path, "P9") == [(0, 5)]


def test_the_hub_says_offline_when_it_stops_and_counts_its_births(hub_path, settings):
    first = HubSync(hub_path, SITE, settings).start()
    station = FakeStation(settings, SITE, "P1").start(WAIT)
    try:
        born = station.of(m.HubStatus)[-1]
        first.stop()
        assert station.wait_for(lambda: not station.of(m.HubStatus)[-1].online, WAIT)
        assert station.of(m.HubStatus)[-1].bd_seq == born.bd_seq
        with HubSync(hub_path, SITE, settings):
            assert station.wait_for(lambda: station.of(m.HubStatus)[-1].online, WAIT)
            assert station.of(m.HubStatus)[-1].bd_seq > born.bd_seq
    finally:
        station.stop()
        first.stop()


def test_hub_subscriptions_cover_what_stations_send():
    assert topics.hub_subscriptions(SITE) == [
        f"doms/v1/{SITE}/st/+/events", f"doms/v1/{SITE}/st/+/status", f"doms/v1/{SITE}/st/+/req",
        f"doms/v1/{SITE}/st/+/photo",
    ]  # fmt: skip


def test_doms_hub_run_serves_until_interrupted(hub_path, broker, settings):
    import signal

    command = [sys.executable, "-m", "doms", "hub", "run", "--db", str(hub_path), "--site",
               SITE, "--broker", f"127.0.0.1:{broker.port}"]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        station = FakeStation(settings, SITE, "P1").start(WAIT)
        station.send(noise(3).events)
        assert station.wait_ack(1, WAIT).applied_seq == 3
        station.stop()
    finally:
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=WAIT)
    assert child.returncode == 0, err
    assert "applied=3" in out
