"""Photos from station to hub over a real broker (PROTOCOL.md, "Photo files"): the real
``StationSync`` and ``HubSync``, the station's photo store, chunks watched on the wire by
a plain MQTT client."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from PIL import Image

from drivers.camera import Photo
from routing import store
from station.inspection import record_photo
from station.photos import PhotoStore
from station.store.db import open_db
from station.store.outbox import record_event
from sync import messages as m
from sync import topics
from sync.hub import HubSync
from sync.photo_files import photo_path, root_beside
from sync.station import StationSync
from tests.sync.e2e_helpers import (
    SITE,
    STATION,
    hub_settings,
    new_station_db,
    rows,
    station_config,
    wait_until,
)

WAIT = 60.0


def jpeg(width: int, height: int) -> bytes:
    """A JPEG of noise: it barely compresses (about 1.2 bytes a pixel)."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=95)
    return out.getvalue()


def take_photo(db_path, data: bytes, subject: str = "receipt/RCV-1") -> str:
    db = open_db(db_path, synchronous="NORMAL")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
        photo = Photo(data, width, height, datetime.now(UTC))
        stored = record_photo(db, PhotoStore.beside(db, db_path), STATION, photo, "Q5001", subject)
        return stored.sha256
    finally:
        db.close()


def uploaded_at(db_path, sha: str) -> str | None:
    return rows(db_path, "SELECT uploaded_at FROM photos WHERE sha256 = ?", [sha])[0][0]


