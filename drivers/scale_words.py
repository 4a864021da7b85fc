"""What every serial scale driver says and does the same way: the plain words for the
packer, "not answering" as its own error, and a stoppable pause between polls."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.errors import DeviceUnreachable

OVERLOAD = "Scale overloaded: take the parcel off and weigh it again."
UNDERLOAD = "Scale reads below zero: check the pan is in place, then zero the scale."
UNSTEADY = "Weight not settling: keep the parcel still, out of draughts, and weigh again."


class NoAnswer(DeviceUnreachable):
    """The port is fine but nothing answered in time (as opposed to a lost port)."""


def not_answering(port: str) -> NoAnswer:
    return NoAnswer(f"Scale not answering on {port}: check power and cable.")


def pause_until(when: float, stop: Callable[[], bool]) -> None:
    """Sleep until ``when`` (monotonic), waking early if ``stop()`` turns true."""
    while not stop() and (left := when - time.monotonic()) > 0:
        time.sleep(min(left, 0.02))
