"""A CAS scale speaking the ENQ/ACK + DC1 protocol (PD-II, ER and compatibles) over any
transport."""

from __future__ import annotations

import threading
import time

from drivers.base import Scale, Weight
from drivers.errors import BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import cas
from drivers.transports.base import Transport

_UNSTEADY = "Weight not settling: keep the parcel still, out of draughts, and weigh again."


class _NoAnswer(DeviceUnreachable):
    """The port is fine but nothing answered in time (as opposed to a lost port)."""


class CasScale(Scale):
    """CAS ENQ/ACK scale. Each reading is ENQ, ACK, DC1, frame; ``read(stable=True)``
    repeats that every ``poll`` s until the frame says ``S``. ``answer_timeout`` is how
    long each step waits. The protocol has no zero or tare commands.
    """

    def __init__(
        self, transport: Transport, poll: float = 0.1, answer_timeout: float = 0.5
    ) -> None:
        self.transport = transport
        self.poll = poll
        self.answer_timeout = answer_timeout
        self._parser = cas.Parser()
        self._port = threading.Lock()

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading in grams; with ``stable`` wait for an ``S`` frame.

        Raises ScaleError (overload, never steady, not ready), DeviceUnreachable (no
        answer within ``timeout``), BadFrame (only garbage or bad checksums, or a unit
        other than g/kg/lb/oz).
        """
        with self._port:
            deadline = time.monotonic() + timeout
            moving = refused = garbled = False
            while True:
                reading, why = self._once(deadline)
                if reading is not None:
                    weight = self._weight(reading)
                    if weight.stable or not stable:
                        return weight
                    moving = True
                refused = refused or why == "nak"
                garbled = garbled or self._parser.garbage > 0
                if time.monotonic() + (self.poll if why != "silent" else 0) >= deadline:
                    if moving:
                        raise ScaleError(_UNSTEADY, "unstable")
                    if refused:
                        raise ScaleError(
                            "Scale is not ready to send a weight (it answers NAK): "
                            "check its display.",
                            "busy",
                        )
                    if garbled:
                        raise BadFrame(
                            "Scale sends data we cannot read: check it is set to the CAS "
                            "ENQ/ACK protocol and the serial settings match (usually 9600 8N1)."
                        )
                    raise _NoAnswer(
                        f"Scale not answering on {self.transport.name}: check power and cable."
                    )
                if why != "silent":
                    time.sleep(self.poll)

    def close(self) -> None:
        """Release the port. Never raises."""
        self.transport.close()

    # -- plumbing -------------------------------------------------------------------------

    def _once(self, deadline: float) -> tuple[cas.Reading | None, str]:
        """One ENQ/ACK/DC1 exchange: ``(reading, "")`` or ``(None, "nak" | "silent")``."""
        answer = self._ask(cas.ENQ, cas.Ack, deadline)
        if answer is None:
            return None, "silent"
        if not answer.ready:
            return None, "nak"
        reading = self._ask(cas.DC1, cas.Reading, deadline)
        return reading, "" if reading is not None else "silent"

    def _ask(self, command: bytes, kind: type, deadline: float):  # noqa: ANN202
        """Send ``command``; return the first event of ``kind``, None if none came in time.

        Raises DeviceUnreachable if the port is gone.
        """
        self.transport.reset_input()  # a late answer would pass for this one's
        self._parser.clear()
        self.transport.write(command)
        until = min(deadline, time.monotonic() + self.answer_timeout)
        while (left := until - time.monotonic()) > 0:
            for event in self._parser.feed(self.transport.read(left)):
                if isinstance(event, kind):
                    return event
        return None

    @staticmethod
    def _weight(reading: cas.Reading) -> Weight:
        if reading.overload:
            raise ScaleError(
                "Scale overloaded: take the parcel off and weigh it again.", "overload"
            )
        if reading.unit is None:
            raise BadFrame(
                f"Scale sends weights in {reading.unit_text!r}: set its unit to g, kg or lb."
            )
        assert reading.value is not None
        return Weight.of(reading.value, reading.unit, stable=reading.stable)
