"""What every emulator that serves from a thread of its own shares: stop() and the context
manager. Each emulator's ``start()`` opens its port or socket, sets ``_running`` and starts
``_thread`` (running while ``_running`` is set)."""

from __future__ import annotations

import threading
from typing import Self


class Threaded:
    _running: threading.Event
    _thread: threading.Thread | None

    def start(self) -> Self:  # pragma: no cover - every emulator has its own
        raise NotImplementedError

    def stop(self) -> None:
        """End the serving thread (it sees ``_running`` cleared within its poll)."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