class Wire:
    """A plain MQTT client that records, in broker order, what the station publishes:
    ("chunk", index) for a photo chunk, ("events", [seq, ...]) for an event batch.
    ``on_chunk(index)`` runs on paho's thread as each chunk arrives."""

    def __init__(self, port: int, on_chunk=None) -> None:
        self.seen: list[tuple[str, object]] = []
        self.on_chunk = on_chunk
        self.client = c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wire")
        subscribed = threading.Event()
        c.on_subscribe = lambda *a: subscribed.set()
        c.on_connect = lambda cl, *a: cl.subscribe(f"doms/v1/{SITE}/st/{STATION}/#", qos=1)
        c.on_message = self._message
        c.connect("127.0.0.1", port)
        c.loop_start()
        assert subscribed.wait(10)

    def _message(self, client, userdata, msg) -> None:
        leaf = msg.topic.rsplit("/", 1)[-1]
        if leaf == "photo":
            chunk = m.decode(msg.payload)
            self.seen.append(("chunk", chunk.index))
            if self.on_chunk is not None:
                self.on_chunk(chunk.index)
        elif leaf == "events":
            self.seen.append(("events", [e.seq for e in m.decode(msg.payload).events]))

    def chunks(self) -> list[int]:
        return [i for kind, i in self.seen if kind == "chunk"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def hub_path(tmp_path):
    path = tmp_path / "hub" / "hub.db"
    store.open_db(path, synchronous="OFF").close()
    return path


@pytest.fixture
def hub(broker, hub_path):
    h = HubSync(hub_path, SITE, hub_settings(broker.port), poll_interval=0.05).start()
    yield h
    h.stop()


@pytest.fixture
def station_db(tmp_path):
    path = tmp_path / "station" / "station.db"
    path.parent.mkdir()
    new_station_db(path)
    return path


@pytest.fixture
def start_station(broker, station_db):
    started: list[StationSync] = []

    def start(**kwargs) -> StationSync:
        config = station_config(station_db, broker.port)
        presence = {"operator": "Q5001", "screen": "inspect", "devices": {}}
        sync = StationSync(
            config.database, config, hub_settings(broker.port), lambda: presence, **kwargs
        )
        started.append(sync.start())
        return sync

    yield start
    for sync in started:
        sync.stop()


@pytest.fixture
def wire(broker):
    made: list[Wire] = []

    def make(on_chunk=None) -> Wire:
        made.append(Wire(broker.port, on_chunk))
        return made[-1]

    yield make
    for w in made:
        w.close()


def hub_file(hub_path, sha: str) -> bytes:
    return photo_path(root_beside(hub_path), sha).read_bytes()


def test_a_photo_taken_offline_reaches_the_hub_after_reconnect(
    broker, hub, hub_path, station_db, start_station
):
    sync = start_station()
    wait_until(lambda: sync.state().online and sync.state().hub_online, WAIT, "online")
    broker.kill()
    wait_until(lambda: not sync.state().online, WAIT, "offline")
    data = jpeg(800, 600)
    sha = take_photo(station_db, data)
    assert uploaded_at(station_db, sha) is None
    broker.start()
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert hub_file(hub_path, sha) == data
    db = store.open_db(hub_path)
    try:
        row = db.execute(
            "SELECT station, subject, size, received_at FROM photos WHERE sha256 = ?", [sha]
        ).fetchone()
        # The photo_taken event got there first (events first), then the file.
        assert (
            db.execute(
                "SELECT count(*) FROM inbox WHERE type = 'photo_taken' AND station = ?", [STATION]
            ).fetchone()[0]
            == 1
        )
    finally:
        db.close()
    assert row[:3] == (STATION, "receipt/RCV-1", len(data)) and row[3]
    assert sync.state().counters["photos_uploaded"] == 1


def test_a_link_dropped_mid_photo_still_ends_with_the_right_file(
    broker, hub, hub_path, station_db, start_station, wire
):
    data = jpeg(2000, 1500)  # a few MB: dozens of chunks
    count = -(-len(data) // m.CHUNK_BYTES)
    assert count > 30
    # No ack timeout to fall back on: whatever the broker lost with its restart, the hub
    # names it (its birth after the reconnect makes the station ask).
    sync = start_station(photo_ack_timeout=600)
    wait_until(lambda: sync.state().online and sync.state().hub_online, WAIT, "online")
    stored_at_kill: list[int] = []

    def cut(index: int) -> None:
        if index == 10 and not stored_at_kill:
            stored_at_kill.append(hub.counters.photos_stored)
            broker.kill()  # mid-photo, from the wire's own thread: no chance to finish

    wire(on_chunk=cut)
    sha = take_photo(station_db, data)
    wait_until(lambda: stored_at_kill, WAIT, "the link cut mid-photo")
    assert stored_at_kill == [0]
    wait_until(lambda: not sync.state().online, WAIT, "offline")
    assert uploaded_at(station_db, sha) is None
    broker.start()
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert hub_file(hub_path, sha) == data
    sent = sync.state().counters["photo_chunks_sent"]
    # Only what the hub lacked went again (at times nothing), never the whole photo.
    assert count <= sent < 2 * count
    assert "photo_ack_timeouts" not in sync.state().counters
    assert hub.counters.photos_stored == 1 and hub.counters.photos_refused == 0


def test_a_corrupted_chunk_is_refused_and_the_photo_sent_again(
    broker, hub, hub_path, station_db, start_station, monkeypatch
):
    real_chunk = StationSync._chunk
    corrupted: list[int] = []

    def damaged_once(self, up, index, ask=False):
        chunk = real_chunk(self, up, index, ask)
        if index == 1 and not corrupted:  # flipped in transit, once
            corrupted.append(index)
            data = bytearray(chunk.data)
            data[7] ^= 0x55
            chunk = m.PhotoChunk(**{**{f: getattr(chunk, f) for f in chunk.__struct_fields__},
                                    "data": bytes(data)})  # fmt: skip
        return chunk

    monkeypatch.setattr(StationSync, "_chunk", damaged_once)
    data = jpeg(400, 300)
    sha = take_photo(station_db, data)
    sync = start_station()
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert corrupted == [1]
    assert hub_file(hub_path, sha) == data
    assert (hub.counters.photos_refused, hub.counters.photos_stored) == (1, 1)
    assert sync.state().counters["photos_refused"] == 1
    reasons = [r for (r,) in rows_hub(hub_path, "SELECT reason FROM quarantine")]
    assert len(reasons) == 1 and sha in reasons[0] and "SHA-256" in reasons[0]


def rows_hub(hub_path, sql: str) -> list[tuple]:
    db = store.open_db(hub_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_events_written_during_a_big_upload_overtake_it(
    broker, hub, hub_path, station_db, start_station, wire
):
    data = jpeg(2000, 1500)
    count = -(-len(data) // m.CHUNK_BYTES)
    sync = start_station()
    wait_until(lambda: sync.state().online and sync.state().hub_online, WAIT, "online")
    written: list[int] = []
    sent_at_commit: list[int] = []

    def scan_meanwhile(index: int) -> None:
        # A packer's event, committed while the photo is on its way (on the wire's thread,
        # so at a known point of the upload, not a moment in time).
        if index == 5 and not written:
            db = open_db(station_db, synchronous="NORMAL")
            with db.atomic():
                written.append(record_event(db, STATION, "test_event", {"during": "photo"}))
            db.close()
            sent_at_commit.append(sync.state().counters.get("photo_chunks_sent", 0))
            sync.wake()

    w = wire(on_chunk=scan_meanwhile)
    sha = take_photo(station_db, data)
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert hub_file(hub_path, sha) == data
    at_event = next(i for i, (kind, x) in enumerate(w.seen) if kind == "events"
                    and written[0] in x)  # fmt: skip
    ahead = sum(1 for kind, _ in w.seen[:at_event] if kind == "chunk")
    # The station checks the outbox before every chunk: once the event is committed, at
    # most the chunk whose check came just before goes out ahead of it (and one more that
    # was out but not yet counted when the count was read).
    assert ahead <= sent_at_commit[0] + 2, (sent_at_commit, w.seen[: at_event + 1])
    assert ahead < count // 2 and sorted(w.chunks()) == list(range(count))


def test_uploaded_only_when_the_hub_acknowledges_and_sent_again_when_refused(
    broker, station_db, start_station, mqtt_peer
):
    # The test plays the hub: says it is online, takes the chunks, answers by hand.
    hub = mqtt_peer(broker.port, client_id="hub-WH1")
    assert hub.connected()
    hub.subscribe(topics.station_photos(SITE, STATION), topics.station_events(SITE, STATION))
    hub.publish(topics.hub_status(SITE), m.encode(m.HubStatus(online=True, bd_seq=1)), retain=True)
    data = jpeg(300, 200)
    count = -(-len(data) // m.CHUNK_BYTES)
    sha = take_photo(station_db, data)
    sync = start_station(photo_ack_timeout=600)

    def got_chunks(n: int) -> list[m.PhotoChunk]:
        out: list[m.PhotoChunk] = []
        while len(out) < n:
            message = m.decode(hub.messages.get(timeout=WAIT)[1])
            if isinstance(message, m.EventBatch):  # photo_taken: acked, as a hub would
                ack = m.EventAck(station=STATION, applied_seq=message.events[-1].seq)
                hub.publish(topics.hub_acks(SITE, STATION), m.encode(ack))
            else:
                out.append(message)
        return out

    first = got_chunks(count)
    assert b"".join(c.data for c in sorted(first, key=lambda c: c.index)) == data
    wait_until(lambda: sync.state().counters.get("photo_chunks_sent") == count, WAIT)
    assert uploaded_at(station_db, sha) is None  # the broker has it all; the hub said nothing

    ack = m.PhotoAck(station=STATION, sha256=sha, stored=False, reason="test: bad hash")
    hub.publish(topics.hub_acks(SITE, STATION), m.encode(ack))
    again = got_chunks(count)
    assert [c.index for c in again] == list(range(count)) and uploaded_at(station_db, sha) is None

    other = m.PhotoAck(station="WH1-PACK-02", sha256=sha, stored=True)  # not ours: refused
    hub.publish(topics.hub_acks(SITE, STATION), m.encode(other))
    hub.publish(
        topics.hub_acks(SITE, STATION),
        m.encode(m.PhotoAck(station=STATION, sha256=sha, stored=True)),
    )
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert sync.state().counters["quarantined"] == 1


def test_a_photo_whose_file_no_longer_matches_is_marked_and_skipped(
    broker, hub, hub_path, station_db, start_station
):
    lost, kept = jpeg(200, 100), jpeg(210, 100)
    lost_sha = take_photo(station_db, lost)
    kept_sha = take_photo(station_db, kept)
    photo_path(root_beside(station_db), lost_sha).write_bytes(b"bit rot" + lost[7:])
    start_station()
    wait_until(lambda: uploaded_at(station_db, kept_sha), WAIT, "the good one uploaded")
    error = rows(station_db, "SELECT upload_error FROM photos WHERE sha256 = ?", [lost_sha])
    assert "no longer matches" in error[0][0] and uploaded_at(station_db, lost_sha) is None
    assert hashlib.sha256(hub_file(hub_path, kept_sha)).hexdigest() == kept_sha
    missing = rows_hub(hub_path, "SELECT sha256 FROM photos WHERE received_at IS NULL")
    assert missing == [(lost_sha,)]


def test_chunks_the_hub_never_got_are_sent_again_alone(
    broker, hub, hub_path, station_db, start_station, wire, monkeypatch
):
    # Chunks the broker confirmed to the station and then lost (a broker restart): here
    # the hub drops three of them, once. The station's pass ends with a chunk marked ask;
    # the hub names the three, and only they go again - no waiting for the ack timeout.
    real = HubSync._photo_chunk
    lost: set[int] = set()

    def lossy(self, db, topic, station, chunk, payload):
        if chunk.index in (3, 4, 5) and chunk.index not in lost:
            lost.add(chunk.index)
            return
        real(self, db, topic, station, chunk, payload)

    monkeypatch.setattr(HubSync, "_photo_chunk", lossy)
    data = jpeg(800, 600)
    count = -(-len(data) // m.CHUNK_BYTES)
    assert count > 8
    sync = start_station(photo_ack_timeout=600)
    wait_until(lambda: sync.state().online and sync.state().hub_online, WAIT, "online")
    w = wire()
    sha = take_photo(station_db, data)
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
    assert hub_file(hub_path, sha) == data
    assert w.chunks() == [*range(count), 3, 4, 5]
    counters = sync.state().counters
    assert counters["photo_chunks_sent"] == count + 3 and "photo_ack_timeouts" not in counters
    assert hub.counters.photo_missing_reports == 1 and hub.counters.photos_refused == 0


def test_a_hub_restarted_mid_photo_gets_only_what_it_lost(
    broker, hub, hub_path, station_db, start_station, wire
):
    data = jpeg(2000, 1500)
    count = -(-len(data) // m.CHUNK_BYTES)
    sync = start_station(photo_ack_timeout=600)
    wait_until(lambda: sync.state().online and sync.state().hub_online, WAIT, "online")
    stopped = threading.Event()

    def restart(index: int) -> None:
        if index == 10 and not stopped.is_set():
            stopped.set()
            threading.Thread(target=hub.stop).start()  # its partial file dies with it

    wire(on_chunk=restart)
    sha = take_photo(station_db, data)
    wait_until(stopped.is_set, WAIT, "the hub stopped mid-photo")
    wait_until(lambda: hub.link.connected.is_set() is False, WAIT, "hub gone")
    wait_until(lambda: sync.state().hub_online is False, WAIT, "station saw the hub go")
    second = HubSync(hub_path, SITE, hub_settings(broker.port), poll_interval=0.05).start()
    try:
        wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")
        assert hub_file(hub_path, sha) == data
        sent = sync.state().counters["photo_chunks_sent"]
        # What the first hub took is sent again, not the whole photo from chunk 0.
        assert count < sent < 2 * count
        assert second.counters.photo_missing_reports >= 1
        assert "photo_ack_timeouts" not in sync.state().counters
    finally:
        second.stop()


def test_a_hub_older_than_photos_gets_them_ever_more_rarely_until_it_is_upgraded(
    broker, station_db, start_station, mqtt_peer, wire, caplog
):
    # The test plays a hub from before photo files: online, acks events, never subscribes
    # to st/+/photo, so the broker drops every chunk and no PhotoAck ever comes.
    hub = mqtt_peer(broker.port, client_id="hub-WH1")
    assert hub.connected()
    hub.subscribe(topics.station_events(SITE, STATION))
    hub.publish(topics.hub_status(SITE), m.encode(m.HubStatus(online=True, bd_seq=1)), retain=True)
    passes: list[float] = []
    wire(on_chunk=lambda index: passes.append(time.monotonic()) if index == 0 else None)
    data = jpeg(400, 300)
    count = -(-len(data) // m.CHUNK_BYTES)
    assert count == 3
    sha = take_photo(station_db, data)
    caplog.set_level(logging.INFO, logger="sync.station_photos")
    sync = start_station(photo_ack_timeout=0.4, photo_backoff_max=1.6)
    batch = m.decode(hub.messages.get(timeout=WAIT)[1])  # photo_taken: acked
    ack = m.EventAck(station=STATION, applied_seq=batch.events[-1].seq)
    hub.publish(topics.hub_acks(SITE, STATION), m.encode(ack))
    wait_until(lambda: len(passes) >= 5, WAIT, "five passes")
    gaps = [b - a for a, b in zip(passes, passes[1:], strict=False)]
    # The wait after a pass doubles (0.4, 0.8, 1.6 s) and stops at the cap.
    assert gaps[1] >= 0.8 and gaps[2] >= 1.6 and 1.6 <= gaps[3] < 2.6, gaps
    said = [r for r in caplog.records if "does not take photos" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert uploaded_at(station_db, sha) is None and sync.state().counters["photo_ack_timeouts"] >= 4

    # Upgraded: a new birth that takes photos. The station asks at once what it lacks,
    # rather than after its back-off.
    hub.subscribe(topics.station_photos(SITE, STATION))
    born = time.monotonic()
    birth = m.HubStatus(online=True, bd_seq=2, photo_resume=True)
    hub.publish(topics.hub_status(SITE), m.encode(birth), retain=True)
    probe = m.decode(hub.messages.get(timeout=WAIT)[1])
    assert (probe.index, probe.ask) == (count - 1, True) and time.monotonic() - born < 1.2
    missing = m.PhotoAck(station=STATION, sha256=sha, stored=False, missing=[0, 1])
    hub.publish(topics.hub_acks(SITE, STATION), m.encode(missing))
    again = [m.decode(hub.messages.get(timeout=WAIT)[1]) for _ in range(2)]
    assert [(c.index, c.ask) for c in again] == [(0, False), (1, True)]
    stored = m.PhotoAck(station=STATION, sha256=sha, stored=True)
    hub.publish(topics.hub_acks(SITE, STATION), m.encode(stored))
    wait_until(lambda: uploaded_at(station_db, sha), WAIT, "marked uploaded")


def presence_status(hub_path) -> dict:
    found = rows_hub(hub_path, f"SELECT status FROM presence WHERE station = '{STATION}'")
    return json.loads(found[0][0]) if found else {}


def test_the_photos_waiting_travel_in_the_station_status_to_the_hub(
    broker, hub, hub_path, station_db, start_station, monkeypatch
):
    # A hub that drops every chunk for now: the photos wait, and the hub sees how many.
    real = HubSync._photo_chunk
    monkeypatch.setattr(HubSync, "_photo_chunk", lambda *a: None)
    first, second = take_photo(station_db, jpeg(64, 48)), take_photo(station_db, jpeg(64, 49))
    sync = start_station(photo_ack_timeout=0.5)

    # The photo_taken events go (outbox_depth 0, omitted as a default); the files wait.
    def seen() -> tuple:
        status = presence_status(hub_path)
        return status.get("photos_waiting"), status.get("outbox_depth", 0)

    wait_until(lambda: seen() == (2, 0), WAIT, "2 photos waiting, no event")
    assert sync.state().photos_waiting == 2
    monkeypatch.setattr(HubSync, "_photo_chunk", real)  # it takes them again
    wait_until(lambda: uploaded_at(station_db, first) and uploaded_at(station_db, second), WAIT)
    wait_until(lambda: "photos_waiting" not in presence_status(hub_path), WAIT, "none waiting")
    assert presence_status(hub_path)["online"] and sync.state().photos_waiting == 0
