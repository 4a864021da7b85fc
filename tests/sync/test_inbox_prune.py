"""The hub's inbox pruned (``routing.apply.prune_inbox``, ``HubSync._maybe_prune_inbox``):
it stays bounded, and exactly-once and renumbering hold below the pruned horizon.

First the rules on a hub database alone, then over a real broker: a fake station replays
pruned batches, a real station is wiped after the hub pruned its first events, and a real
station runs long enough for the inbox to be pruned many times."""

from __future__ import annotations

import json
import sqlite3

import pytest

from routing import apply, store
from station.store.db import open_db, tx
from station.store.outbox import record_event
from sync import messages as m
from sync.hub import IN_FLIGHT_MAX, HubSync
from tests.sync.e2e_helpers import SITE as E2E_SITE
from tests.sync.e2e_helpers import (
    STATION,
    expected_effects,
    hub_applied_seq,
    hub_settings,
    new_station_db,
    pack_all,
    rows,
    scalar,
    seed_hub,
    start_station_sync,
    station_config,
    station_last_seq,
    station_orders,
    wait_until,
    write_filler,
)
from tests.sync.fake_station import FakeStation, StationLog
from tests.sync.test_hub import SITE, WAIT, query, seed

KEEP = IN_FLIGHT_MAX  # the smallest count the hub accepts: the most pruning
LONG_AGO = "2020-01-01T00:00:00.000Z"
NOW = "2100-01-01T00:00:00"  # a cut-off every row is older than


def receive(db, events, station: str = "P1", site: str = SITE) -> apply.Receipt:
    return apply.receive_events(db, site, station, events)


def inbox_seqs(db, station: str = "P1") -> list[int]:
    return [r[0] for r in db.execute("SELECT seq FROM inbox WHERE station = ? ORDER BY seq",
                                     [station])]  # fmt: skip


