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
