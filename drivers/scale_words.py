"""What every serial scale driver says and does the same way: the plain words for the
packer, "not answering" as its own error, and a stoppable pause between polls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from drivers.errors import DeviceUnreachable

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
