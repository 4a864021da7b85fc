"""Transports on their own: serial over a pty, TCP against a local socket."""

from __future__ import annotations

import socket
import threading

import pytest

from drivers.emulators.pty_port import PtyPort
from drivers.errors import BadDeviceURL, DeviceUnreachable
from drivers.transports.serial_port import SerialTransport
from drivers.transports.tcp import TcpTransport


@pytest.fixture
def pty():
    port = PtyPort()
    yield port
    port.close()


def test_serial_round_trip(pty):
    t = SerialTransport(pty.path)
    t.write(b"S\r\n")
    assert pty.read(5) == b"S\r\n"
    pty.write(b"S S 1 g\r\n")
    assert t.read(5) == b"S S 1 g\r\n"
    assert t.read(0.05) == b""  # timeout: nothing more
    t.close()


def test_serial_reset_input_drops_stale_bytes(pty):
    t = SerialTransport(pty.path)
    t.read(0.01)
    pty.write(b"stale\r\n")
    t.reset_input()
    pty.write(b"fresh\r\n")
    data = b""
    while not data.endswith(b"\n"):
        data += t.read(5)
    assert data == b"fresh\r\n"
    t.close()


def test_serial_missing_port():
    with pytest.raises(DeviceUnreachable, match="Cannot open serial port /dev/nonexistent"):
        SerialTransport("/dev/nonexistent").read(0.1)


def test_serial_unplug_then_error(pty):
    t = SerialTransport(pty.path)
    t.read(0.01)
    pty.unplug()
    with pytest.raises(DeviceUnreachable):
        t.read(1)


def test_serial_rejects_bad_settings():
    with pytest.raises(BadDeviceURL):
        SerialTransport("/dev/x", parity="Q")


def test_tcp_round_trip_and_reconnect():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        t = TcpTransport("127.0.0.1", port, timeout=2)

        def echo_once():
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())

        for _ in range(2):  # second round: the peer closed, the transport reconnects
            thread = threading.Thread(target=echo_once)
            thread.start()
            t.write(b"hello")
            assert t.read(5) == b"HELLO"
            t.drain(2)
            thread.join(5)
            with pytest.raises(DeviceUnreachable, match="Lost the connection"):
                t.read(5)
        t.close()


def test_tcp_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        t = TcpTransport("127.0.0.1", s.getsockname()[1], timeout=1)
        with pytest.raises(DeviceUnreachable, match="connection refused"):
            t.write(b"x")
