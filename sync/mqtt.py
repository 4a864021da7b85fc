"""One MQTT connection that keeps itself up: the only module that touches paho-mqtt.

``MqttLink`` runs paho's network loop on its own thread, reconnects with full-jitter
exponential backoff (so a hundred stations coming back after a broker restart spread
out instead of arriving in the same second), sets a fresh Will before every connect, and
reports every message and connection change through plain callbacks. QoS 1 and a
persistent session so short outages lose nothing that the broker still holds - but
correctness never depends on that (see PROTOCOL.md).

MQTT 5 where the broker has it, 3.1.1 otherwise (``protocol="auto"``): the first connect
offers 5; a broker that refuses the protocol version (or drops the connection before any
CONNACK) gets 3.1.1 from then on. MQTT 5 adds only what saves a broker memory: a session
that expires ``session_expiry_s`` after its client left (3.1.1 sessions live until the
broker's own ``persistent_client_expiration``), and a Message Expiry Interval on every
non-retained message, since every protocol message is re-sent or caught up from marks.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

# Some 3.1.1-only brokers (amqtt) neither refuse nor answer an MQTT 5 CONNECT: an "auto"
# link that has never connected at 5 stops waiting for the CONNACK after this long.
MQTT5_TRIAL_S = 2.0
# Brokers found to speak 3.1.1 only, by (host, port): later links in this process start
# at 3.1.1 instead of paying the trial again.
_V311_ONLY: set[tuple[str, int]] = set()


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
    protocol: str = "auto"  # "auto" (5, else 3.1.1), "5" or "3.1.1"
    session_expiry_s: int = 7 * 86400  # MQTT 5: the broker drops a session gone this long
    message_expiry_s: int = 3600  # MQTT 5: on every non-retained message

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"MQTT protocol {self.protocol!r}: use one of {', '.join(PROTOCOLS)}")


PROTOCOLS = ("auto", "5", "3.1.1")


class MqttLink:
    """A self-reconnecting MQTT client.

    ``on_connect()`` runs on the loop thread after each (re)connect, before anything else
    is received: subscribe and publish the birth there. ``will()`` is asked for the Will
    (topic, payload) before each connect attempt. ``on_message(topic, payload)`` runs on
    the loop thread; it must not block for long, nor must ``on_published()``, called when
    the broker has confirmed one of our messages (a sender that keeps a window of
    unconfirmed messages sends the next one then).
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
        on_published: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._will = will
        self._on_published = on_published
        self._clean = clean_session
        # "auto" tries 5 until a broker shows it only speaks 3.1.1.
        self.mqtt5 = settings.protocol == "5" or (
            settings.protocol == "auto" and (settings.host, settings.port) not in _V311_ONLY
        )
        self._acked_once = False  # a connect succeeded at this protocol version
        self._connack = False  # this attempt got a CONNACK
        self._refused_version = False
        self._client = self._new_client()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.last_error: str | None = None
        self._rng = random.Random()

    def _new_client(self) -> mqtt.Client:
        if self.mqtt5:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
            )
        else:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                clean_session=self._clean,
                protocol=mqtt.MQTTv311,
            )
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self.settings.tls_ca:
            client.tls_set(ca_certs=self.settings.tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        if self._on_published is not None:
            client.on_publish = self._published
        client.on_socket_open = _no_delay
        return client

    @property
    def protocol(self) -> str:
        """The protocol version in use (or being tried): "5" or "3.1.1"."""
        return "5" if self.mqtt5 else "3.1.1"

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
        (``info.rc != 0``): our outbox, not paho's memory, is what keeps messages.
        Under MQTT 5 a non-retained message expires after ``message_expiry_s``."""
        props = None
        if self.mqtt5 and not retain and self.settings.message_expiry_s:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = self.settings.message_expiry_s
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)

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
            trial_ends = time.monotonic() + MQTT5_TRIAL_S if self._on_trial() else None
            while not self._stop.is_set():
                rc = self._client.loop(timeout=0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if trial_ends and not self._connack and time.monotonic() > trial_ends:
                    self._note("no answer to an MQTT 5 CONNECT")
                    self._client.disconnect()
                    break
            if self._stop.is_set():
                break
            self._maybe_fall_back()
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

    def _on_trial(self) -> bool:
        return self.mqtt5 and self.settings.protocol == "auto" and not self._acked_once

    def _maybe_fall_back(self) -> None:
        """Under "auto", a broker that refused MQTT 5, or hung up before any CONNACK ever
        came at 5, speaks 3.1.1 only: use that from now on (a new paho client, since the
        version is fixed when one is made)."""
        if not self._on_trial():
            return
        if self._connack and not self._refused_version:
            return  # refused for another reason (credentials): not the version's fault
        log.info("%s: the broker does not take MQTT 5; using 3.1.1", self.client_id)
        _V311_ONLY.add((self.settings.host, self.settings.port))
        self.mqtt5 = False
        self._client = self._new_client()

    def _connect(self) -> bool:
        if self._will is not None:
            topic, payload = self._will()
            self._client.will_set(topic, payload, qos=1, retain=True)
        self._connack = self._refused_version = False
        kwargs: dict = {}
        if self.mqtt5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 0 if self._clean else self.settings.session_expiry_s
            kwargs = {"clean_start": self._clean, "properties": props}
        try:
            self._client.connect(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive, **kwargs
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
        self._connack = True
        if reason_code.is_failure:
            self._note(f"broker refused connection: {reason_code}")
            self._refused_version = reason_code == "Unsupported protocol version"
            client.disconnect()
            return
        self._acked_once = True
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

    def _published(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            self._on_published()
        except Exception:
            log.exception("on_published handler failed")


def _no_delay(client, userdata, sock) -> None:
    """TCP_NODELAY on the connection. Without it Nagle's algorithm holds a small packet
    back while our previous one (often a PUBACK) is unacknowledged, and the broker delays
    that ACK by up to 40 ms: an event's batch and its ack each waited ~40 ms."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
