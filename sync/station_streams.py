"""The hub -> station half of :class:`sync.station.StationSync` (``sync/PROTOCOL.md``):
check where each message from the hub belongs (quarantine what does not), hand acks to the
outbox half, apply stream batches and snapshots to the replica, and ask for a catch-up or
a snapshot when a stream is behind.

A mixin of :class:`~sync.station.StationSync`, run only on its worker thread: it owns what
was heard and asked for (``_seen``, ``_asked``, ``_snapshot_asked``, the snapshot parts);
the marks and counters it updates are shared with ``state()`` and written under ``_lock``.
"""

from __future__ import annotations

import logging
import time

from sync.messages import (
    CatchUpRequest,
    EventAck,
    HubStatus,
    Malformed,
    Message,
    PhotoAck,
    Snapshot,
    SnapshotRequest,
    StreamBatch,
    decode,
    encode,
)
from sync.quarantine import quarantine
from sync.station_apply import STREAMS, apply_batch, apply_snapshot
from sync.station_db import now_iso

log = logging.getLogger(__name__)

REQUEST_RETRY_S = 10.0  # ask again for a catch-up or snapshot that did not come


class StreamReceiver:
    """Handles what the hub sends and asks it for what is missing; see the module
    docstring."""

    def _init_streams(self) -> None:
        self._seen = dict.fromkeys(STREAMS, 0)  # highest seq heard of per stream
        self._asked: dict[str, tuple[int, float]] = {}
        self._snapshot_asked: float | None = None
        self._parts: dict[int, Snapshot] = {}
        self._parts_id: str | None = None

    def _resync(self) -> None:
        """On (re)connect: an empty replica asks for a snapshot, else every stream for
        what came after its mark."""
        if not any(self._marks.values()):
            self._ask_snapshot()
        else:
            for stream in STREAMS:
                self._ask_catch_up(stream, self._marks[stream] + 1, force=True)

    def _retry_requests(self, now: float) -> None:
        if self._snapshot_asked is not None:
            if now - self._snapshot_asked > REQUEST_RETRY_S:
                self._ask_snapshot()
        else:
            self._catch_up_if_behind()

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
        elif isinstance(message, PhotoAck):
            self._on_photo_ack(message)
        elif isinstance(message, StreamBatch):
            self._on_stream(topic, message)
        elif isinstance(message, Snapshot):
            self._on_snapshot(topic, message)
        elif isinstance(message, HubStatus):
            with self._lock:
                self._hub_online = message.online
            self._on_hub_status(message)

    def _misaddressed(self, topic: str, message: Message) -> str | None:
        """Why ``message`` does not belong on ``topic``, or None when it does."""
        me, kind = self.station_id, type(message).__name__
        station = getattr(message, "station", None)
        if topic == self._ack_topic and isinstance(message, EventAck | PhotoAck):
            return None if station == me else f"{kind} for another station ({station!r})"
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
        result = apply_batch(self._db, stream, batch.changes, topic=topic, now=now_iso())
        with self._lock:
            self._marks[stream] = result.mark
            self._last_contact_at = now_iso()
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
        skipped = apply_snapshot(
            self._db, changes, site_seq, station_seq, topic=topic, now=now_iso()
        )
        with self._lock:
            self._marks = {"site": site_seq, "station": station_seq}
            self._last_contact_at = now_iso()
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
