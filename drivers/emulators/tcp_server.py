"""A small threaded TCP server on 127.0.0.1 for device emulators (raw port 9100 style)."""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from typing import Self

from drivers.emulators.threaded import Threaded


class Hangup(Exception):  # noqa: N818 - an instruction to the server, not an error
    """Raised by ``on_data``: drop this client at once with a TCP reset, as a device that
    loses power or crashes in the middle of a job does."""


class TcpDeviceServer(Threaded):
    """Accepts connections and hands received bytes to :meth:`on_data`.

    Subclasses implement ``on_data(conn_id, data) -> bytes`` (the reply, may be empty)
    and ``on_close(conn_id)``; both run on the server thread, one at a time. ``on_data``
    may raise :class:`Hangup`, or answer later with :meth:`reply_later` (a slow device).
    :meth:`go_offline` stops listening and drops clients; :meth:`come_back` listens
    again on the same port, as a printer does after a power cycle.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._sel: selectors.DefaultSelector | None = None
        self._listener: socket.socket | None = None
        self._clients: dict[socket.socket, int] = {}
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._online = threading.Event()
        self._offline = threading.Event()
        self._want_online = True
        self._changed = threading.Event()
        self.connections = 0  # how many clients have connected so far
        self._later: list[tuple[float, int, bytes]] = []  # (due, conn_id, data)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is None:
            self._sel = selectors.DefaultSelector()
            self._listen()
            self._running.set()
            self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        self._changed.set()  # wakes the loop at once
        super().stop()

    def go_offline(self, timeout: float = 5.0) -> None:
        """Stop listening and drop every client; returns once connects are refused."""
        self._want_online = False
        self._changed.set()
        if not self._offline.wait(timeout):
            raise TimeoutError("emulator did not go offline")

    def come_back(self, timeout: float = 5.0) -> None:
        """Listen again on the same port; returns once connects are accepted."""
        self._want_online = True
        self._changed.set()
        if not self._online.wait(timeout):
            raise TimeoutError("emulator did not come back")

    # -- subclass hooks -----------------------------------------------------------------

    def reply_later(self, conn_id: int, data: bytes, delay: float) -> None:
        """Send ``data`` to ``conn_id`` after ``delay`` s (call from ``on_data``); dropped
        if the client has gone by then."""
        self._later.append((time.monotonic() + delay, conn_id, data))

    def on_data(self, conn_id: int, data: bytes) -> bytes:
        raise NotImplementedError

    def on_close(self, conn_id: int) -> None:
        """A client went away (or was dropped)."""

    # -- the loop -----------------------------------------------------------------------

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Same port after go_offline(): allow rebinding while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(8)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        assert self._sel is not None
        self._sel.register(sock, selectors.EVENT_READ)
        self._offline.clear()
        self._online.set()

    def _unlisten(self) -> None:
        assert self._sel is not None
        for client in list(self._clients):
            self._drop(client)
        if self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
        self._online.clear()
        self._offline.set()

    def _drop(self, client: socket.socket, reset: bool = False) -> None:
        assert self._sel is not None
        conn_id = self._clients.pop(client)
        self._sel.unregister(client)
        if reset:  # linger 0: close sends RST, and unread bytes are thrown away
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        self.on_close(conn_id)

    def _run(self) -> None:
        assert self._sel is not None
        try:
            while self._running.is_set():
                if self._changed.is_set():
                    self._changed.clear()
                    if self._want_online and self._listener is None:
                        self._listen()
                    elif not self._want_online and self._listener is not None:
                        self._unlisten()
                for key, _ in self._sel.select(timeout=0.02):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    else:
                        self._receive(sock)
                if self._later:
                    self._send_due()
        finally:
            self._unlisten()
            self._sel.close()

    def _accept(self) -> None:
        assert self._listener is not None and self._sel is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        client.setblocking(True)
        client.settimeout(2.0)
        self._next_id += 1
        self.connections += 1
        self._clients[client] = self._next_id
        self._sel.register(client, selectors.EVENT_READ)

    def _send_due(self) -> None:
        now = time.monotonic()
        due = [item for item in self._later if item[0] <= now]
        self._later = [item for item in self._later if item[0] > now]
        by_id = {conn_id: sock for sock, conn_id in self._clients.items()}
        for _, conn_id, data in due:
            client = by_id.get(conn_id)
            if client is None:
                continue
            try:
                client.sendall(data)
            except OSError:
                self._drop(client)
                by_id.pop(conn_id)

    def _receive(self, client: socket.socket) -> None:
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        try:
            reply = self.on_data(self._clients[client], data)
        except Hangup:
            self._drop(client, reset=True)
            return
        if reply:
            try:
                client.sendall(reply)
            except OSError:
                self._drop(client)
