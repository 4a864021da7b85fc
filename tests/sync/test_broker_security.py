"""The site broker as ``doms broker setup`` writes it, run by the real Mosquitto: users,
ACL and TLS (ARCHITECTURE.md, security: "a station cannot speak for another").

Mosquitto 2 drops a publish the ACL denies without telling the client (the PUBACK still
comes), so every "never arrives" below has a positive control in the same test: a
permitted message sent after the forbidden one arrives, and since one client's messages
reach a subscriber in order, the forbidden one would have arrived first.
"""

from __future__ import annotations

import queue
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sync import topics
from sync.broker.runner import (
    Broker,
    broker_kind,
    embedded_note,
    free_port,
    mosquitto_path,
    wait_port,
)
from sync.mqtt import BrokerSettings, MqttLink

if broker_kind() != "mosquitto":
    pytest.skip(embedded_note(), allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SITE, A, B, HUB, BOARD = "WH1", "WH1-PACK-01", "WH1-PACK-02", "hub-WH1", "board-WH1"
SETTLE = 0.3  # after the positive control, how long a forbidden message gets to show up


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "doms", "broker", "setup", "--site", SITE, "--stations", "2"]
        + ["--out", str(out), "--host", "broker.wh1.test"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def site_broker(site, tmp_path_factory):
    with Broker.from_setup(site, workdir=tmp_path_factory.mktemp("run")) as b:
        yield b


def password(site: Path, user: str) -> str:
    return (site / "credentials" / f"{user}.password").read_text()


@pytest.fixture
def login(site, site_broker, mqtt_peer):
    """``login(user)``: a connected Peer on the plaintext loopback listener."""

    def make(user: str, **kwargs):
        peer = mqtt_peer(site_broker.port, user, password(site, user), **kwargs)
        assert peer.connected(), f"{user} could not log in"
        return peer

    return make


def test_setup_output_runs_under_mosquitto_as_written(mqtt_peer):
    # The folder exactly as `doms broker setup` leaves it, run by `mosquitto -c`: started
    # by root, Mosquitto becomes the user "mosquitto", so the folder must be reachable
    # (pytest's own tmp folders are not) and the files it reads handed to that user.
    folder = Path(tempfile.mkdtemp(prefix="doms-site-"))
    folder.chmod(0o755)
    port, tls_port = free_port(), free_port()
    proc = None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "doms", "broker", "setup", "--site", SITE, "--stations"]
            + ["1", "--out", str(folder), "--port", str(port), "--tls-port", str(tls_port)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        proc = subprocess.Popen(
            [mosquitto_path(), "-c", str(folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert wait_port("127.0.0.1", port) and wait_port("127.0.0.1", tls_port), (
            proc.kill() or proc.communicate()[1].decode()
        )
        hub = mqtt_peer(port, HUB, password(folder, HUB))
        station = mqtt_peer(
            tls_port, A, password(folder, A), host="localhost", tls_ca=str(folder / "tls/ca.crt")
        )
        assert hub.connected() and station.connected()
        hub.subscribe(topics.station_events(SITE, A))
        station.publish(topics.station_events(SITE, A), b"hello")
        assert hub.wait_for(topics.station_events(SITE, A))[-1][1] == b"hello"
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


def test_site_broker_runs_on_free_ports(site_broker):
    assert site_broker.alive and site_broker.ports.keys() == {1883, 8883}
    assert site_broker.tls_port == site_broker.ports[8883] != site_broker.port


def test_station_cannot_publish_as_another_station(login):
    hub, a = login(HUB), login(A)
    hub.subscribe(f"doms/v1/{SITE}/st/+/#")
    a.publish(topics.station_events(SITE, B), b"forged")
    a.publish(topics.station_status(SITE, B), b"forged", retain=True)
    a.publish(topics.station_events(SITE, A), b"genuine")  # the positive control
    seen = hub.wait_for(topics.station_events(SITE, A))
    assert seen == [(topics.station_events(SITE, A), b"genuine", 1, False)]
    assert hub.received(SETTLE) == []


def test_station_cannot_speak_for_the_hub(login):
    b = login(B)
    b.subscribe(topics.hub_acks(SITE, B), topics.station_stream(SITE, B))
    a, hub = login(A), login(HUB)
    a.publish(topics.hub_acks(SITE, B), b"forged ack")
    a.publish(topics.station_stream(SITE, B), b"forged assignment")
    a.publish(topics.site_stream(SITE), b"forged stream")
    hub.publish(topics.hub_acks(SITE, B), b"real ack")  # control
    assert [m[1] for m in b.wait_for(topics.hub_acks(SITE, B))] == [b"real ack"]
    assert b.received(SETTLE) == []


def test_station_cannot_read_another_stations_acks_or_assignments(login):
    a, b = login(A), login(B)
    a.subscribe(
        topics.hub_acks(SITE, B),
        topics.station_stream(SITE, B),
        f"doms/v1/{SITE}/hub/#",
        f"doms/v1/{SITE}/st/+/#",
    )
    b.subscribe(topics.hub_acks(SITE, B), topics.station_stream(SITE, B))
    hub = login(HUB)
    hub.publish(topics.hub_acks(SITE, B), b"ack for B")
    hub.publish(topics.station_stream(SITE, B), b"orders for B")
    b.publish(topics.station_events(SITE, B), b"B's events")
    hub.publish(topics.hub_acks(SITE, A), b"ack for A")  # control for A
    assert [m[1] for m in a.wait_for(topics.hub_acks(SITE, A))] == [b"ack for A"]
    assert a.received(SETTLE) == []
    assert [m[1] for m in b.received(SETTLE)] == [b"ack for B", b"orders for B"]  # controls


def test_station_reads_the_hub_stream_and_status(login):
    a = login(A)
    a.subscribe(*topics.station_subscriptions(SITE, A))
    hub, b = login(HUB), login(B)
    hub_topics = [t for t in topics.station_subscriptions(SITE, A) if "+" not in t]
    for topic in hub_topics:
        hub.publish(topic, b"x")
    b.publish(topics.station_status(SITE, B), b"B's status")  # the site board's read
    got = {m[0] for m in a.received(2.0)}
    assert got == {*hub_topics, topics.station_status(SITE, B)}


def test_station_reads_every_status_of_its_site_retained_and_live(login):
    b = login(B)
    b.publish(topics.station_status(SITE, B), b"B retained", retain=True)
    a = login(A)
    a.subscribe(topics.site_statuses(SITE))
    assert a.wait_for(topics.station_status(SITE, B)) == [
        (topics.station_status(SITE, B), b"B retained", 1, True)
    ]
    b.publish(topics.station_status(SITE, B), b"B live", retain=True)
    assert [m[1] for m in a.wait_for(topics.station_status(SITE, B))] == [b"B live"]
    b.publish(topics.station_status(SITE, B), b"", retain=True)  # clears the retained one


def test_board_user_reads_statuses_and_nothing_else_and_writes_nothing(login):
    board, hub, b = login(BOARD), login(HUB), login(B)
    board.subscribe(f"doms/v1/{SITE}/#")
    b.publish(topics.station_events(SITE, B), b"B's events")
    hub.publish(topics.station_stream(SITE, B), b"orders for B")
    hub.publish(topics.site_stream(SITE), b"site stream")
    hub.publish(topics.hub_status(SITE), b"hub status")  # control: the board reads it
    b.publish(topics.station_status(SITE, B), b"B status")  # control
    seen = board.wait_for(topics.station_status(SITE, B))
    assert [m[1] for m in seen] == [b"hub status", b"B status"]
    assert board.received(SETTLE) == []
    hub.subscribe(f"doms/v1/{SITE}/st/+/#")
    board.publish(topics.station_status(SITE, A), b"forged by the board", retain=True)
    board.publish(topics.station_events(SITE, A), b"forged by the board")
    b.publish(topics.station_events(SITE, B), b"control")
    assert [m[1] for m in hub.wait_for(topics.station_events(SITE, B))] == [b"control"]
    assert hub.received(SETTLE) == []


def test_wrong_password_is_refused(site_broker, mqtt_peer):
    peer = mqtt_peer(site_broker.port, A, "not-the-password")
    assert str(peer.connack()) == "Not authorized"


def test_unknown_user_is_refused(site_broker, mqtt_peer):
    peer = mqtt_peer(site_broker.port, "WH1-PACK-99", "whatever")
    assert str(peer.connack()) == "Not authorized"


def test_anonymous_is_refused(site_broker, mqtt_peer):
    peer = mqtt_peer(site_broker.port, client_id="anon")
    assert str(peer.connack()) == "Not authorized"


def test_a_station_cannot_take_over_another_stations_session(site, site_broker, login):
    b = login(B)
    b.subscribe(topics.hub_acks(SITE, B))
    impostor = login(A, client_id=B)  # the client id is forced to the username: A
    hub = login(HUB)
    hub.publish(topics.hub_acks(SITE, B), b"still B's")
    assert [m[1] for m in b.wait_for(topics.hub_acks(SITE, B))] == [b"still B's"]
    assert impostor.received(SETTLE) == []


def link(site, port, user, tls_ca, got, host="localhost") -> MqttLink:
    settings = BrokerSettings(
        host=host,
        port=port,
        username=user,
        password=password(site, user),
        tls_ca=str(tls_ca),
        backoff_min=0.05,
        backoff_max=0.2,
    )

    def on_message(topic, payload):
        got.append((topic, payload))

    return MqttLink(settings, user, on_message=on_message).start()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tls_with_the_site_ca_connects_and_delivers(site, site_broker, login, host):
    hub = login(HUB)
    hub.subscribe(topics.station_events(SITE, A))
    got: list = []
    station = link(site, site_broker.tls_port, A, site / "tls" / "ca.crt", got, host)
    try:
        assert station.wait_connected(5), station.last_error
        station.publish(topics.station_events(SITE, A), b"over tls")
        assert hub.wait_for(topics.station_events(SITE, A))[-1][1] == b"over tls"
    finally:
        station.stop()


def test_tls_without_the_site_ca_fails(site, site_broker, tmp_path):
    # The machine's own CAs do not vouch for the site broker...
    ctx = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", site_broker.tls_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname="localhost")
    # ... nor does another site's CA: MqttLink keeps failing and says why.
    other = tmp_path / "other"
    from sync.broker.setup import setup_site

    setup_site(other, "WH2", 1, host="localhost")
    got: list = []
    station = link(site, site_broker.tls_port, A, other / "tls" / "ca.crt", got)
    try:
        assert not station.wait_connected(0.5)
        assert "CERTIFICATE_VERIFY_FAILED" in (station.last_error or "")
    finally:
        station.stop()


def test_plaintext_client_on_the_tls_port_gets_nothing(site, site_broker, mqtt_peer):
    peer = mqtt_peer(site_broker.tls_port, A, password(site, A))
    with pytest.raises(queue.Empty):
        peer.connack(timeout=1.0)


def test_a_station_uploads_photos_only_under_its_own_name(login):
    # Photo chunks ride on st/<station>/photo: the hub reads them, a station cannot
    # forge another's, and the PhotoAck comes back on the station's own ack topic.
    hub, a = login(HUB), login(A)
    hub.subscribe(*topics.hub_subscriptions(SITE))
    a.subscribe(topics.hub_acks(SITE, A))
    a.publish(topics.station_photos(SITE, B), b"forged chunk")
    a.publish(topics.station_photos(SITE, A), b"chunk")  # the positive control
    assert hub.wait_for(topics.station_photos(SITE, A)) == [
        (topics.station_photos(SITE, A), b"chunk", 1, False)
    ]
    assert hub.received(SETTLE) == []
    hub.publish(topics.hub_acks(SITE, A), b"photo ack")
    assert [m[1] for m in a.wait_for(topics.hub_acks(SITE, A))] == [b"photo ack"]
