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
writes the outbox; the worker reads it and sets ``delivered_at``, in short transactions
(WAL lets both go on at once).

Where the code is. This module keeps the life cycle, the threads, the queue and presence
(the Will, the birth, the status). What the worker does is in three mixins of
:class:`StationSync`, called only on the worker thread: :mod:`sync.station_outbox` (outbox
-> hub: send window, acks, resend, renumber, prune), :mod:`sync.station_photos` (photo
files -> hub, while the outbox is empty) and :mod:`sync.station_streams` (hub -> station:
routing and quarantine of what arrives, streams, snapshots, catch-up requests).
:mod:`sync.station_db` holds the plain functions on the station database they share.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from sync import topics
from sync.messages import StationStatus, encode
from sync.mqtt import BrokerSettings, MqttLink
from sync.site_board import StatusBoard
from sync.station_apply import (
    STREAMS,
    get_state,
    read_marks,
    set_state,
    transaction,
)
from sync.station_db import connect, last_acked, now_iso, outbox_depth, photos_waiting
from sync.station_outbox import OutboxSender
from sync.station_photos import PHOTO_ACK_TIMEOUT_S, PHOTO_BACKOFF_MAX_S, PhotoSender
from sync.station_streams import StreamReceiver

if TYPE_CHECKING:  # sync/ never imports station/ at run time (STYLE.md: layering)
    from station.config import StationConfig

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0  # no ack this long after a send: send again from the last ack
STATUS_EVERY_S = 30.0  # republish the status at least this often
STATUS_MIN_GAP_S = 1.0  # ... and on change, but not more often than this
TICK_S = 0.2  # the worker's housekeeping period (new events leave within this)
PRUNE_EVERY_S = 60.0

StatusProvider = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SyncState:
    """A copy of the sync client's state, for the UI and tests."""

    online: bool  # connected to the broker
    outbox_depth: int  # events the hub has not acknowledged yet
    photos_waiting: int  # photo files the hub has not acknowledged yet (errors left out)
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


class StationSync(OutboxSender, PhotoSender, StreamReceiver):
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
        photo_ack_timeout: float = PHOTO_ACK_TIMEOUT_S,
        photo_backoff_max: float = PHOTO_BACKOFF_MAX_S,
    ) -> None:
        self.db_path = str(db_path)
        self.station_id = topics.check_id(config.station_id, "station id")
        self.site = topics.check_id(config.site, "site id")
        self.synchronous = config.synchronous
        self.keep_delivered_s = config.sync.keep_delivered_days * 86400
        self.settings = settings
        self.status_provider = status_provider
        self.ack_timeout = ack_timeout
        self.photo_ack_timeout = photo_ack_timeout
        self.photo_backoff_max = photo_backoff_max
        site, me = self.site, self.station_id
        self._events_topic = topics.station_events(site, me)
        self._status_topic = topics.station_status(site, me)
        self._req_topic = topics.station_requests(site, me)
        self._photo_topic = topics.station_photos(site, me)
        self._ack_topic = topics.hub_acks(site, me)
        self._site_topic = topics.site_stream(site)
        self._to_me_topic = topics.station_stream(site, me)
        self._hub_status_topic = topics.hub_status(site)
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        # Every station's status, for the lead's site board: kept on the loop thread
        # (no database), read by the UI with ``board.view()``.
        self.board = StatusBoard(site)
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._link: MqttLink | None = None
        self._will_db: sqlite3.Connection | None = None
        # Shared with state() and the loop thread: guarded by _lock.
        self._lock = threading.Lock()
        self._depth = 0
        self._photos_waiting = 0
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
        self._init_outbox()  # the send window
        self._init_photos()  # the photo being uploaded
        self._init_streams()  # what was heard of and asked for
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
        conn = connect(self.db_path, self.synchronous)
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
            on_message=self._arrived,
            on_connect=self._connected,
            on_disconnect=lambda reason: self._inbox.put(("down",)),
            will=self._will,
            on_published=self._broker_confirmed,
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
                photos_waiting=self._photos_waiting,
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
            self._acked = last_acked(conn)
            self._depth = outbox_depth(conn)
            self._photos_waiting = photos_waiting(conn)
            self._bd_seq = int(get_state(conn, "bd_seq") or 0)
            self._last_ack_at = get_state(conn, "last_ack_at")
            self._last_contact_at = get_state(conn, "last_hub_contact_at")

    def _count(self, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counters[name] = self._counters.get(name, 0) + n

    # -- the loop thread: the Will, the birth, hand everything else to the worker -------
    def _arrived(self, topic: str, payload: bytes) -> None:
        if self.board.wants(topic):
            self.board.take(topic, payload)
            if topic != self._hub_status_topic:
                return  # other stations' statuses are the board's only
        self._inbox.put(("msg", topic, payload))

    def _broker_confirmed(self) -> None:
        # A photo's next chunks go out as the broker confirms earlier ones (read without
        # the worker's knowledge: at worst one wake-up too many or a chunk at the tick).
        if self._upload is not None:
            self._inbox.put(("sent",))

    def _will(self) -> tuple[str, bytes]:
        bd_seq = self._bump_bd_seq()
        will = StationStatus(station=self.station_id, online=False, bd_seq=bd_seq, at=now_iso())
        return self._status_topic, encode(will)

    def _bump_bd_seq(self) -> int:
        try:
            if self._will_db is None:
                self._will_db = connect(self.db_path, self.synchronous)
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
            # The statuses at QoS 0: "latest wins", so the broker need not queue them
            # for a station that is away (the retained ones come on every subscribe).
            statuses = topics.site_statuses(self.site)
            subs = topics.station_subscriptions(self.site, self.station_id)
            self._link.subscribe([t for t in subs if t != statuses])
            self._link.subscribe([statuses], qos=0)
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
                at=now_iso(),
                operator=_text(info.get("operator")),
                screen=_text(info.get("screen")),
                devices=devices,
                outbox_depth=self._depth,
                photos_waiting=self._photos_waiting,
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
        self._db = connect(self.db_path, self.synchronous)
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
            self._photo_link_down()
            return
        elif kind == "wake":
            self._pump()
        elif kind == "msg":
            self._on_message(item[1], item[2])
        self._pump_photos()  # after the events: only sent when none are waiting

    def _on_up(self) -> None:
        self._ready = True
        self._restart_from_ack()
        self._resync()
        self._pump()

    def _tick(self) -> None:
        assert self._db is not None
        now = time.monotonic()
        depth, photos = outbox_depth(self._db), photos_waiting(self._db)
        with self._lock:
            self._depth, self._photos_waiting = depth, photos
        if self._ready:
            self._check_ack_timeout(now)
            self._pump()
            self._check_photo_ack(now)
            self._pump_photos()
            self._retry_requests(now)
            self._maybe_publish_status(now)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            self._prune()

    def _maybe_publish_status(self, now: float) -> None:
        status = self._status(online=True)
        with self._lock:
            last_at, last = self._status_sent
        changed = msgspec.structs.replace(status, at="") != last
        if (changed and now - last_at >= STATUS_MIN_GAP_S) or now - last_at >= STATUS_EVERY_S:
            self._publish_status(status)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
