"""TCP sockets (raw port 9100 printers, Ethernet scales)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
import sys
import time

from drivers.errors import DeviceUnreachable
from drivers.transports.base import Transport

# Linux SIOCOUTQ (= TIOCOUTQ): bytes written to a TCP socket that the peer has not
# acknowledged yet. Lets drain() tell "in the printer" from "still in our kernel".
_SIOCOUTQ = 0x5411


class TcpTransport(Transport):
    """A TCP connection to ``host:port``, opened on first use."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.name = f"{host}:{port}"
        self._sock: socket.socket | None = None

    def _open(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), self.timeout)
            except OSError as exc:
                raise DeviceUnreachable(
                    f"Cannot connect to {self.name}: {_reason(exc)}. "
                    "Check the device is on and the network cable is in."
                ) from exc
        return self._sock

    def _lost(self, exc: Exception) -> DeviceUnreachable:
        self.close()
        return DeviceUnreachable(f"Lost the connection to {self.name}: {_reason(exc)}.")

    def open(self) -> None:
        self._open()

    def write(self, data: bytes) -> None:
        sock = self._open()
        try:
            sock.settimeout(self.timeout)
            sock.sendall(data)
        except OSError as exc:
            raise self._lost(exc) from exc

    def read(self, timeout: float) -> bytes:
        sock = self._open()
        try:
            sock.settimeout(max(timeout, 0.001))
            data = sock.recv(4096)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise self._lost(exc) from exc
        if not data:
            raise self._lost(ConnectionResetError("closed by the device"))
        return data

    def reset_input(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.setblocking(False)
            while sock.recv(4096):
                pass
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return
        sock.settimeout(self.timeout)

    def drain(self, timeout: float) -> None:
        if self._sock is None:
            return
        try:
            wait_delivered(self._sock, timeout, self.name)
        except DeviceUnreachable:
            self.close()
            raise

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def wait_delivered(sock: socket.socket, timeout: float, name: str) -> None:
    """Wait until the peer has acknowledged every byte written to ``sock``.

    ``sendall()`` returning only means the bytes are in our kernel; a printer that
    vanished would never get them. Raises DeviceUnreachable after ``timeout`` s. Linux
    only (SIOCOUTQ); elsewhere returns at once. A connection the peer broke is
    DeviceUnreachable caused by the OSError; one that stalled, without a cause.
    """
    if not sys.platform.startswith("linux"):
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            unacked = struct.unpack("i", fcntl.ioctl(sock, _SIOCOUTQ, b"\0\0\0\0"))[0]
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError:
            return
        if error:
            # A reset keeps the unacknowledged bytes counted: without this we would wait
            # the whole timeout for a peer that is gone.
            raise DeviceUnreachable(
                f"{name} broke the connection ({unacked} bytes not delivered)."
            ) from OSError(error, os.strerror(error))
        if unacked == 0:
            return
        if time.monotonic() >= deadline:
            raise DeviceUnreachable(f"{name} stopped taking data ({unacked} bytes not delivered).")
        time.sleep(0.01)  # polling is the only way: the kernel has no "acked" event


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
