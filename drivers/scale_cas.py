"""A CAS scale speaking the ENQ/ACK + DC1 protocol (PD-II, ER and compatibles) over any
transport."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import Weight
from drivers.errors import BadFrame, ScaleError
from drivers.protocols import cas, cas_stream
from drivers.scale_common import OVERLOAD, UNSTEADY, CommandScale, pause_until

_NOT_READY = "Scale is not ready to send a weight (it answers NAK): check its display."


class CasScale(CommandScale):
    """CAS ENQ/ACK scale. Each reading is ENQ, ACK, DC1, frame; ``read(stable=True)``
    repeats that every ``poll`` s until the frame says ``S``. ``answer_timeout`` is how
    long each step waits; ``silence`` how long :meth:`stream` goes on without a reading
    before giving up. The protocol has no zero or tare commands.
    """

    GARBLED = (
        "Scale sends data we cannot read: check it is set to the CAS ENQ/ACK protocol and the "
        "serial settings match (usually 9600 8N1)."
    )

    CAN_STREAM = True
    PARSER = cas.Parser

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
                        raise ScaleError(UNSTEADY, "unstable")
                    if refused:
                        raise ScaleError(_NOT_READY, "busy")
                    raise self._no_answer(garbled)
                if why != "silent":
                    time.sleep(self.poll)

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every reading, stable or not, until ``stop()`` is true.

        The ENQ/ACK protocol sends nothing unasked (the continuous "stream mode" of some
        CAS indicators is another frame format, the 22-byte ``ST,GS,...`` one, not
        spoken here), so this runs one ENQ/ACK/DC1 exchange every ``poll`` s on the open
        port, paced from the start of each, without :meth:`read`'s waiting for ``S``.
        Raises ScaleError (overload; NAK for ``silence`` s is ``busy``), DeviceUnreachable
        (port gone, or no answer for ``silence`` s), BadFrame (only garbage or bad
        checksums for ``silence`` s, or a unit other than g/kg/lb/oz).
        """
        last_reading = time.monotonic()
        refused = garbled = False
        while not stop():
            asked = time.monotonic()
            with self._port:
                reading, why = self._once(asked + 2 * self.answer_timeout)
                garbled = garbled or self._parser.garbage > 0
            if reading is not None:
                last_reading, refused, garbled = time.monotonic(), False, False
                on_reading(self._weight(reading))
            else:
                refused = refused or why == "nak"
                if time.monotonic() - last_reading > self.silence:
                    if refused:
                        raise ScaleError(_NOT_READY, "busy")
                    raise self._no_answer(garbled)
                if why == "silent":
                    continue  # it already waited for the answer: ask again at once
            pause_until(asked + self.poll, stop)

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
        timeout = min(deadline - time.monotonic(), self.answer_timeout)
        return self._exchange(command, timeout, lambda event: isinstance(event, kind))

    @staticmethod
    def _weight(reading: cas.Reading) -> Weight:
        return cas_weight(reading)


def cas_weight(reading: cas.Reading | cas_stream.Reading) -> Weight:
    """A CAS frame (either format) as a Weight; raises ScaleError on overload, BadFrame
    for a unit other than g/kg/lb/oz."""
    if reading.overload:
        raise ScaleError(OVERLOAD, "overload")
    if reading.unit is None:
        raise BadFrame(
            f"Scale sends weights in {reading.unit_text!r}: set its unit to g, kg or lb."
        )
    assert reading.value is not None
    return Weight.of(reading.value, reading.unit, stable=reading.stable)
