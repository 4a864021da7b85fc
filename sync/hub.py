"""The hub side of sync for one site (sync/PROTOCOL.md): events in, streams out, presence.

Threads. ``MqttLink`` runs paho's loop on its own thread and hands every message to
:meth:`HubSync._on_message`, which only puts it on a queue. One worker thread owns the
SQLite connection (opened there, ``check_same_thread`` left on) and does everything else
in arrival order: decode, apply, acknowledge, answer requests, publish new stream rows.
One owner means no lock around the connection and no interleaved transactions; a slow
apply only delays the queue, never paho's keep-alives.

Events. One transaction per ``EventBatch`` (``routing.apply.receive_events``: inbox rows,
effects and the new mark), committed before the ack is published; a crash mid-batch rolls
the whole batch back and the station sends it again. Measured with ``synchronous=FULL``,
batches of 500: several times the throughput of one transaction per event.

Stream publishing. Rows that ``routing.feed`` writes, from this process or another one,
are found by polling ``stream_heads`` (``seq > published_seq``) after every message and at
least every ``poll_interval``; :meth:`wake` makes the worker look at once. Published
positions are kept in memory and saved at most once a second: after a crash, a few changes
are sent twice, which stations ignore (seq <= their mark).

Photos. Chunks of photo files (``PhotoChunk``) go to :mod:`sync.hub_photos` on the same
worker: a station sends them only while its outbox is empty and keeps at most 4 unconfirmed,
so an event batch waits behind a few 64 KiB file writes at most. The ``photos`` rows that
events name are written in the transaction that applies the events.

Pruning. Hourly, published stream changes older than ``keep_stream_days`` go, and inbox
rows older than ``keep_inbox_days`` that lie more than ``keep_inbox_events`` below their
station's mark (``routing.apply.prune_inbox``, at most 10,000 rows a pass).
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec
import sqlite_utils

from doms.db import now_iso
from routing import apply, feed, store
from sync import hub_photos, topics
from sync import messages as m
from sync.mqtt import BrokerSettings, MqttLink
from sync.photo_files import root_beside
from sync.quarantine import quarantine

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0
# Events a station may have sent beyond its last ack: 4 batches of 500 (PROTOCOL.md). The
# inbox keeps at least this many ids per station below its mark, or a replay could not be
# told from a wiped station (routing.apply.prune_inbox).
IN_FLIGHT_MAX = 4 * 500
INBOX_PRUNE_ROWS = 10_000  # per pass: a backlog goes over several passes, events between

MAX_CHANGES = 500  # per StreamBatch / Snapshot part (PROTOCOL.md)
_EXPECTED = {
    "events": (m.EventBatch,),
    "status": (m.StationStatus,),
    "req": (m.CatchUpRequest, m.SnapshotRequest),
    "photo": (m.PhotoChunk,),
}


@dataclass(slots=True)
class HubCounters:
    """What the hub has done since start. Written by the worker thread only, each count
    after its work is committed (and its answer sent)."""

    batches: int = 0
    applied: int = 0  # events applied (rejected ones included: they take their seq)
    duplicates: int = 0
    gaps: int = 0  # batches stopped by a gap
    rejected: int = 0  # events whose effect was refused (inbox.error)
    acks: int = 0
    quarantined: int = 0
    catch_ups: int = 0
    snapshots: int = 0
    published: int = 0  # stream changes published (live, not catch-up)
    statuses: int = 0
    stale_statuses: int = 0  # a Will or birth older than the latest birth: ignored
    errors: int = 0  # handler failures (database errors); the message is not acked
    conflicts: int = 0  # batches reusing seqs of other events: the station must renumber
    pruned: int = 0  # published stream changes deleted for age
    inbox_pruned: int = 0  # inbox rows deleted (old, far below their station's mark)
    photo_chunks: int = 0  # photo chunks taken (duplicates included)
    photos_stored: int = 0  # photos assembled, checked and kept
    photos_refused: int = 0  # photos whose assembled file did not match their hash
    photo_missing_reports: int = 0  # answers to a station's ask naming missing chunks


class HubSync:
    """The hub of ``site``: applies station events into the hub database at ``db_path``
    and publishes its streams, over the broker of ``settings``."""

    def __init__(
        self,
        db_path: str | Path,
        site: str,
        settings: BrokerSettings,
        *,
        poll_interval: float = 0.2,
        catch_up_limit: int = 10_000,
        synchronous: str = "FULL",
        keep_stream_days: float = 14.0,
        keep_inbox_days: float | None = None,
        keep_inbox_events: int = 10_000,
        prune_every: float = PRUNE_EVERY_S,
    ) -> None:
        self.db_path = db_path
        self.site = topics.check_id(site, "site")
        self.settings = settings
        self.poll_interval = poll_interval
        self.catch_up_limit = catch_up_limit  # more changes than this: a snapshot instead
        self.synchronous = synchronous
        # Published stream changes older than this are pruned (hourly): a station away
        # longer bootstraps from a snapshot, as a new one does.
        self.keep_stream_days = keep_stream_days
        # Inbox rows go once older than this and more than keep_inbox_events below their
        # station's mark; the count is what keeps replays and renumbering apart.
        self.keep_inbox_days = keep_stream_days if keep_inbox_days is None else keep_inbox_days
        if keep_inbox_events < IN_FLIGHT_MAX:
            raise ValueError(
                f"keep_inbox_events {keep_inbox_events} is below {IN_FLIGHT_MAX}, the events "
                "a station may send beyond its last ack: replays could not be recognised"
            )
        self.keep_inbox_events = keep_inbox_events
        self.prune_every = prune_every
        self._next_prune = self._next_inbox_prune = 0.0
        self.counters = HubCounters()
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._worker: threading.Thread | None = None
        self._worker_error: BaseException | None = None
        self._stopping = threading.Event()
        self._bd_seq = 0
        self._bd_lock = threading.Lock()
        self._published: dict[str, int] = {}
        self._published_dirty = False
        self._published_saved_at = 0.0
        self.photos = hub_photos.PhotoAssembler(root_beside(db_path))
        self.link = MqttLink(
            settings,
            f"hub-{site}",
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=self._will,
        )

    # -- life cycle ---------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> HubSync:
        """Open the database (migrating it), then connect. Returns self; raises
        RuntimeError when the database cannot be opened."""
        self._worker = threading.Thread(target=self._work, name=f"hub-{self.site}", daemon=True)
        self._worker.start()
        if not self._ready.wait(timeout) or self._worker_error is not None:
            raise RuntimeError(f"hub database {self.db_path} did not open: {self._worker_error}")
        self.link.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Say offline (retained), disconnect and stop the worker. Messages still queued
        are dropped unacknowledged: stations send them again to the next hub."""
        if self.link.connected.is_set():
            with self._bd_lock:
                bd_seq = self._bd_seq
            info = self.link.publish(
                topics.hub_status(self.site),
                m.encode(m.HubStatus(online=False, bd_seq=bd_seq, at=now_iso())),
                retain=True,
            )
            if info.rc == 0:
                info.wait_for_publish(min(timeout, 2.0))
        self.link.stop(timeout)
        self._stopping.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout)
        self._worker = None

    def __enter__(self) -> HubSync:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self) -> None:
        """Publish new stream rows now rather than at the next poll."""
        self._queue.put(("", b""))

    def wait_for(self, predicate: Callable[[HubCounters], bool], timeout: float) -> bool:
        """Wait until ``predicate(counters)`` holds (checked after every message the
        worker handles); return whether it did within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.counters), timeout)

    def stats(self) -> dict[str, int]:
        return asdict(self.counters)

    # -- MQTT callbacks (loop thread) ---------------------------------------------------
    def _will(self) -> tuple[str, bytes]:
        with self._bd_lock:
            self._bd_seq += 1
            status = m.HubStatus(online=False, bd_seq=self._bd_seq, at=now_iso())
        self._queue.put(("\0bd_seq", str(self._bd_seq).encode()))
        return topics.hub_status(self.site), m.encode(status)

    def _on_connect(self) -> None:
        # Subscribe before the birth: the broker handles both in order, so whoever sees
        # the hub online knows its subscriptions are live.
        self.link.subscribe(topics.hub_subscriptions(self.site))
        with self._bd_lock:
            birth = m.HubStatus(online=True, bd_seq=self._bd_seq, at=now_iso(), photo_resume=True)
        self.link.publish(topics.hub_status(self.site), m.encode(birth), retain=True)
        self.wake()  # publish what was written while we were away

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._queue.put((topic, bytes(payload)))

    # -- the worker ---------------------------------------------------------------------
    def _work(self) -> None:
        try:
            db = store.open_db(self.db_path, synchronous=self.synchronous)
            feed.ensure_site(db, self.site)
            hub_photos.migrate(db)
            self._bd_seq = _meta(db, "hub_bd_seq")
            self._published = dict(
                db.execute("SELECT stream_key, published_seq FROM stream_heads").fetchall()
            )
        except BaseException as exc:  # reported by start()
            self._worker_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self.poll_interval)
                except queue.Empty:
                    item = ("", b"")
                if item is None or self._stopping.is_set():
                    break
                self._handle(db, *item)
                self._publish_streams(db)
                self._maybe_prune(db)
                self._maybe_prune_inbox(db)
                with self._changed:
                    self._changed.notify_all()
        finally:
            self._save_published(db, force=True)
            with self._bd_lock:
                _meta_set(db, "hub_bd_seq", self._bd_seq)  # in case stop() beat the queue
            db.close()

    def _maybe_prune(self, db: sqlite_utils.Database) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + self.prune_every
        self._save_published(db, force=True)  # prune only what is published for good
        before = _days_ago(self.keep_stream_days)
        self.counters.pruned += store.prune_published(db, self.site, before)

    def _maybe_prune_inbox(self, db: sqlite_utils.Database) -> None:
        now = time.monotonic()
        if now < self._next_inbox_prune:
            return
        before = _days_ago(self.keep_inbox_days)
        gone = apply.prune_inbox(
            db, self.site, self.keep_inbox_events, before, limit=INBOX_PRUNE_ROWS
        )
        self.counters.inbox_pruned += gone
        # A full pass leaves more: the next one runs after the next message.
        self._next_inbox_prune = now if gone >= INBOX_PRUNE_ROWS else now + self.prune_every

    def _handle(self, db: sqlite_utils.Database, topic: str, payload: bytes) -> None:
        if topic == "":
            return  # a wake-up
        if topic == "\0bd_seq":
            # From _will() on the loop thread, which may not touch the database: saved
            # here so that after a crash the next births still count up.
            _meta_set(db, "hub_bd_seq", int(payload))
            return
        try:
            message, station = self._check(db, topic, payload)
            if message is None:
                return
            if isinstance(message, m.EventBatch):
                self._events(db, station, message)
            elif isinstance(message, m.StationStatus):
                self._status(db, station, message)
            elif isinstance(message, m.CatchUpRequest):
                self._catch_up(db, station, message)
            elif isinstance(message, m.PhotoChunk):
                self._photo_chunk(db, topic, station, message, payload)
            else:
                self._snapshot(db, station)
        except ValueError as exc:
            # The one refusal left to the store: a station id registered at another site.
            self._quarantine(db, topic, str(exc), payload)
        except Exception:
            # Not the sender's fault (the database, a bug): nothing was committed and no ack
            # goes out, so the station sends again after its ack timeout.
            self.counters.errors += 1
            log.exception("hub %s failed on a message from %s", self.site, topic)

    def _check(
        self, db: sqlite_utils.Database, topic: str, payload: bytes
    ) -> tuple[m.Message | None, str]:
        """The decoded message and its station, or (None, "") once quarantined."""
        try:
            site, side, station, leaf = topics.parse(topic)
        except ValueError as exc:
            return self._quarantine(db, topic, str(exc), payload)
        if site != self.site or side != "st" or leaf not in _EXPECTED:
            return self._quarantine(db, topic, "not a topic the hub reads", payload)
        try:
            topics.check_id(station, "station id")
        except ValueError as exc:
            return self._quarantine(db, topic, str(exc), payload)
        try:
            message = m.decode(payload)
        except m.Malformed as exc:
            return self._quarantine(db, topic, str(exc), payload)
        if not isinstance(message, _EXPECTED[leaf]):
            reason = f"{type(message).__name__} does not belong on {leaf}"
            return self._quarantine(db, topic, reason, payload)
        if message.station != station:
            reason = f"payload speaks for station {message.station!r} on {station!r}'s topic"
            return self._quarantine(db, topic, reason, payload)
        if isinstance(message, m.CatchUpRequest) and (
            message.stream not in ("site", "station") or message.from_seq < 1
        ):
            reason = f"bad catch-up request: stream {message.stream!r} from {message.from_seq}"
            return self._quarantine(db, topic, reason, payload)
        return message, station

    def _quarantine(self, db, topic: str, reason: str, payload: bytes) -> tuple[None, str]:
        quarantine(db, topic, reason, payload)  # logs it
        self.counters.quarantined += 1
        return None, ""

    # -- events -------------------------------------------------------------------------
    def _events(self, db: sqlite_utils.Database, station: str, batch: m.EventBatch) -> None:
        with store.transaction(db):  # the photo rows commit with the events that name them
            receipt = apply.receive_events(db, self.site, station, batch.events)
            if receipt.conflict is None:
                hub_photos.record_refs(
                    db, station, (e for e in batch.events if e.seq <= receipt.applied_seq)
                )
        c = self.counters
        if receipt.conflict is not None:
            reason = (
                f"seq {receipt.conflict} of {station} is another event here: its numbering "
                f"restarted (wiped or restored?); asked to renumber after {receipt.applied_seq}"
            )
            self._quarantine(db, topics.station_events(self.site, station), reason,
                             m.encode(batch))  # fmt: skip
            c.conflicts += 1
            ack = m.EventAck(
                station=station, applied_seq=receipt.applied_seq,
                renumber_after=receipt.applied_seq, matched_upto=receipt.conflict - 1,
            )  # fmt: skip
            self.link.publish(topics.hub_acks(self.site, station), m.encode(ack))
            return
        c.batches += 1
        c.applied += receipt.applied
        c.duplicates += receipt.duplicates
        c.rejected += receipt.rejected
        c.gaps += receipt.resend_from is not None
        ack = m.EventAck(
            station=station, applied_seq=receipt.applied_seq, resend_from=receipt.resend_from
        )
        if self.link.publish(topics.hub_acks(self.site, station), m.encode(ack)).rc == 0:
            c.acks += 1

    # -- photos -------------------------------------------------------------------------
    def _photo_chunk(
        self, db: sqlite_utils.Database, topic: str, station: str, chunk: m.PhotoChunk,
        payload: bytes,
    ) -> None:  # fmt: skip
        try:
            ack = self.photos.receive(db, station, chunk)
        except hub_photos.Refused as exc:
            self._quarantine(db, topic, str(exc), payload)
            return
        c = self.counters
        c.photo_chunks += 1
        if ack is None:
            return
        c.photos_stored, c.photos_refused = self.photos.stored, self.photos.refused
        c.photo_missing_reports = self.photos.missing_reports
        if not ack.stored and ack.missing is None:
            # Logged and kept (quarantine does both); the ack asks the station to resend.
            reason = f"photo {chunk.sha256} from {station} refused: {ack.reason}"
            self._quarantine(db, topic, reason, b"")
        self.link.publish(topics.hub_acks(self.site, station), m.encode(ack))

    # -- presence -----------------------------------------------------------------------
    def _status(self, db: sqlite_utils.Database, station: str, status: m.StationStatus) -> None:
        with store.transaction(db):
            feed.ensure_station(db, self.site, station)
            row = db.execute("SELECT bd_seq FROM presence WHERE station = ?", [station]).fetchone()
            # An offline status older than the latest birth is the late Will of an
            # earlier connection: it must not mark a live station dead. An online one is
            # always taken: the broker keeps one connection per client id, so it speaks
            # for the station now, even when its count restarted (a wiped station).
            stale = row is not None and not status.online and status.bd_seq < row[0]
            if not stale:
                db.execute(
                    "INSERT INTO presence (station, online, bd_seq, status, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(station) DO UPDATE SET "
                    "online = excluded.online, bd_seq = excluded.bd_seq, "
                    "status = excluded.status, updated_at = excluded.updated_at",
                    [
                        station,
                        int(status.online),
                        status.bd_seq,
                        json.dumps(msgspec.to_builtins(status), ensure_ascii=False),
                        now_iso(),
                    ],
                )
        # Counted once committed: whoever waits on a counter may read the row at once.
        self.counters.statuses += 1
        self.counters.stale_statuses += stale

    # -- catch-up and snapshots ---------------------------------------------------------
    def _catch_up(self, db: sqlite_utils.Database, station: str, req: m.CatchUpRequest) -> None:
        key = store.site_key(self.site) if req.stream == "site" else store.station_key(station)
        with db.atomic():  # one read view: head and floor agree with the rows
            head = store.stream_head(db, key)
            floor = store.stream_floor(db, key)
        if (
            req.from_seq > head + 1
            or req.from_seq < floor
            or head - req.from_seq >= self.catch_up_limit
        ):
            # Pruned, too far behind to be worth replaying, or ahead of us (a hub restored
            # from a backup): the station rebuilds from a snapshot.
            self._snapshot(db, station)
            return
        topic = topics.station_stream(self.site, station)
        seq = req.from_seq
        while seq <= head:
            rows = store.read_stream(db, key, seq, MAX_CHANGES, to_seq=head)
            if not rows:
                break
            self._send_changes(topic, req.stream, station, rows)
            seq = rows[-1][0] + 1
        self.counters.catch_ups += 1

    def _snapshot(self, db: sqlite_utils.Database, station: str) -> None:
        site_seq, station_seq, changes = feed.snapshot_changes(db, self.site, station)
        numbered = [m.Change(i, t, d) for i, (t, d) in enumerate(changes, 1)]
        parts = max(1, math.ceil(len(numbered) / MAX_CHANGES))
        snapshot_id = uuid.uuid4().hex
        topic = topics.station_stream(self.site, station)
        for part in range(parts):
            message = m.Snapshot(
                station=station,
                snapshot_id=snapshot_id,
                part=part + 1,
                parts=parts,
                site_seq=site_seq,
                station_seq=station_seq,
                changes=numbered[part * MAX_CHANGES : (part + 1) * MAX_CHANGES],
            )
            self.link.publish(topic, m.encode(message))
        self.counters.snapshots += 1

    def _send_changes(self, topic: str, stream: str, station: str | None, rows) -> bool:
        batch = m.StreamBatch(
            stream=stream,
            station=station if stream == "station" else None,
            changes=[m.Change(seq, type_, data) for seq, type_, data in rows],
        )
        return self.link.publish(topic, m.encode(batch)).rc == 0

    # -- live streams -------------------------------------------------------------------
    def _publish_streams(self, db: sqlite_utils.Database) -> None:
        if not self.link.connected.is_set():
            return
        heads = db.execute(
            "SELECT stream_key, seq FROM stream_heads WHERE stream_key = ? OR stream_key IN "
            "(SELECT 'station:' || station_id FROM stations WHERE site = ?) "
            "ORDER BY stream_key",  # "site:" first: orders name SKUs the catalogue brings
            [store.site_key(self.site), self.site],
        ).fetchall()
        for key, head in heads:
            topic, stream, station = self._target(key)
            done = self._published.get(key, 0)
            while done < head:
                rows = store.read_stream(db, key, done + 1, MAX_CHANGES, to_seq=head)
                if not rows or not self._send_changes(topic, stream, station, rows):
                    break  # pruned before publishing (nothing to do) or offline (later)
                done = rows[-1][0]
                self.counters.published += len(rows)
                self._published[key] = done
                self._published_dirty = True
        self._save_published(db)

    def _target(self, key: str) -> tuple[str, str, str | None]:
        kind, _, name = key.partition(":")
        if kind == "site":
            return topics.site_stream(self.site), "site", None
        return topics.station_stream(self.site, name), "station", name

    def _save_published(self, db: sqlite_utils.Database, force: bool = False) -> None:
        now = time.monotonic()
        if not self._published_dirty or (not force and now - self._published_saved_at < 1.0):
            return
        with store.transaction(db):
            db.conn.executemany(
                "UPDATE stream_heads SET published_seq = max(published_seq, ?) "
                "WHERE stream_key = ?",
                [(seq, key) for key, seq in self._published.items()],
            )
        self._published_dirty = False
        self._published_saved_at = now


def _days_ago(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - days * 86400))


def _meta(db: sqlite_utils.Database, name: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE name = ?", [name]).fetchone()
    return row[0] if row else 0


def _meta_set(db: sqlite_utils.Database, name: str, value: int) -> None:
    with store.transaction(db):
        db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
            [name, value],
        )
