"""A hub for station tests: an MqttLink speaking ``sync/messages.py``, nothing more.

It applies EventBatches exactly as PROTOCOL.md says (high-water mark per station, gap ->
``resend_from``) and records everything it receives, so a test can check order and
exactly-once. It keeps a site stream and per-station streams in memory, answers catch-up
and snapshot requests from them, and can lose batches or stay silent on purpose.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sync import messages as m
from sync import topics
from sync.mqtt import BrokerSettings, MqttLink


class FakeHub:
    def __init__(
        self,
        port: int,
        site: str = "WH1",
        *,
        ack: bool = True,
        answer_requests: bool = True,
        snapshot_parts: int = 1,
    ) -> None:
        self.site = site
        self.ack = ack  # False: receive and record batches, never apply or ack
        self.answer_requests = answer_requests
        self.snapshot_parts = snapshot_parts
        self.lose_batches = 0  # the next N batches vanish (as if the broker dropped them)
        self.batches: list[m.EventBatch] = []  # every batch received, in arrival order
        self.applied: dict[str, list[m.Event]] = {}  # events applied, in order
        self.applied_seq: dict[str, int] = {}
        self.acks: list[m.EventAck] = []
        self.statuses: list[m.StationStatus] = []
        self.requests: list[m.CatchUpRequest | m.SnapshotRequest] = []
        self.site_log: list[m.Change] = []
        self.station_logs: dict[str, list[m.Change]] = {}
        self._cond = threading.Condition()
        settings = BrokerSettings(port=port, backoff_min=0.05, backoff_max=0.5)
        self.link = MqttLink(
            settings,
            f"hub-{site}",
            on_message=self._message,
            on_connect=lambda: self.link.subscribe(topics.hub_subscriptions(site)),
        )

    # -- life cycle ---------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> FakeHub:
        self.link.start()
        assert self.link.wait_connected(timeout), "fake hub could not connect"
        return self

    def stop(self) -> None:
        self.link.stop()

    def wait(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
        """Wait until ``predicate()`` is truthy (checked on every message and every 0.1 s);
        return its value. Raises AssertionError on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what or predicate}")
                self._cond.wait(min(left, 0.1))

    # -- hub -> station -----------------------------------------------------------------
    def add_site(self, type_: str, data: dict[str, Any]) -> m.Change:
        """Append a change to the site stream (not published)."""
        with self._cond:
            change = m.Change(len(self.site_log) + 1, type_, data)
            self.site_log.append(change)
            return change

    def add_station(self, station: str, type_: str, data: dict[str, Any]) -> m.Change:
        with self._cond:
            log = self.station_logs.setdefault(station, [])
            change = m.Change(len(log) + 1, type_, data)
            log.append(change)
            return change

    def publish_site(self, changes: list[m.Change]) -> None:
        batch = m.StreamBatch(stream="site", changes=changes)
        self.link.publish(topics.site_stream(self.site), m.encode(batch))

    def publish_station(self, station: str, changes: list[m.Change]) -> None:
        batch = m.StreamBatch(stream="station", station=station, changes=changes)
        self.link.publish(topics.station_stream(self.site, station), m.encode(batch))

    def send_raw(self, topic: str, payload: bytes) -> None:
        self.link.publish(topic, payload)

    def reply(self, request: m.CatchUpRequest | m.SnapshotRequest) -> None:
        """Answer a request from the streams, as a hub would."""
        station = request.station
        topic = topics.station_stream(self.site, station)
        if isinstance(request, m.SnapshotRequest):
            self._snapshot(station, topic)
            return
        log = self.site_log if request.stream == "site" else self.station_logs.get(station, [])
        changes = log[request.from_seq - 1 :]
        if changes:
            batch = m.StreamBatch(
                stream=request.stream,
                station=station if request.stream == "station" else None,
                changes=changes,
            )
            self.link.publish(topic, m.encode(batch))

    def _snapshot(self, station: str, topic: str) -> None:
        site, mine = list(self.site_log), list(self.station_logs.get(station, []))
        changes = site + mine
        parts = max(1, self.snapshot_parts)
        size = -(-len(changes) // parts) or 1
        snapshot_id = uuid.uuid4().hex
        # Last part first: the station must assemble, not apply as they come.
        for part in reversed(range(parts)):
            self.link.publish(
                topic,
                m.encode(
                    m.Snapshot(
                        station=station,
                        snapshot_id=snapshot_id,
                        part=part + 1,
                        parts=parts,
                        site_seq=len(site),
                        station_seq=len(mine),
                        changes=changes[part * size : (part + 1) * size],
                    )
                ),
            )

    # -- station -> hub (loop thread) ---------------------------------------------------
    def _message(self, topic: str, payload: bytes) -> None:
        message = m.decode(payload)
        with self._cond:
            if isinstance(message, m.EventBatch):
                self._batch(message)
            elif isinstance(message, m.StationStatus):
                self.statuses.append(message)
            elif isinstance(message, m.CatchUpRequest | m.SnapshotRequest):
                self.requests.append(message)
                if self.answer_requests:
                    self.reply(message)
            self._cond.notify_all()

    def _batch(self, batch: m.EventBatch) -> None:
        if self.lose_batches > 0:
            self.lose_batches -= 1
            return
        self.batches.append(batch)
        if not self.ack:
            return
        station = batch.station
        applied = self.applied.setdefault(station, [])
        mark = self.applied_seq.get(station, 0)
        resend_from = None
        for event in batch.events:
            if event.seq <= mark:
                continue  # duplicate or replay
            if event.seq > mark + 1:
                resend_from = mark + 1  # a gap: apply nothing past it
                break
            applied.append(event)
            mark = event.seq
        self.applied_seq[station] = mark
        ack = m.EventAck(station=station, applied_seq=mark, resend_from=resend_from)
        self.acks.append(ack)
        self.link.publish(topics.hub_acks(self.site, station), m.encode(ack))

    # -- what tests ask -----------------------------------------------------------------
    def applied_seqs(self, station: str) -> list[int]:
        with self._cond:
            return [e.seq for e in self.applied.get(station, [])]

    def received_seqs(self, station: str) -> list[int]:
        with self._cond:
            return [e.seq for b in self.batches if b.station == station for e in b.events]
