"""An Avery Weigh-Tronix / NCI SCP-01 scale (NCI standard, 3825, Brecknell, 78xx) over any
transport."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import Weight
from drivers.errors import BadFrame, ScaleError
from drivers.protocols import nci
from drivers.scale_common import (
    OVERLOAD,
    UNDERLOAD,
    UNSTEADY,
    CommandScale,
    poll_stream,
)


class NciScale(CommandScale):
    """SCP-01 scale. ``W`` answers at once, stable or not (the motion bit says which), so
    ``read(stable=True)`` polls every ``poll`` s until the motion bit clears.

    ``answer_timeout`` is how long one command waits (SCP-01: "one second should be more
    than adequate"). The protocol has no tare command: ``CAN_TARE`` is False.
    ``silence`` is how long :meth:`stream` goes on without an answer before giving up.
    """

    GARBLED = (
        "Scale sends data we cannot read: check it is set to the NCI protocol "
        "and the serial settings match (usually 9600 baud, 7E1)."
    )

    CAN_ZERO = True
    CAN_STREAM = True
    PARSER = nci.Parser

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading in grams; with ``stable`` wait for the motion bit to clear.

        Raises ScaleError (overload, underload, scale error, never steady), DeviceUnreachable
        (no answer within ``timeout``), BadFrame (garbage, or a unit other than g/kg/lb/oz).
        """
        with self._port:
            deadline = time.monotonic() + timeout
            moving = garbled = False
            while True:
                left = deadline - time.monotonic()
                reply = self._ask(nci.WEIGHT, min(self.answer_timeout, max(left, 0.05)))
                if reply is None:
                    garbled = garbled or self._parser.garbage > 0
                    if time.monotonic() < deadline:
                        continue  # lost in noise: ask again
                    if moving:
                        raise ScaleError(UNSTEADY, "unstable")
                    raise self._no_answer(garbled)
                weight = None if self._settling_below_zero(reply) else self._weight(reply)
                if weight is not None and (weight.stable or not stable):
                    return weight
                moving = True  # in motion, or status only (DIVA: while moving): again
                if time.monotonic() + self.poll >= deadline:
                    if reply.status is not None and not reply.status.motion:
                        raise ScaleError(
                            f"Scale sends no weight ({reply.status.describe()}): "
                            "check its display.",
                            "refused",
                        )
                    raise ScaleError(UNSTEADY, "unstable")
                time.sleep(self.poll)

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every reading, moving or not, until ``stop()`` is true.

        SCP-01 has no continuous mode (its commands are W, S, Z, H, U and M), so this asks
        ``W`` every ``poll`` s on the open port: one command and one answer per reading,
        paced from the start of each ask, none of :meth:`read`'s waiting for stability.
        The port lock is taken per ask, so :meth:`zero` from another thread runs between
        two readings. An answer without a weight (status only, as some models send while
        moving) is skipped. Raises ScaleError (overload, underload, scale fault),
        DeviceUnreachable (port gone, or no answer for ``silence`` s), BadFrame (only
        garbage for ``silence`` s).
        """

        def ask() -> tuple[nci.Reply | None, bool]:
            with self._port:
                return self._ask(nci.WEIGHT, self.answer_timeout), self._parser.garbage > 0

        def handle(reply: nci.Reply) -> None:
            weight = None if self._settling_below_zero(reply) else self._weight(reply)
            if weight is not None:
                on_reading(weight)

        poll_stream(ask, handle, stop, poll=self.poll, silence=self.silence,
                    no_answer=self._no_answer)  # fmt: skip

    def zero(self, timeout: float = 5.0) -> None:
        """Zero the scale (``Z``; ignored by the scale when moving or outside its zero range).

        Raises ScaleError (moving, too much on the pan, scale error), DeviceUnreachable.
        """
        with self._port:
            reply = self._ask(nci.ZERO, min(timeout, self.answer_timeout))
            if reply is None:
                raise self._no_answer(self._parser.garbage > 0)
            status = self._check(reply)
            if status.at_zero:
                return
            if status.motion:
                raise ScaleError(
                    "Scale could not zero now: keep the pan still and zero again.", "busy"
                )
            raise ScaleError(
                "Too much on the scale to zero it: clear the pan and zero again.", "overload"
            )

    def status(self, timeout: float = 1.0) -> nci.Status:
        """The scale's status bytes (``S``). Raises as :meth:`zero`."""
        with self._port:
            reply = self._ask(nci.STATUS, timeout)
            if reply is None:
                raise self._no_answer(self._parser.garbage > 0)
            return self._check(reply)

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _settling_below_zero(reply: nci.Reply) -> bool:
        # Below zero while moving is a parcel being lifted off: wait for it to settle.
        status = reply.status
        under = status is not None and (status.under_capacity or reply.out_of_range == "under")
        return bool(under and status.motion)

    def _weight(self, reply: nci.Reply) -> Weight | None:
        """The reading in ``reply``, None if it has none (moving, negative); or raise."""
        self._check(reply)
        if reply.kind != "weight" or reply.status is None:
            return None
        if reply.unit is None:
            raise BadFrame(
                f"Scale sends weights in {reply.unit_text!r}: set its unit to g, kg, lb or oz."
            )
        assert reply.value is not None
        return Weight.of(reply.value, reply.unit, stable=not reply.status.motion)

    @staticmethod
    def _check(reply: nci.Reply) -> nci.Status:
        """Raise ScaleError for what the answer reports; return its status bytes."""
        if reply.kind == "unknown":
            raise ScaleError(
                "Scale did not understand the command: set its interface to NCI / SCP-01.",
                "refused",
            )
        status = reply.status
        assert status is not None
        if status.over_capacity or reply.out_of_range == "over":
            raise ScaleError(OVERLOAD, "overload")
        if status.under_capacity or reply.out_of_range == "under":
            raise ScaleError(UNDERLOAD, "underload")
        if status.hardware_error:
            raise ScaleError(
                f"Scale reports a fault ({status.describe()}): switch it off and on; "
                "if it stays, call for service.",
                "refused",
            )
        if status.initial_zero_error or reply.out_of_range == "zero_error":
            raise ScaleError(
                "Scale could not find zero: clear the pan and switch the scale off and on.",
                "refused",
            )
        return status

    def _ask(self, command: bytes, timeout: float) -> nci.Reply | None:
        """Send ``command``; return its answer, None if none came within ``timeout``.

        Raises DeviceUnreachable if the port is gone.
        """
        return self._exchange(command, timeout, lambda reply: reply.kind != "units")
