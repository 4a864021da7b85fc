"""A broker per test (free port, own working directory): Mosquitto when it is installed,
else the embedded amqtt broker (``DOMS_BROKER=embedded`` forces it). When the embedded one
is used, one line at the end of the run says so; tests of Mosquitto's own configuration
skip themselves with that line as the reason.

``mqtt_peer`` makes plain paho clients that record CONNACK, SUBACK and messages, for tests
that need to see exactly what a broker says (a refusal, a silent drop)."""

from __future__ import annotations

import queue
import ssl

import paho.mqtt.client as mqtt
import pytest

from sync.broker.runner import Broker, embedded_note


@pytest.fixture
def broker(tmp_path):
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


def pytest_terminal_summary(terminalreporter):
    note = embedded_note()
    if note:
        terminalreporter.write_line(note, yellow=True, bold=True)


class Peer:
    """One MQTT 3.1.1 connection on paho's background thread."""

    def __init__(
        self,
        port: int,
        username: str | None = None,
        password: str | None = None,
        *,
        client_id: str | None = None,
        host: str = "127.0.0.1",
        tls_ca: str | None = None,
        clean_session: bool = True,
        will: tuple[str, bytes] | None = None,
        keepalive: int = 10,
    ) -> None:
        self.connacks: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.client = c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or username or "",
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        c.reconnect_delay_set(5, 5)  # one answer per test: no quick retries
        if username:
            c.username_pw_set(username, password)
        if tls_ca:
            c.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda cl, ud, mid, rcs, props: self.subacks.put(rcs)
        c.on_message = lambda cl, ud, m: self.messages.put((m.topic, m.payload, m.qos, m.retain))
        c.connect(host, port, keepalive=keepalive)
        c.loop_start()

    def _on_connect(self, client, userdata, flags, rc, properties) -> None:
        self.connacks.put(rc)
        if rc.is_failure:
            client.disconnect()  # refused: no retries, so close() is quick

    def connack(self, timeout: float = 5.0) -> mqtt.ReasonCode:
        """The broker's answer to CONNECT."""
        return self.connacks.get(timeout=timeout)

    def connected(self, timeout: float = 5.0) -> bool:
        return not self.connack(timeout).is_failure

    def subscribe(self, *topics: str) -> list:
        """Subscribe at QoS 1 and wait for the SUBACK; returns its reason codes."""
        self.client.subscribe([(t, 1) for t in topics])
        return self.subacks.get(timeout=5)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def received(self, timeout: float) -> list[tuple[str, bytes, int, bool]]:
        """Every message that arrives within ``timeout`` seconds."""
        out = []
        try:
            out.append(self.messages.get(timeout=timeout))
            while True:
                out.append(self.messages.get(timeout=0.2))
        except queue.Empty:
            return out

    def wait_for(self, topic: str, timeout: float = 5.0) -> list[tuple[str, bytes, int, bool]]:
        """Messages received until one on ``topic`` arrives (that one last); [] on timeout."""
        seen = []
        try:
            while True:
                seen.append(self.messages.get(timeout=timeout))
                if seen[-1][0] == topic:
                    return seen
        except queue.Empty:
            return []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_peer():
    """``mqtt_peer(port, username, password, **options)`` -> a connected ``Peer``,
    disconnected after the test."""
    made: list[Peer] = []

    def make(*args, **kwargs) -> Peer:
        made.append(Peer(*args, **kwargs))
        return made[-1]

    yield make
    for peer in made:
        peer.close()