def in_batches(events: list[m.Event], size: int = 500) -> list[list[m.Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "hub.db"
    seed(path)
    db = store.open_db(path)
    yield db
    db.close()


# -- the rules, on the database -----------------------------------------------------------
def test_prune_keeps_the_last_events_refusals_inspections_and_other_sites(db):
    log = StationLog("P1")
    log.noise(9)
    log.add("inbound_inspected", ref="PO-7", sku="SKU-000", qty_damaged=2, reason="crushed")
    log.short("SO-404", 1, "SKU-000", 1)  # an unknown order: refused, error kept
    log.noise(3000 - len(log.events))
    for batch in in_batches(log.events):
        receive(db, batch)
    other = StationLog("Q1")
    other.noise(2500)
    for batch in in_batches(other.events):
        receive(db, batch, "Q1", "WH2")
    db.execute("UPDATE inbox SET applied_at = ?", [LONG_AGO])

    assert apply.prune_inbox(db, SITE, KEEP, NOW, limit=300) == 300  # a pass, then more
    assert apply.prune_inbox(db, SITE, KEEP, NOW) == 1000 - 300 - 2
    assert inbox_seqs(db) == [10, 11, *range(1001, 3001)]
    assert query_error(db) == [(11, "unknown order 'SO-404'")]
    assert len(inbox_seqs(db, "Q1")) == 2500  # another site's hub prunes it
    assert apply.prune_inbox(db, SITE, KEEP, NOW) == 0
    assert apply.applied_seq(db, "P1") == 3000  # the mark is never pruned


def query_error(db) -> list[tuple]:
    return db.execute("SELECT seq, error FROM inbox WHERE error IS NOT NULL").fetchall()


def test_prune_keeps_every_row_from_the_first_young_one_on(db):
    log = StationLog("P1")
    log.noise(4000)
    for batch in in_batches(log.events):
        receive(db, batch)
    db.execute("UPDATE inbox SET applied_at = ? WHERE seq < 700", [LONG_AGO])
    db.execute("UPDATE inbox SET applied_at = ? WHERE seq = 900", [LONG_AGO])  # a clock step
    assert apply.prune_inbox(db, SITE, KEEP, "2024-01-01T00:00:00") == 699
    assert inbox_seqs(db)[0] == 700


def test_below_the_pruned_horizon_a_replay_changes_nothing_and_a_renumbering_is_seen(db):
    log = StationLog("P1")
    log.pack("SO-1", {1: 2})
    log.noise(3000 - len(log.events))
    for batch in in_batches(log.events):
        receive(db, batch)
    db.execute("UPDATE inbox SET applied_at = ?", [LONG_AGO])
    apply.prune_inbox(db, SITE, KEEP, NOW)
    before = state(db)

    # Replays: all pruned (nothing vouches: renumber asked, nothing applied), and across
    # the horizon (the kept ids vouch for the pruned ones: duplicates).
    assert receive(db, log.events[:500]) == apply.Receipt(3000, None, conflict=1)
    straddling = receive(db, log.events[800:1300])
    assert (straddling.conflict, straddling.duplicates, straddling.applied) == (None, 500, 0)
    # A wiped station: seqs from 1 again, new ids, all pruned here.
    wiped = StationLog("P1")
    wiped.pack("SO-1", {1: 2})
    assert receive(db, wiped.events).conflict == 1
    # ... and a batch whose kept part is another event is one too.
    wiped.noise(1100)
    assert receive(db, wiped.events[900:1100]).conflict == 901
    assert state(db) == before


def state(db) -> dict[str, list[tuple]]:
    return {
        t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
        for t in ("inbox", "ledger", "shipments", "orders", "order_lines", "sync_marks")
    }


def test_the_hub_refuses_to_keep_fewer_ids_than_a_station_has_in_flight(tmp_path):
    with pytest.raises(ValueError, match="beyond its last ack"):
        HubSync(tmp_path / "hub.db", SITE, hub_settings(1883), keep_inbox_events=KEEP - 1)


# -- over the broker ----------------------------------------------------------------------
def pruning_hub(path, port: int, site: str = SITE) -> HubSync:
    """A hub that prunes the inbox after every message, down to ``KEEP`` per station,
    whatever the rows' age (streams are kept: stations catch up as usual)."""
    return HubSync(
        path, site, hub_settings(port), poll_interval=0.05, synchronous="NORMAL",
        keep_inbox_days=0, keep_inbox_events=KEEP, prune_every=0,
    )  # fmt: skip


def test_replays_of_pruned_batches_are_applied_zero_times(tmp_path, broker):
    path = tmp_path / "hub.db"
    seed(path)
    log = StationLog("P1")
    log.pack("SO-1", {1: 2})
    log.short("SO-1", 1, "SKU-000", 1)  # not idempotent by itself: each one counts
    log.noise(4000)
    n = len(log.events)
    settings = hub_settings(broker.port)
    with pruning_hub(path, broker.port) as hub:
        station = FakeStation(settings, SITE, "P1").start(WAIT)
        try:
            for batch in in_batches(log.events):
                station.send(batch)
            assert station.wait_ack(len(in_batches(log.events)), WAIT).applied_seq == n
            wait_until(lambda: hub.counters.inbox_pruned == n - KEEP, what="the inbox pruned")
            assert query(path, "SELECT min(seq), count(*) FROM inbox") == [(n - KEEP + 1, KEEP)]
            before = (effects(path), hub.counters.applied)
            sent = len(station.acks())
            for batch in in_batches(log.events):  # every batch again, pruned or not
                station.send(batch)
            acks = [
                station.wait_ack(sent + i, WAIT) for i in range(1, len(in_batches(log.events)) + 1)
            ]
            wait_until(lambda: hub.counters.batches + hub.counters.conflicts >= 2 * len(acks))
        finally:
            station.stop()
        assert (effects(path), hub.counters.applied) == before
    assert {a.applied_seq for a in acks} == {n}
    pruned_batches = (n - KEEP) // 500  # wholly below the horizon: nothing to compare
    assert [a.renumber_after for a in acks] == [n] * pruned_batches + [None] * (
        len(acks) - pruned_batches
    )
    assert query(path, "SELECT qty_short FROM order_lines WHERE order_id = 'SO-1'") == [(1,)]
    assert query(path, "SELECT sum(qty) FROM ledger WHERE kind = 'ship'") == [(-1,)]


def effects(path) -> list[list[tuple]]:
    return [
        query(path, f"SELECT * FROM {t} ORDER BY 1, 2")
        for t in ("ledger", "shipments", "orders", "order_lines", "sync_marks")
    ]


def test_a_station_wiped_after_its_first_events_were_pruned_loses_nothing(tmp_path, broker):
    hub_path, station_path = tmp_path / "hub.db", tmp_path / "station.db"
    seed_hub(hub_path, {STATION: station_orders(4)})
    new_station_db(station_path)
    config = station_config(station_path, broker.port)
    first_life = 3000
    with pruning_hub(hub_path, broker.port, E2E_SITE) as hub:
        sync = start_station_sync(config, broker.port)
        try:
            wait_until(lambda: scalar(station_path, "SELECT count(*) FROM orders") == 4)
            station = open_db(station_path, synchronous="NORMAL")
            write_filler(station, STATION, first_life)
            station.close()
            wait_until(lambda: sync.state().acked_seq == first_life, what="all acked")
        finally:
            sync.stop()
        wait_until(lambda: scalar(hub_path, "SELECT min(seq) FROM inbox") > 1, what="pruned")
        assert scalar(hub_path, "SELECT count(*) FROM inbox") == KEEP
        # The disk is replaced: the station numbers from 1 again, under seqs the hub
        # pruned, so no id is there to tell its new events from a replay.
        for suffix in ("", "-wal", "-shm"):
            station_path.with_name(station_path.name + suffix).unlink(missing_ok=True)
        new_station_db(station_path)
        sync = start_station_sync(config, broker.port)
        try:
            wait_until(lambda: scalar(station_path, "SELECT count(*) FROM orders") == 4)
            station = open_db(station_path, synchronous="NORMAL")
            pack_all(station, config, seed=1)
            station.close()
            wait_until(
                lambda: (
                    sync.state().acked_seq >= station_last_seq(station_path)
                    and sync.state().outbox_depth == 0
                ),
                what="everything acknowledged",
            )
            assert sync.state().counters.get("renumbered", 0) >= 1
        finally:
            sync.stop()
        assert hub.counters.conflicts >= 1
    outbox = rows(station_path, "SELECT seq, event_id FROM outbox ORDER BY seq")
    at_hub = dict(rows(hub_path, "SELECT event_id, count(*) FROM inbox GROUP BY event_id"))
    assert [eid for _, eid in outbox if at_hub.get(eid) != 1] == [], "lost or applied twice"
    assert outbox[0][0] == first_life + 1  # renumbered after the hub's mark
    assert hub_applied_seq(hub_path) == outbox[-1][0]
    packed = "SELECT order_id FROM orders WHERE status = 'packed' ORDER BY 1"
    assert rows(hub_path, packed) == rows(station_path, packed)
    assert_effects_once(hub_path, station_path)


def assert_effects_once(hub_path, station_path) -> None:
    """The hub's ship and short movements are those of the station's events, once each."""
    events = [
        (seq, eid, type_, json.loads(data))
        for seq, eid, type_, data in rows(
            station_path, "SELECT seq, event_id, type, payload FROM outbox ORDER BY seq"
        )
    ]
    ship, short, _ = expected_effects(events)
    ledger = rows(hub_path, "SELECT kind, sku, -sum(qty) FROM ledger "
                  "WHERE kind IN ('ship', 'short') GROUP BY 1, 2")  # fmt: skip
    assert {s: q for k, s, q in ledger if k == "ship" and q} == ship
    assert {s: q for k, s, q in ledger if k == "short" and q} == short


def test_the_inbox_stays_bounded_over_a_long_run(tmp_path, broker):
    hub_path, station_path = tmp_path / "hub.db", tmp_path / "station.db"
    seed_hub(hub_path, {STATION: station_orders(1)})
    new_station_db(station_path)
    config = station_config(station_path, broker.port)
    rounds, per_round = 8, 1500
    kept_for_good: set[int] = set()
    sizes = []
    with pruning_hub(hub_path, broker.port, E2E_SITE) as hub:
        sync = start_station_sync(config, broker.port)
        try:
            wait_until(lambda: scalar(station_path, "SELECT count(*) FROM orders") == 1)
            station = open_db(station_path, synchronous="NORMAL")
            for r in range(rounds):
                write_filler(station, STATION, per_round, start=r * per_round)
                with tx(station):  # one refused event and one inspection note per round
                    kept_for_good.add(record_event(station, STATION, "line_short", {
                        "order_id": f"GONE-{r}", "line_no": 1, "sku": "MUG-WHT", "qty": 1,
                        "reason": "missing", "operator": "B1001",
                    }))  # fmt: skip
                    kept_for_good.add(record_event(station, STATION, "inbound_inspected", {
                        "ref": f"PO-{r}", "sku": "MUG-WHT", "qty_damaged": 1,
                        "reason": "crushed", "photos": [], "operator": "B1001",
                    }))  # fmt: skip
                sync.wake()
                last = station_last_seq(station_path)
                wait_until(lambda n=last: hub_applied_seq(hub_path) == n, what=f"round {r} applied")
                hub.wake()  # one more pass after the last batch
                low = {s for s in kept_for_good if s <= last - KEEP}
                expected = min(last, KEEP) + len(low)
                wait_until(
                    lambda n=expected: scalar(hub_path, "SELECT count(*) FROM inbox") == n,
                    what=f"{expected} inbox rows after round {r}",
                )
                sizes.append(scalar(hub_path, "SELECT count(*) FROM inbox"))
            station.close()
        finally:
            sync.stop()
    total = rounds * (per_round + 2)
    assert hub_applied_seq(hub_path) == total and hub.counters.applied == total
    assert max(sizes) <= KEEP + 2 * rounds, sizes
    assert hub.counters.inbox_pruned == total - sizes[-1]
    # What is kept is the station's own, and the refusals and notes are all there.
    kept = dict(rows(hub_path, "SELECT seq, event_id FROM inbox"))
    ids = dict(rows(station_path, "SELECT seq, event_id FROM outbox"))
    assert all(ids[s] == eid for s, eid in kept.items())
    assert kept_for_good <= set(kept)
    assert set(kept) - kept_for_good == set(range(total - KEEP + 1, total + 1)) - kept_for_good
    with sqlite3.connect(hub_path) as conn:
        refused = conn.execute("SELECT count(*) FROM inbox WHERE error IS NOT NULL").fetchone()
    assert refused == (rounds,)
