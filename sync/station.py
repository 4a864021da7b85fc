"""The station side of sync (``sync/PROTOCOL.md``): drain the outbox to the hub, apply the
hub's streams to the replica, and announce the station's presence.

Threads. :class:`~sync.mqtt.MqttLink` runs paho's network loop on its own thread. Its
callbacks only put work on a queue - with one exception, the Will, whose ``bd_seq`` must
be bumped and persisted before the connect (one single-row commit on a connection of the
loop thread's own). One worker thread owns the station database connection and does
everything else: decode, quarantine, apply, mark acks, read the outbox, publish.

Why a worker and a queue rather than short transactions on the loop thread: a commit
with ``synchronous=FULL`` costs milliseconds to tens of milliseconds and a write can wait
up to ``busy_timeout`` behind the packer's own transaction, while the loop thread must
keep answering keep-alives and QoS 1 acks. The worker also owns the send window and the
marks, so they need no locks; the UI reads a copy of the shared fields with
:meth:`StationSync.state`, which never touches SQLite. The packer's thread only ever
writes the outbox; this module reads it and sets ``delivered_at``, in short transactions
(WAL lets both go on at once).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from sync import topics
from sync.messages import (
    CatchUpRequest,
    Event,
    EventAck,
    EventBatch,
    HubStatus,
    Malformed,
    Message,
    Snapshot,
    SnapshotRequest,
    StationStatus,
    StreamBatch,
    decode,
    encode,
)
from sync.mqtt import BrokerSettings, MqttLink
from sync.quarantine import quarantine
from sync.station_apply import (
    STREAMS,
    apply_batch,
    apply_snapshot,
    get_state,
    read_marks,
    set_state,
    transaction,
)

if TYPE_CHECKING:  # sync/ never imports station/ at run time (STYLE.md: layering)
    from station.config import StationConfig

log = logging.getLogger(__name__)

BATCH_MAX = 500  # events per EventBatch (PROTOCOL.md)
WINDOW = 4  # batches awaiting an ack
ACK_TIMEOUT_S = 5.0  # no ack this long after a send: send again from the last ack
STATUS_EVERY_S = 30.0  # republish the status at least this often
STATUS_MIN_GAP_S = 1.0  # ... and on change, but not more often than this
REQUEST_RETRY_S = 10.0  # ask again for a catch-up or snapshot that did not come
TICK_S = 0.2  # the worker's housekeeping period (new events leave within this)
PRUNE_EVERY_S = 60.0

StatusProvider = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SyncState:
    """A copy of the sync client's state, for the UI and tests."""

    online: bool  # connected to the broker
    outbox_depth: int  # events the hub has not acknowledged yet
    last_ack_at: str | None  # ISO 8601 UTC
    last_hub_contact_at: str | None  # last ack, stream batch or snapshot from the hub
    acked_seq: int
    site_seq: int
    station_seq: int
    bd_seq: int
    hub_online: bool | None  # the hub's retained status; None: not heard yet
    waiting_for_catalogue: str | None  # an order waits for SKUs the site stream owes
    changes_applied: int  # since start: the UI refreshes its queue when this moves
    counters: dict[str, int]


@dataclass(slots=True)
class _Sent:
    last_seq: int
    at: float  # monotonic


