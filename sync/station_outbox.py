"""The outbox -> hub half of :class:`sync.station.StationSync` (``sync/PROTOCOL.md``): send
the outbox in batches within a window, mark acknowledged events delivered, resend from the
last ack when one is lost or late, renumber when the hub holds other events under our seqs,
and prune what was delivered long ago.

A mixin of :class:`~sync.station.StationSync`, run only on its worker thread: it owns the
send window (``_inflight``, ``_sent_upto``, ``_progress_at``, ``_rewound``) and needs no
lock for it; ``_acked`` and ``_depth`` are shared with ``state()`` and written under
``_lock``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.messages import EventAck, EventBatch, encode
from sync.station_apply import set_state, transaction
from sync.station_db import iso, no_fsync, now_iso, outbox_depth, read_events

log = logging.getLogger(__name__)

BATCH_MAX = 500  # events per EventBatch (PROTOCOL.md)
WINDOW = 4  # batches awaiting an ack


@dataclass(slots=True)
class _Sent:
    last_seq: int
    at: float  # monotonic


class OutboxSender:
    """Sends the outbox and handles the hub's acks; see the module docstring."""

    def _init_outbox(self) -> None:
        self._inflight: list[_Sent] = []
        self._sent_upto = 0
        self._progress_at = 0.0
        self._rewound: tuple[int, float] = (-1, 0.0)

    def _restart_from_ack(self) -> None:
        # After a reconnect always restart from the last ack (PROTOCOL.md).
        self._inflight.clear()
        self._sent_upto = self._acked
        self._progress_at = time.monotonic()
        self._rewound = (-1, 0.0)

    def _check_ack_timeout(self, now: float) -> None:
        oldest = self._inflight[0].at if self._inflight else None
        if oldest is not None and now - max(oldest, self._progress_at) > self.ack_timeout:
            self._count("ack_timeouts")
            self._rewind(self._acked + 1, "no ack in time", force=True)

    def _pump(self) -> None:
        link = self._link
        if not self._ready or link is None or not link.connected.is_set():
            return
        while len(self._inflight) < WINDOW:
            events = read_events(self._db, self._sent_upto, BATCH_MAX)
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
        at = now_iso()
        if ack.renumber_after is not None:
            # What the hub matched by id is delivered; only the rest is renumbered (else
            # those events would be sent again under new seqs and applied twice).
            if ack.matched_upto is not None:
                self._delivered(min(ack.matched_upto, self._sent_upto), at)
            self._renumber(ack.renumber_after)
            self._pump()
            return
        # Never past what this station sent: a hub mark beyond it covers events this
        # database does not hold (restored from a backup older than them). Its events
        # under those seqs are new ones: sent, the hub tells them apart by id and asks
        # for a renumbering. Marked delivered unsent, they would be lost.
        if not self._delivered(min(ack.applied_seq, self._sent_upto), at):
            with self._lock:
                self._last_contact_at = at
        self._count("acks")
        if ack.resend_from is not None:
            self._rewind(ack.resend_from, "the hub asked (resend_from)")
        self._pump()

    def _delivered(self, upto: int, at: str) -> bool:
        """Mark the outbox delivered up to ``upto``; False when that is nothing new."""
        if upto <= self._acked:
            return False
        with no_fsync(self._db, self.synchronous), transaction(self._db):
            self._db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE delivered_at IS NULL AND seq <= ?",
                [at, upto],
            )
            set_state(self._db, "last_ack_at", at)
            set_state(self._db, "last_hub_contact_at", at)
        depth = outbox_depth(self._db)
        self._count("events_acked", upto - self._acked)
        with self._lock:
            self._acked = upto
            self._depth = depth
            self._last_ack_at = self._last_contact_at = at
        self._progress_at = time.monotonic()
        self._inflight = [s for s in self._inflight if s.last_seq > upto]
        return True

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
        depth = outbox_depth(self._db)
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
                [iso(cutoff)],
            ).rowcount
        self._count("events_pruned", gone)
