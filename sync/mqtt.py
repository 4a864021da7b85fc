"""One MQTT connection that keeps itself up: the only module that touches paho-mqtt.

``MqttLink`` runs paho's network loop on its own thread, reconnects with full-jitter
exponential backoff (so a hundred stations coming back after a broker restart spread
out instead of arriving in the same second), sets a fresh Will before every connect, and
reports every message and connection change through plain callbacks. MQTT 3.1.1 only;
QoS 1 and a persistent session (clean_session=False) so short outages lose nothing that
the broker still holds - but correctness never depends on that (see PROTOCOL.md).
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None  # CA file: TLS on when set
    keepalive: int = 10  # seconds; a dead station shows within ~1.5x this
    backoff_min: float = 0.5
    backoff_max: float = 30.0


class MqttLink:
    """A self-reconnecting MQTT client.

    ``on_connect()`` runs on the loop thread after each (re)connect, before anything else
    is received: subscribe and publish the birth there. ``will()`` is asked for the Will
    (topic, payload) before each connect attempt. ``on_message(topic, payload)`` runs on
    the loop thread; it must not block for long.
    """

    def __init__(
        self,
        settings: BrokerSettings,
        client_id: str,
        *,
        on_message: Callable[[str, bytes], None],
        on_connect: Callable[[], None] = lambda: None,
        on_disconnect: Callable[[str], None] = lambda reason: None,
        will: Callable[[], tuple[str, bytes]] | None = None,
        clean_session: bool = False,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._will = will
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(0)
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls_ca:
            self._client.tls_set(ca_certs=settings.tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message
        self._client.on_socket_open = _no_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.last_error: str | None = None
        self._rng = random.Random()

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> MqttLink:
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-{self.client_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the Will is not sent) and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # -- sending ------------------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        """Queue a message; paho sends it on the loop thread. Fails fast when offline
        (``info.rc != 0``): our outbox, not paho's memory, is what keeps messages."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        if topics:
            self._client.subscribe([(t, qos) for t in topics])

    # -- the loop -----------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if not self._connect():
                failures += 1
                self._stop.wait(self._backoff(failures))
                continue
            failures = 0
            while not self._stop.is_set():
                rc = self._client.loop(timeout=0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
            if self._stop.is_set():
                break
            failures += 1
            self._stop.wait(self._backoff(failures))
        try:
            self._client.disconnect()
            self._client.loop(timeout=0.2)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.connected.clear()

    def _backoff(self, failures: int) -> float:
        # Full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
        cap = min(self.settings.backoff_max, self.settings.backoff_min * 2 ** min(failures, 16))
        return self._rng.uniform(self.settings.backoff_min / 2, cap)

    def _connect(self) -> bool:
        if self._will is not None:
            topic, payload = self._will()
            self._client.will_set(topic, payload, qos=1, retain=True)
        try:
            self._client.connect(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive
            )
        except (OSError, ssl.SSLError) as exc:
            self._note(f"cannot reach broker {self.settings.host}:{self.settings.port}: {exc}")
            return False
        return True

    def _note(self, reason: str) -> None:
        if reason != self.last_error:
            log.warning("%s: %s", self.client_id, reason)
        self.last_error = reason

    # -- paho callbacks (loop thread) ---------------------------------------------------
    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note(f"broker refused connection: {reason_code}")
            client.disconnect()
            return
        self.last_error = None
        self.connected.set()
        try:
            self._on_connect()
        except Exception:
            log.exception("on_connect handler failed")

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            self._note(f"disconnected: {reason_code}")
            self._on_disconnect(str(reason_code))

    def _message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(message.topic, message.payload)
        except Exception:
            # A handler bug must never kill the network loop; the receiver quarantines
            # what it cannot handle, this is the last line.
            log.exception("handler failed for message on %s", message.topic)


def _no_delay(client, userdata, sock) -> None:
    """TCP_NODELAY on the connection. Without it Nagle's algorithm holds a small packet
    back while our previous one (often a PUBACK) is unacknowledged, and the broker delays
    that ACK by up to 40 ms: an event's batch and its ack each waited ~40 ms."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