class StationSync:
    """The sync client of one station. ``start()`` / ``stop()``; ``state()`` from any
    thread.

    ``status_provider()`` returns ``{"operator": badge | None, "screen": name | None,
    "devices": {device: "ok" | problem}}``; it is called from the sync threads, so it
    must only read (a dict the UI replaces is fine).
    """

    def __init__(
        self,
        db_path: str | Path,
        config: StationConfig,
        settings: BrokerSettings,
        status_provider: StatusProvider = dict,
        *,
        ack_timeout: float = ACK_TIMEOUT_S,
    ) -> None:
        self.db_path = str(db_path)
        self.station_id = topics.check_id(config.station_id, "station id")
        self.site = topics.check_id(config.site, "site id")
        self.synchronous = config.synchronous
        self.keep_delivered_s = config.sync.keep_delivered_days * 86400
        self.settings = settings
        self.status_provider = status_provider
        self.ack_timeout = ack_timeout
        site, me = self.site, self.station_id
        self._events_topic = topics.station_events(site, me)
        self._status_topic = topics.station_status(site, me)
        self._req_topic = topics.station_requests(site, me)
        self._ack_topic = topics.hub_acks(site, me)
        self._site_topic = topics.site_stream(site)
        self._to_me_topic = topics.station_stream(site, me)
        self._hub_status_topic = topics.hub_status(site)
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._link: MqttLink | None = None
        self._will_db: sqlite3.Connection | None = None
        # Shared with state() and the loop thread: guarded by _lock.
        self._lock = threading.Lock()
        self._depth = 0
        self._acked = 0
        self._marks = dict.fromkeys(STREAMS, 0)
        self._bd_seq = 0
        self._last_ack_at: str | None = None
        self._last_contact_at: str | None = None
        self._hub_online: bool | None = None
        self._waiting: str | None = None
        self._applied_total = 0
        self._counters: dict[str, int] = {}
        self._status_sent: tuple[float, StationStatus | None] = (0.0, None)
        # The worker's own.
        self._db: sqlite3.Connection | None = None
        self._ready = False  # connected, and the worker has handled the connect
        self._inflight: list[_Sent] = []
        self._sent_upto = 0
        self._progress_at = 0.0
        self._rewound: tuple[int, float] = (-1, 0.0)
        self._seen = dict.fromkeys(STREAMS, 0)  # highest seq heard of per stream
        self._asked: dict[str, tuple[int, float]] = {}
        self._snapshot_asked: float | None = None
        self._parts: dict[int, Snapshot] = {}
        self._parts_id: str | None = None
        self._next_tick = 0.0
        self._next_prune = 0.0

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> StationSync:
        """Load the sync state, then start the worker and the MQTT link; return self.

        Raises RuntimeError when already started, ``sqlite3.Error`` when the database
        lacks the sync tables (open it with ``station.store.db.open_db`` first).
        """
        if self._worker is not None:
            raise RuntimeError("StationSync already started")
        conn = _connect(self.db_path, self.synchronous)
        try:
            self._load(conn)
        finally:
            conn.close()
        self._stopping.clear()
        self._inbox = queue.SimpleQueue()  # nothing from an earlier link
        self._worker = threading.Thread(
            target=self._run, name=f"sync-{self.station_id}", daemon=True
        )
        self._worker.start()
        self._link = MqttLink(
            self.settings,
            self.station_id,
            on_message=lambda topic, payload: self._inbox.put(("msg", topic, payload)),
            on_connect=self._connected,
            on_disconnect=lambda reason: self._inbox.put(("down",)),
            will=self._will,
        )
        self._link.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Publish a retained offline status (a clean disconnect sends no Will, and the
        lead must not see a stopped station as online), then stop the link and the
        worker. Safe to call twice."""
        if self._worker is None:
            return
        self._stopping.set()
        self._worker.join(timeout)
        link = self._link
        if link is not None:
            if link.connected.is_set():
                info = link.publish(
                    self._status_topic, encode(self._status(online=False)), retain=True
                )
                # Gone already (RuntimeError/ValueError): the broker sends the Will instead.
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(1.0)
            link.stop(timeout)
        if self._will_db is not None:
            self._will_db.close()
            self._will_db = None
        self._worker = None
        self._link = None

    def wake(self) -> None:
        """New outbox rows are committed: send them now rather than at the next tick. Cheap,
        never blocks; call it from any thread after each transaction that wrote events."""
        self._inbox.put(("wake",))

    def state(self) -> SyncState:
        """A copy of the current state. Never blocks on the database or the network."""
        link = self._link
        with self._lock:
            return SyncState(
                online=bool(link is not None and link.connected.is_set()),
                outbox_depth=self._depth,
                last_ack_at=self._last_ack_at,
                last_hub_contact_at=self._last_contact_at,
                acked_seq=self._acked,
                site_seq=self._marks["site"],
                station_seq=self._marks["station"],
                bd_seq=self._bd_seq,
                hub_online=self._hub_online,
                waiting_for_catalogue=self._waiting,
                changes_applied=self._applied_total,
                counters=dict(self._counters),
            )

    def _load(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._marks = read_marks(conn)
            self._acked = _last_acked(conn)
            self._depth = _depth(conn)
            self._bd_seq = int(get_state(conn, "bd_seq") or 0)
            self._last_ack_at = get_state(conn, "last_ack_at")
            self._last_contact_at = get_state(conn, "last_hub_contact_at")

    def _count(self, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counters[name] = self._counters.get(name, 0) + n

    # -- the loop thread: the Will, the birth, hand everything else to the worker -------
    def _will(self) -> tuple[str, bytes]:
        bd_seq = self._bump_bd_seq()
        will = StationStatus(station=self.station_id, online=False, bd_seq=bd_seq, at=_now())
        return self._status_topic, encode(will)

    def _bump_bd_seq(self) -> int:
        try:
            if self._will_db is None:
                self._will_db = _connect(self.db_path, self.synchronous)
            with transaction(self._will_db):
                bd_seq = int(get_state(self._will_db, "bd_seq") or 0) + 1
                set_state(self._will_db, "bd_seq", bd_seq)
        except sqlite3.Error:
            # Never keep the station off the broker over this: a bd_seq that is not
            # persisted can only repeat after a crash, and the hub pairs by "newer".
            log.exception("could not persist bd_seq")
            bd_seq = self._bd_seq + 1
        with self._lock:
            self._bd_seq = bd_seq
        return bd_seq

    def _connected(self) -> None:
        assert self._link is not None
        try:
            # Subscribe before anything is published on this connection: the broker
            # handles packets in order, so the hub's replies to our requests arrive.
            self._link.subscribe(topics.station_subscriptions(self.site, self.station_id))
            self._publish_status(self._status(online=True))  # the birth
        finally:
            self._inbox.put(("up",))  # whatever happened, the outbox must drain

    def _status(self, online: bool) -> StationStatus:
        try:
            info = dict(self.status_provider() or {})
            devices = {str(k): str(v) for k, v in dict(info.get("devices") or {}).items()}
        except Exception:  # a UI bug must not stop presence
            log.exception("status provider failed")
            info, devices = {}, {}
        with self._lock:
            return StationStatus(
                station=self.station_id,
                online=online,
                bd_seq=self._bd_seq,
                at=_now(),
                operator=_text(info.get("operator")),
                screen=_text(info.get("screen")),
                devices=devices,
                outbox_depth=self._depth,
                last_sync_at=self._last_contact_at,
                site_seq=self._marks["site"],
                station_seq=self._marks["station"],
            )

    def _publish_status(self, status: StationStatus) -> None:
        if self._link is None:
            return
        info = self._link.publish(self._status_topic, encode(status), retain=True)
        if info.rc == 0:
            with self._lock:
                self._status_sent = (time.monotonic(), msgspec.structs.replace(status, at=""))

    # -- the worker ---------------------------------------------------------------------
    def _run(self) -> None:
        self._db = _connect(self.db_path, self.synchronous)
        try:
            while not self._stopping.is_set():
                try:
                    item = self._inbox.get(timeout=TICK_S)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._guarded(self._handle, item)
                if time.monotonic() >= self._next_tick:
                    self._guarded(self._tick)
                    self._next_tick = time.monotonic() + TICK_S
        finally:
            self._db.close()

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        # The worker must outlive any one failure (a locked database, a bug): what was
        # not recorded is resent or re-asked for by the protocol's own retries.
        try:
            fn(*args)
        except Exception:
            log.exception("sync worker: %s failed", getattr(fn, "__name__", fn))
            self._count("errors")

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "up":
            self._on_up()
        elif kind == "down":
            self._ready = False
            self._inflight.clear()
        elif kind == "wake":
            self._pump()
        else:
            self._on_message(item[1], item[2])

    def _on_up(self) -> None:
        self._ready = True
        # After a reconnect always restart from the last ack (PROTOCOL.md).
        self._inflight.clear()
        self._sent_upto = self._acked
        self._progress_at = time.monotonic()
        self._rewound = (-1, 0.0)
        if not any(self._marks.values()):
            self._ask_snapshot()
        else:
            for stream in STREAMS:
                self._ask_catch_up(stream, self._marks[stream] + 1, force=True)
        self._pump()

    def _tick(self) -> None:
        assert self._db is not None
        now = time.monotonic()
        depth = _depth(self._db)
        with self._lock:
            self._depth = depth
        if self._ready:
            oldest = self._inflight[0].at if self._inflight else None
            if oldest is not None and now - max(oldest, self._progress_at) > self.ack_timeout:
                self._count("ack_timeouts")
                self._rewind(self._acked + 1, "no ack in time", force=True)
            self._pump()
            if self._snapshot_asked is not None:
                if now - self._snapshot_asked > REQUEST_RETRY_S:
                    self._ask_snapshot()
            else:
                self._catch_up_if_behind()
            self._maybe_publish_status(now)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            self._prune()

    # -- outbox -> hub ------------------------------------------------------------------
    def _pump(self) -> None:
        link = self._link
        if not self._ready or link is None or not link.connected.is_set():
            return
        while len(self._inflight) < WINDOW:
            events = _read_events(self._db, self._sent_upto, BATCH_MAX)
            if not events:
                return
            batch = EventBatch(station=self.station_id, events=events)
            if link.publish(self._events_topic, encode(batch)).rc != 0:
                return  # gone offline: the next connect restarts from the last ack
            self._inflight.append(_Sent(events[-1].seq, time.monotonic()))
            self._sent_upto = events[-1].seq
            self._count("batches_sent")
            self._count("events_sent", len(events))

    def _on_ack(self, ack: EventAck) -> None:
        at = _now()
        if ack.renumber_after is not None:
            self._renumber(ack.renumber_after)
            self._pump()
            return
        if ack.applied_seq > self._acked:
            with _no_fsync(self._db, self.synchronous), transaction(self._db):
                self._db.execute(
                    "UPDATE outbox SET delivered_at = ? WHERE delivered_at IS NULL AND seq <= ?",
                    [at, ack.applied_seq],
                )
                set_state(self._db, "last_ack_at", at)
                set_state(self._db, "last_hub_contact_at", at)
            depth = _depth(self._db)
            self._count("events_acked", ack.applied_seq - self._acked)
            with self._lock:
                self._acked = ack.applied_seq
                self._depth = depth
                self._last_ack_at = self._last_contact_at = at
            self._progress_at = time.monotonic()
            self._inflight = [s for s in self._inflight if s.last_seq > ack.applied_seq]
            self._sent_upto = max(self._sent_upto, ack.applied_seq)
        else:
            with self._lock:
                self._last_contact_at = at
        self._count("acks")
        if ack.resend_from is not None:
            self._rewind(ack.resend_from, "the hub asked (resend_from)")
        self._pump()

    def _renumber(self, after: int) -> None:
        """The hub holds other events under our seqs up to ``after``: this database was
        wiped or restored and numbers from an old point again. Move every event the hub
        has not acknowledged (none of them applied there) to ``after + 1`` onwards, in
        order, and number new events after them."""
        assert self._db is not None
        with transaction(self._db):
            first = self._db.execute(
                "SELECT min(seq) FROM outbox WHERE delivered_at IS NULL"
            ).fetchone()[0]
            if first is not None and first <= after:
                shift = after + 1 - first
                # Through negative seqs, so that no row takes a seq another still has.
                self._db.execute("UPDATE outbox SET seq = -seq WHERE delivered_at IS NULL")
                self._db.execute("UPDATE outbox SET seq = ? - seq WHERE seq < 0", [shift])
            self._db.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?, "
                "(SELECT coalesce(max(seq), 0) FROM outbox)) WHERE name = 'outbox'",
                [after],
            )
        log.warning("outbox renumbered after seq %d: the hub has other events under ours", after)
        depth = _depth(self._db)
        with self._lock:
            self._acked = max(self._acked, after)
            self._depth = depth
        self._inflight.clear()
        self._sent_upto = self._acked
        self._progress_at = time.monotonic()
        self._count("renumbered")

    def _rewind(self, from_seq: int, why: str, force: bool = False) -> None:
        start, now = max(from_seq - 1, 0), time.monotonic()
        # The batches that were in flight behind a lost one each draw the same
        # resend_from; the first one already started the resend.
        if not force and self._rewound[0] == start and now - self._rewound[1] < self.ack_timeout:
            return
        log.info("resending events from %d: %s", start + 1, why)
        self._rewound = (start, now)
        self._inflight.clear()
        self._sent_upto = start
        self._progress_at = now
        self._count("resends")

    def _prune(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.keep_delivered_s)
        with transaction(self._db):
            gone = self._db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                [_iso(cutoff)],
            ).rowcount
        self._count("events_pruned", gone)

    # -- hub -> station -----------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            message = decode(payload)
        except Malformed as exc:
            self._refuse(topic, str(exc), payload)
            return
        problem = self._misaddressed(topic, message)
        if problem is not None:
            self._refuse(topic, problem, payload)
        elif isinstance(message, EventAck):
            self._on_ack(message)
        elif isinstance(message, StreamBatch):
            self._on_stream(topic, message)
        elif isinstance(message, Snapshot):
            self._on_snapshot(topic, message)
        elif isinstance(message, HubStatus):
            with self._lock:
                self._hub_online = message.online

    def _misaddressed(self, topic: str, message: Message) -> str | None:
        """Why ``message`` does not belong on ``topic``, or None when it does."""
        me, kind = self.station_id, type(message).__name__
        station = getattr(message, "station", None)
        if topic == self._ack_topic and isinstance(message, EventAck):
            return None if station == me else f"EventAck for another station ({station!r})"
        if topic == self._site_topic and isinstance(message, StreamBatch):
            if message.stream != "site":
                return f"a {message.stream!r} stream batch on the site stream topic"
            return None if station in (None, me) else f"site batch for station {station!r}"
        if topic == self._to_me_topic and isinstance(message, StreamBatch | Snapshot):
            if isinstance(message, StreamBatch) and message.stream not in STREAMS:
                return f"unknown stream {message.stream!r}"
            ok = station == me or (station is None and isinstance(message, StreamBatch))
            return None if ok else f"{kind} for another station ({station!r})"
        if topic == self._hub_status_topic and isinstance(message, HubStatus):
            return None
        return f"{kind} does not belong on this topic"

    def _refuse(self, topic: str, reason: str, payload: bytes) -> None:
        quarantine(self._db, topic, reason, payload)
        self._count("quarantined")

    def _on_stream(self, topic: str, batch: StreamBatch) -> None:
        stream = batch.stream
        # Before applying: should the database fail now, the tick still knows this
        # stream is behind and asks for it again.
        self._seen[stream] = max([self._seen[stream], *(c.seq for c in batch.changes)])
        result = apply_batch(self._db, stream, batch.changes, topic=topic, now=_now())
        with self._lock:
            self._marks[stream] = result.mark
            self._last_contact_at = _now()
            self._applied_total += result.applied
        self._count("changes_applied", result.applied)
        self._count("duplicates", result.duplicates)
        self._count("changes_quarantined", result.skipped)
        if stream == "station" and (result.blocked or result.applied or result.skipped):
            with self._lock:
                self._waiting = result.blocked
            if result.blocked:
                log.warning("station stream waits for the catalogue: %s", result.blocked)
                self._ask_catch_up("site", self._marks["site"] + 1)
        elif stream == "site" and result.applied and self._waiting:
            self._ask_catch_up("station", self._marks["station"] + 1, force=True)
        if result.gap_from is not None:
            self._count("gaps")
            if self._snapshot_asked is None:  # a snapshot on its way covers the gap
                self._ask_catch_up(stream, result.gap_from)

    def _on_snapshot(self, topic: str, part: Snapshot) -> None:
        if part.parts < 1 or not 0 <= part.part <= part.parts:
            self._refuse(topic, f"snapshot part {part.part} of {part.parts}", encode(part))
            return
        if part.snapshot_id != self._parts_id:
            self._parts_id, self._parts = part.snapshot_id, {}
        self._parts[part.part] = part
        # PROTOCOL.md does not say whether parts count from 0 or 1: accept either.
        if set(self._parts) not in (set(range(part.parts)), set(range(1, part.parts + 1))):
            return
        parts = [self._parts[n] for n in sorted(self._parts)]
        self._parts_id, self._parts = None, {}
        site_seq, station_seq = parts[0].site_seq, parts[0].station_seq
        if site_seq < self._marks["site"] or station_seq < self._marks["station"]:
            # Older than what is applied here: applying it would move the marks back.
            log.info("snapshot %s is older than this replica: ignored", part.snapshot_id)
            self._count("snapshots_stale")
            self._snapshot_asked = None
            return
        changes = [c for p in parts for c in p.changes]
        skipped = apply_snapshot(self._db, changes, site_seq, station_seq, topic=topic, now=_now())
        with self._lock:
            self._marks = {"site": site_seq, "station": station_seq}
            self._last_contact_at = _now()
            self._applied_total += len(changes) - skipped
        self._snapshot_asked = None
        self._count("snapshots_applied")
        self._count("changes_quarantined", skipped)
        log.info(
            "snapshot applied: %d changes, site %d, station %d", len(changes), *self._marks.values()
        )
        self._catch_up_if_behind()  # live changes that came while it was on its way

    # -- requests -----------------------------------------------------------------------
    def _ask_catch_up(self, stream: str, from_seq: int, force: bool = False) -> None:
        now = time.monotonic()
        last = self._asked.get(stream)
        if (
            not force
            and last is not None
            and last[0] == from_seq
            and now - last[1] < REQUEST_RETRY_S
        ):
            return
        if self._request(CatchUpRequest(station=self.station_id, stream=stream, from_seq=from_seq)):
            self._asked[stream] = (from_seq, now)
            self._count("catch_up_requests")

    def _catch_up_if_behind(self) -> None:
        for stream in STREAMS:
            if self._seen[stream] > self._marks[stream]:
                self._ask_catch_up(stream, self._marks[stream] + 1)

    def _ask_snapshot(self) -> None:
        if self._request(SnapshotRequest(station=self.station_id)):
            self._snapshot_asked = time.monotonic()
            self._count("snapshot_requests")

    def _request(self, message: CatchUpRequest | SnapshotRequest) -> bool:
        link = self._link
        if not self._ready or link is None:
            return False
        return link.publish(self._req_topic, encode(message)).rc == 0

    def _maybe_publish_status(self, now: float) -> None:
        status = self._status(online=True)
        with self._lock:
            last_at, last = self._status_sent
        changed = msgspec.structs.replace(status, at="") != last
        if (changed and now - last_at >= STATUS_MIN_GAP_S) or now - last_at >= STATUS_EVERY_S:
            self._publish_status(status)


# -- the station database, as sync sees it ------------------------------------------------
@contextlib.contextmanager
def _no_fsync(conn: sqlite3.Connection, synchronous: str):
    """Commit without waiting for the disk (WAL, ``synchronous=NORMAL``) - only for writes
    the protocol can lose: an ack's ``delivered_at`` marks. Lost in a power cut, the rows
    are sent again and the hub's inbox drops them as duplicates. In WAL a commit cannot
    outlive an earlier one lost (frame checksums chain), so nothing later depends on a
    mark that vanished. Saves one fsync on the path of every event."""
    if synchronous.upper() not in ("FULL", "EXTRA"):
        yield
        return
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA synchronous={synchronous}")


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    # Autocommit mode: every transaction here is an explicit BEGIN IMMEDIATE ... COMMIT.
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    if synchronous.upper() in ("OFF", "NORMAL", "FULL", "EXTRA"):
        conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _read_events(conn: sqlite3.Connection, after: int, limit: int) -> list[Event]:
    rows = conn.execute(
        "SELECT seq, event_id, type, at, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        [after, limit],
    ).fetchall()
    return [
        Event(seq, event_id, type_, at, _data(payload))
        for seq, event_id, type_, at, payload in rows
    ]


def _data(payload: str) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(payload)  # json.loads, several times faster
    except msgspec.DecodeError:
        try:
            data = json.loads(payload)  # e.g. NaN, which only json reads
        except ValueError:
            data = None
    # Sent whatever it holds: the hub records what it cannot read, and the sequence
    # must not stall on one row.
    return data if isinstance(data, dict) else {"unreadable": payload}


def _depth(conn: sqlite3.Connection) -> int:
    # Rows are marked delivered in seq order and seqs have no gaps, so the undelivered ones
    # are first..last: two index look-ups, where count(*) walked every undelivered row.
    first = conn.execute("SELECT min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
    if first is None:
        return 0
    return conn.execute("SELECT max(seq) FROM outbox").fetchone()[0] - first + 1


def _last_acked(conn: sqlite3.Connection) -> int:
    """The hub's last known high-water mark: everything before the first undelivered
    event (delivered rows may have been pruned, AUTOINCREMENT never reuses a seq)."""
    first = conn.execute("SELECT min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
    if first is not None:
        return first - 1
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return row[0] if row else 0


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(datetime.now(UTC))
