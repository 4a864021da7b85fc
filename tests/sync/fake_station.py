"""A station as the hub sees it, for tests: its outbox events and its MQTT side.

``StationLog`` writes the events a real station's outbox would hold for a few packing
stories (data shapes as in ``station/packing/service.py``), numbered from 1. ``FakeStation``
is an ``MqttLink`` under the station's own client id that publishes ``EventBatch``es made
with ``sync.messages`` and records what the hub sends back.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from sync import messages as m
from sync import topics
from sync.mqtt import BrokerSettings, MqttLink


class StationLog:
    """The outbox of ``station``: ``events`` in seq order from 1."""

    def __init__(self, station: str) -> None:
        self.station = station
        self.events: list[m.Event] = []

    def add(self, type_: str, **data: Any) -> m.Event:
        seq = len(self.events) + 1
        at = f"2025-01-01T00:{seq // 60 % 60:02d}:{seq % 60:02d}.000Z"
        data.setdefault("operator", "B1001")
        event = m.Event(seq, uuid.uuid4().hex, type_, at, data)
        self.events.append(event)
        return event

    def noise(self, n: int = 1) -> None:
        """Events without a hub effect (one of a type the hub has never heard of)."""
        for i in range(n):
            self.add("operator_logged_in" if i % 2 == 0 else "future_event_type", role="packer")

    def pack(self, order_id: str, lines: dict[int, int], short: dict[int, int] | None = None):
        """Open, scan, weigh, label and pack ``order_id`` (``lines``: line_no -> qty) in one
        package; ``short`` lists the quantities marked short earlier."""
        short = short or {}
        self.add("order_opened", order_id=order_id)
        for line_no, qty in lines.items():
            if qty - short.get(line_no, 0) > 0:
                self.add(
                    "item_scanned", order_id=order_id, line_no=line_no, sku="?",
                    qty=qty - short.get(line_no, 0), package_no=1, lot=None, serial=None,
                    expiry=None,
                )  # fmt: skip
        self.add("package_weighed", order_id=order_id, package_no=1, grams=500.0, ok=True)
        self.add("label_queued", order_id=order_id, package_no=1)
        n = len(self.events) + 1
        self.add(
            "order_packed",
            order_id=order_id,
            packages=[
                {
                    "package_no": 1,
                    "sscc": f"00{n:016d}",
                    "tracking": f"1Z{n:016d}",
                    "carton": "BOX-S",
                    "grams": 500.0,
                }
            ],
            short=[{"line_no": ln, "qty": q} for ln, q in short.items()],
            lines=[{"line_no": ln, "qty": q - short.get(ln, 0)} for ln, q in lines.items()],
        )

    def short(self, order_id: str, line_no: int, sku: str, qty: int, reason: str = "missing"):
        self.add("line_short", order_id=order_id, line_no=line_no, sku=sku, qty=qty, reason=reason)

    def hold(self, order_id: str, reason: str = "short") -> None:
        self.add("order_held", order_id=order_id, reason=reason)

    def void(self, order_id: str, package_no: int = 1) -> None:
        self.add("label_voided", order_id=order_id, package_no=package_no, tracking="x", sscc="y")

    def batches(self, size: int, first: int = 1, last: int | None = None) -> list[list[m.Event]]:
        """Events ``first..last`` in batches of ``size``."""
        chosen = self.events[first - 1 : last]
        return [chosen[i : i + size] for i in range(0, len(chosen), size)]


class FakeStation:
    """One station on the broker. ``received`` keeps every ``(topic leaf, message)`` from
    the hub in arrival order (leaf: "ack", "stream", "to" or "status"); :meth:`wait_for`
    waits on a condition over it."""

    def __init__(self, settings: BrokerSettings, site: str, station: str) -> None:
        self.site = site
        self.station = station
        self.received: list[tuple[str, m.Message]] = []
        self._cond = threading.Condition()
        self.link = MqttLink(
            settings, station, on_message=self._message, on_connect=self._subscribe
        )

    def start(self, timeout: float = 10.0) -> FakeStation:
        """Connect and wait until the hub is online (its retained birth arrives only after
        its subscriptions are live, so what we send next reaches it)."""
        self.link.start()
        if not self.wait_for(lambda: any(x.online for x in self.of(m.HubStatus)), timeout):
            raise TimeoutError(f"{self.station}: no hub online within {timeout} s")
        return self

    def stop(self) -> None:
        self.link.stop()

    def _subscribe(self) -> None:
        self.link.subscribe(topics.station_subscriptions(self.site, self.station))

    def _message(self, topic: str, payload: bytes) -> None:
        with self._cond:
            leaf = topics.parse(topic)[3]
            self.received.append((leaf, m.decode(payload)))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    # -- sending --------------------------------------------------------------------
    def publish(self, leaf: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish raw bytes on this station's ``leaf`` topic (events, status, req) and
        wait until the broker has it."""
        topic = f"{topics.ROOT}/{self.site}/st/{self.station}/{leaf}"
        info = self.link.publish(topic, payload, retain=retain)
        info.wait_for_publish(5)

    def send(self, events: list[m.Event]) -> None:
        self.publish("events", m.encode(m.EventBatch(station=self.station, events=events)))

    def request(self, message: m.Message) -> None:
        self.publish("req", m.encode(message))

    def status(self, online: bool, bd_seq: int) -> None:
        status = m.StationStatus(station=self.station, online=online, bd_seq=bd_seq)
        self.publish("status", m.encode(status), retain=True)

    # -- what came back -----------------------------------------------------------------
    def acks(self) -> list[m.EventAck]:
        return self.of(m.EventAck)

    def wait_ack(self, count: int, timeout: float = 10.0) -> m.EventAck:
        """The ``count``-th ack (1-based); raises TimeoutError."""
        if not self.wait_for(lambda: len(self.acks()) >= count, timeout):
            raise TimeoutError(f"{self.station}: {len(self.acks())} acks, waited for {count}")
        return self.acks()[count - 1]

    def of(self, kind: type, leaf: str | None = None) -> list:
        """Messages of ``kind`` received (on topic ``leaf`` only, when given)."""
        with self._cond:
            return [x for t, x in self.received if isinstance(x, kind) and leaf in (None, t)]

    def changes(self, stream: str, leaf: str) -> list[tuple[int, str]]:
        """``(seq, type)`` of every change of ``stream`` received on ``leaf``."""
        batches = [b for b in self.of(m.StreamBatch, leaf) if b.stream == stream]
        return [(c.seq, c.type) for b in batches for c in b.changes]
