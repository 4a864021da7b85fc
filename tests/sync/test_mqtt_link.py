import threading
import time

from sync.mqtt import BrokerSettings, MqttLink


def publish_until(pub, topic, payload, arrived, timeout=10.0) -> bool:
    # A subscription is live only once the broker has processed it; until then a message
    # is dropped, so keep publishing until one gets through.
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pub.connected.is_set():
            pub.publish(topic, payload)
        if arrived.wait(0.2):
            return True
    return False


def test_link_reconnects_after_broker_restart_and_delivers(broker):
    got: list[tuple[str, bytes]] = []
    arrived = threading.Event()
    connects = []

    def on_message(topic, payload):
        got.append((topic, payload))
        arrived.set()

    settings = BrokerSettings(port=broker.port, backoff_min=0.05, backoff_max=0.5)
    sub = MqttLink(
        settings,
        "sub",
        on_message=on_message,
        on_connect=lambda: (connects.append(1), sub.subscribe(["t/#"])),
    )
    pub = MqttLink(settings, "pub", on_message=lambda t, p: None)
    sub.start(), pub.start()
    try:
        assert sub.wait_connected(5) and pub.wait_connected(5)
        assert publish_until(pub, "t/1", b"one", arrived)
        broker.kill()
        broker.start()
        arrived.clear()
        assert publish_until(pub, "t/2", b"two", arrived, timeout=15)
    finally:
        sub.stop(), pub.stop()
    assert ("t/1", b"one") in got and ("t/2", b"two") in got
    assert len(connects) >= 2  # on_connect ran again after the restart


def test_mqtt5_where_the_broker_has_it_with_session_and_message_expiry(broker):
    """Mosquitto speaks 5: the link uses it, and each non-retained message carries the
    Message Expiry Interval (seen by a plain MQTT 5 subscriber). The embedded broker
    (amqtt) speaks 3.1.1 only: the link falls back and works all the same."""
    import paho.mqtt.client as mqtt

    settings = BrokerSettings(
        port=broker.port, backoff_min=0.05, backoff_max=0.5, message_expiry_s=120
    )
    seen: list[mqtt.MQTTMessage] = []
    arrived = threading.Event()
    protocol = mqtt.MQTTv5 if broker.kind == "mosquitto" else mqtt.MQTTv311
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="w", protocol=protocol)
    watcher.on_connect = lambda c, *a: c.subscribe("t/#", qos=1)
    watcher.on_message = lambda c, u, m: (seen.append(m), arrived.set())
    watcher.connect("127.0.0.1", broker.port)
    watcher.loop_start()
    link = MqttLink(settings, "pub5", on_message=lambda t, p: None).start()
    try:
        assert link.wait_connected(10)
        assert publish_until(link, "t/live", b"x", arrived)
    finally:
        link.stop()
        watcher.disconnect()
        watcher.loop_stop()
    if broker.kind == "mosquitto":
        assert link.protocol == "5"
        # The broker counts down what is left of the interval: at most 120 s.
        assert 100 <= seen[0].properties.MessageExpiryInterval <= 120
    else:
        assert link.protocol == "3.1.1"


def test_mqtt5_session_expires_and_a_311_link_is_forced(broker):
    """Under 5 a persistent session lives ``session_expiry_s`` after the client left: a
    message published while it is away is delivered on return within that time, and not
    after it. ``protocol="3.1.1"`` never tries 5."""
    import pytest

    if broker.kind != "mosquitto":
        pytest.skip("the embedded broker keeps no offline queue (sync/broker/embedded.py)")
    forced = MqttLink(
        BrokerSettings(port=broker.port, protocol="3.1.1"), "old", on_message=lambda t, p: None
    ).start()
    try:
        assert forced.wait_connected(5) and forced.protocol == "3.1.1"
    finally:
        forced.stop()

    def away_then_back(client_id: str, expiry: int, away_s: float) -> list[bytes]:
        got: list[bytes] = []
        came = threading.Event()
        settings = BrokerSettings(
            port=broker.port, backoff_min=0.05, backoff_max=0.5, session_expiry_s=expiry
        )

        def make() -> MqttLink:
            link = MqttLink(
                settings,
                client_id,
                on_message=lambda t, p: (got.append(p), came.set()),
                on_connect=lambda: link.subscribe([f"s/{client_id}"]),
            )
            return link.start()

        sub = make()
        pub = MqttLink(settings, f"{client_id}-pub", on_message=lambda t, p: None).start()
        try:
            assert sub.wait_connected(5) and pub.wait_connected(5)
            assert publish_until(pub, f"s/{client_id}", b"first", came)
            sub.stop()
            pub.publish(f"s/{client_id}", b"while away").wait_for_publish(5)
            time.sleep(away_s)
            came.clear()
            sub = make()
            came.wait(1.5)
            return got
        finally:
            sub.stop()
            pub.stop()

    assert b"while away" in away_then_back("keeps", expiry=60, away_s=0.1)
    assert b"while away" not in away_then_back("expires", expiry=1, away_s=2.2)
