"""The embedded amqtt broker, forced with DOMS_BROKER=embedded so it is tested on machines
that have Mosquitto too: the MQTT features our protocol needs, kill and restart, and the
fallback itself (which broker, and the one line that says so)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sync.broker import runner
from sync.broker.runner import Broker, broker_kind, embedded_note

ROOT = Path(__file__).resolve().parents[2]
STATUS, EVENTS = "doms/v1/S/st/P1/status", "doms/v1/S/st/P1/events"


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMS_BROKER", "embedded")
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


def test_env_forces_the_embedded_broker(monkeypatch):
    monkeypatch.setenv("DOMS_BROKER", "embedded")
    assert broker_kind() == "embedded"
    assert embedded_note() == (
        "DOMS_BROKER=embedded: broker tests run against the embedded amqtt broker; "
        "Mosquitto ACL/TLS/password tests skipped"
    )


def test_falls_back_when_mosquitto_is_not_installed(monkeypatch):
    monkeypatch.delenv("DOMS_BROKER", raising=False)
    monkeypatch.setattr(runner, "mosquitto_path", lambda: None)
    assert broker_kind() == "embedded"
    assert embedded_note().startswith("mosquitto not found: broker tests run against the embedded")


def test_unknown_choice_and_mosquitto_config_are_refused(monkeypatch):
    monkeypatch.setenv("DOMS_BROKER", "hivemq")
    with pytest.raises(ValueError, match="DOMS_BROKER"):
        broker_kind()
    with pytest.raises(ValueError, match="needs mosquitto"):
        Broker(conf="listener 1883\n", kind="embedded")


def test_qos1_retained_and_will(embedded, mqtt_peer):
    assert embedded.kind == "embedded"
    station = mqtt_peer(embedded.port, client_id="P1", will=(STATUS, b"offline"))
    assert station.connected()
    station.publish(STATUS, b"booting", retain=True)
    station.publish(STATUS, b"online", retain=True)  # replaces the retained one
    hub = mqtt_peer(embedded.port, client_id="hub")
    assert hub.connected()
    hub.subscribe("doms/v1/S/st/+/#")
    assert hub.wait_for(STATUS) == [(STATUS, b"online", 1, True)]
    station.publish(EVENTS, b"batch 1")
    assert hub.wait_for(EVENTS) == [(EVENTS, b"batch 1", 1, False)]

    station.client.socket().shutdown(socket.SHUT_RDWR)  # dies without DISCONNECT
    assert hub.wait_for(STATUS) == [(STATUS, b"offline", 1, False)]
    lead = mqtt_peer(embedded.port, client_id="lead")
    assert lead.connected()
    lead.subscribe(STATUS)
    assert lead.received(0.5) == [(STATUS, b"offline", 1, True)]  # the Will was retained


def test_will_when_a_client_stops_answering(embedded, mqtt_peer):
    hub = mqtt_peer(embedded.port, client_id="hub")
    healthy = mqtt_peer(embedded.port, client_id="P2", keepalive=1)  # pings every second
    assert hub.connected() and healthy.connected()
    hub.subscribe(STATUS)

    def field(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    flags = 0x02 | 0x04 | 0x08 | 0x20  # clean session, Will, Will QoS 1, Will retained
    body = field(b"MQTT") + bytes([4, flags]) + (1).to_bytes(2, "big")  # keep-alive 1 s
    body += field(b"P1") + field(STATUS.encode()) + field(b"gone")
    with socket.create_connection(("127.0.0.1", embedded.port)) as silent:
        silent.sendall(bytes([0x10, len(body)]) + body)
        assert silent.recv(4) == b"\x20\x02\x00\x00"  # CONNACK, accepted
        # ... and then never a PINGREQ: the broker must give up on it and send the Will.
        assert hub.wait_for(STATUS, timeout=5) == [(STATUS, b"gone", 1, False)]
    assert healthy.client.is_connected() and healthy.connacks.empty()  # never dropped


def test_sigkill_and_restart_on_the_same_port(embedded, mqtt_peer):
    embedded.kill()
    assert not embedded.alive
    embedded.start()
    peer = mqtt_peer(embedded.port, client_id="after")
    assert peer.connected()


def test_persistent_session_gets_what_was_queued_while_offline(embedded, mqtt_peer):
    # A bonus, not a guarantee (see sync/broker/embedded.py): amqtt replays the queue
    # with the RETAIN flag set.
    first = mqtt_peer(embedded.port, client_id="P1", clean_session=False)
    assert first.connected()
    first.subscribe("doms/v1/S/hub/ack/P1")
    first.close()
    hub = mqtt_peer(embedded.port, client_id="hub")
    assert hub.connected()
    hub.publish("doms/v1/S/hub/ack/P1", b"ack 7")
    again = mqtt_peer(embedded.port, client_id="P1", clean_session=False)
    assert again.connected()
    assert [m[:3] for m in again.received(2.0)] == [("doms/v1/S/hub/ack/P1", b"ack 7", 1)]


def test_sync_suite_falls_back_and_says_so_once():
    env = {**os.environ, "DOMS_BROKER": "embedded"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs"]
        + ["tests/sync/test_mqtt_link.py", "tests/sync/test_broker_security.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    note = (
        "DOMS_BROKER=embedded: broker tests run against the embedded amqtt broker; "
        "Mosquitto ACL/TLS/password tests skipped"
    )
    assert done.stdout.splitlines().count(note) == 1  # the one line of its own
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    # The whole Mosquitto module skipped once (one line), and MQTT 5 session expiry,
    # which needs a broker that keeps offline queues.
    assert sum("test_broker_security.py" in line for line in skips) == 1, skips
    assert sum("test_mqtt_link.py" in line for line in skips) == 1, skips
    assert "2 passed, 2 skipped" in done.stdout
