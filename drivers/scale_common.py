"""What the serial scale drivers share: the plain words for the packer, "not answering"
as its own error, :class:`CommandScale` (one command and its answer at a time on a
line), and the polled stream of scales that send nothing unasked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from drivers.base import Scale
from drivers.errors import BadFrame, DeviceUnreachable
from drivers.transports.base import Transport

OVERLOAD = "Scale overloaded: take the parcel off and weigh it again."
UNDERLOAD = "Scale reads below zero: check the pan is in place, then zero the scale."
UNSTEADY = "Weight not settling: keep the parcel still, out of draughts, and weigh again."


A = TypeVar("A")


class NoAnswer(DeviceUnreachable):
    """The port is fine but nothing answered in time (as opposed to a lost port)."""


def not_answering(port: str) -> NoAnswer:
    return NoAnswer(f"Scale not answering on {port}: check power and cable.")


def pause_until(when: float, stop: Callable[[], bool]) -> None:
    """Sleep until ``when`` (monotonic), waking early if ``stop()`` turns true."""
    while not stop() and (left := when - time.monotonic()) > 0:
        time.sleep(min(left, 0.02))


def poll_stream(
    ask: Callable[[], tuple[A | None, bool]],
    handle: Callable[[A], None],
    stop: Callable[[], bool],
    *,
    poll: float,
    silence: float,
    no_answer: Callable[[bool], Exception],
) -> None:
    """A stream for a scale with no continuous mode: ``ask()`` (one command and its
    answer, under the port lock; also whether garbage came) every ``poll`` s, paced from
    the start of each ask, ``handle(answer)`` for each answer, until ``stop()``. Silence
    for ``silence`` s raises ``no_answer(garbled)``."""
    last, garbled = time.monotonic(), False
    while not stop():
        asked = time.monotonic()
        answer, noise = ask()
        garbled = garbled or noise
        if answer is None:
            if time.monotonic() - last > silence:
                raise no_answer(garbled)
            continue
        last, garbled = time.monotonic(), False
        handle(answer)
        pause_until(asked + poll, stop)


class CommandScale(Scale):
    """A scale asked one command at a time, each answered by one frame, over any
    transport. Subclasses give ``PARSER``, the protocol's parser class (``feed(bytes) ->
    frames``, ``clear()``, ``garbage``), and ``GARBLED``, what to check when only noise
    comes.
    ``poll``: the pace of repeated asks; ``answer_timeout``: how long one answer may take;
    ``silence``: how long a stream goes on without an answer before giving up."""

    GARBLED = "Scale sends data we cannot read: check its protocol and serial settings."

    PARSER: Any

    def __init__(
        self,
        transport: Transport,
        *,
        poll: float = 0.1,
        answer_timeout: float = 1.0,
        silence: float = 2.0,
    ) -> None:
        self.transport = transport
        self.poll = poll
        self.answer_timeout = answer_timeout
        self.silence = silence
        self._parser = self.PARSER()
        self._port = threading.Lock()  # held for one exchange (or a whole read)

    def close(self) -> None:
        """Release the port. Never raises."""
        self.transport.close()

    def _exchange(self, command: bytes, timeout: float, accept: Callable[[Any], bool]) -> Any:
        """Send ``command``; return the first frame ``accept`` takes, None if none came
        within ``timeout`` (``self._parser.garbage`` tells whether noise came instead).
        Raises DeviceUnreachable if the port is gone."""
        self.transport.reset_input()  # a late answer would pass for this one's
        self._parser.clear()
        self.transport.write(command)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for frame in self._parser.feed(self.transport.read(left)):
                if accept(frame):
                    return frame
        return None

    def _no_answer(self, garbled: bool) -> DeviceUnreachable | BadFrame:
        return BadFrame(self.GARBLED) if garbled else not_answering(self.transport.name)
