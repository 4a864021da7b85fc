"""An in-memory transport for byte-exact tests: records writes, replays scripted reads."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable

from drivers.errors import DeviceUnreachable
from drivers.transports.base import Transport

Responder = Callable[[bytes], Iterable[bytes]]


class MemoryTransport(Transport):
    """Bytes written go to :attr:`written`; each chunk fed is returned by one :meth:`read`.

    Chunks are kept apart on purpose, so a test can split a frame across reads exactly.
    ``responder(data)`` (optional) returns the chunks the device "answers" to each write.
    """

    def __init__(self, responder: Responder | None = None, name: str = "memory") -> None:
        self.name = name
        self.responder = responder
        self.written = bytearray()
        self.writes: list[bytes] = []
        self.closed = False
        self.unplugged = False
        self._chunks: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()

    @classmethod
    def replying(cls, script: dict[bytes, list[bytes] | bytes]) -> MemoryTransport:
        """A transport answering each exact command in ``script`` with its chunks."""

        def respond(data: bytes) -> list[bytes]:
            answer = script.get(data, [])
            return [answer] if isinstance(answer, bytes) else list(answer)

        return cls(responder=respond)

    def feed(self, *chunks: bytes) -> None:
        """Queue chunks for later reads (one chunk per read)."""
        with self._cond:
            self._chunks.extend(c for c in chunks if c)
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        """Chunks fed but not read yet."""
        with self._cond:
            return len(self._chunks)

    def unplug(self) -> None:
        """Make every later read and write raise DeviceUnreachable."""
        with self._cond:
            self.unplugged = True
            self._cond.notify_all()

    def open(self) -> None:
        if self.unplugged:
            raise DeviceUnreachable(f"Cannot reach {self.name}.")
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.unplugged:
            raise DeviceUnreachable(f"Lost {self.name}.")
        self.closed = False
        self.written += data
        self.writes.append(bytes(data))
        if self.responder is not None:
            self.feed(*self.responder(bytes(data)))

    def read(self, timeout: float) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._chunks or self.unplugged, timeout)
            if self.unplugged:
                raise DeviceUnreachable(f"Lost {self.name}.")
            return self._chunks.popleft() if self._chunks else b""

    def reset_input(self) -> None:
        with self._cond:
            self._chunks.clear()

    def close(self) -> None:
        self.closed = True
