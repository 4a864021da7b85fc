"""A Mettler Toledo 8213/8217-protocol scale (Ariva, Viva, DIVA, BenchPro) over any transport."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import Unit, Weight
from drivers.errors import ScaleError
from drivers.protocols import toledo
from drivers.scale_common import (
    OVERLOAD,
    UNDERLOAD,
    UNSTEADY,
    CommandScale,
    NoAnswer,
    poll_stream,
)
from drivers.transports.base import Transport


class ToledoScale(CommandScale):
    """8217 scale. The protocol has no unit in its frames: ``unit`` is what the scale is set
    to (its setup menu), and must match or every weight is wrong by that factor.

    ``W`` never returns a weight while the pan moves (only a status byte), so a reading is
    always stable; ``read`` polls every ``poll`` s until one comes or ``timeout`` passes.
    ``answer_timeout`` is how long one command waits for its answer (DIVA: immediate, or
    within 150 ms for ``T``/``C``). ``silence`` is how long :meth:`stream` goes on without
    an answer before giving up.
    """

    GARBLED = (
        "Scale sends data we cannot read: check it is set to the Toledo 8217 "
        "protocol and the serial settings match (usually 9600 baud, 7E1)."
    )

    CAN_TARE = True
    CAN_ZERO = True
    # stream() is a real one (W polled on the open port, one answer per reading), not the
    # base class's loop of read(): that would raise "not settling" while a parcel moves.
    CAN_STREAM = True
    PARSER = toledo.Parser

    def __init__(
        self,
        transport: Transport,
        unit: Unit | str = Unit.KG,
        poll: float = 0.1,
        answer_timeout: float = 1.0,
        silence: float = 2.0,
    ) -> None:
        super().__init__(transport, poll=poll, answer_timeout=answer_timeout, silence=silence)
        self.unit = Unit(unit)

    # -- the Scale interface -------------------------------------------------------------

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading in grams (always stable: the protocol has no other kind).

        Raises ScaleError (overload, below zero, never steady within ``timeout``),
        DeviceUnreachable (no answer), BadFrame (only garbage arrived).
        """
        with self._port:
            return self._read(timeout)

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Ask ``W`` every ``poll`` s on the open port and call ``on_reading`` for each
        weight until ``stop()`` is true.

        While the pan moves the scale sends a status byte, no weight, so every reading is
        stable and motion shows as a pause, not an error. The port lock is taken per ask:
        :meth:`zero` or :meth:`tare` from another thread run between two readings. Raises
        ScaleError (overload, below zero), DeviceUnreachable (port gone, or no answer for
        ``silence`` s), BadFrame (only garbage for ``silence`` s).
        """

        def ask() -> tuple[toledo.Frame | None, bool]:
            with self._port:
                return self._ask(toledo.WEIGHT, self.answer_timeout), self._parser.garbage > 0

        def handle(frame: toledo.Frame) -> None:
            if isinstance(frame, toledo.WeightFrame):
                on_reading(self._weight(frame))
            elif not (frame.has(toledo.MOTION) and frame.has(toledo.UNDER_ZERO)):
                self._raise_for_range(frame)  # below zero while moving: the pan settling

        poll_stream(ask, handle, stop, poll=self.poll, silence=self.silence,
                    no_answer=self._no_answer)  # fmt: skip

    def zero(self, timeout: float = 5.0) -> None:
        """Zero the scale (``Z``). Raises ScaleError (moving, outside the zero range,
        overload), DeviceUnreachable."""
        with self._port:
            status = self._status(toledo.ZERO, timeout)
            self._raise_for_range(status)
            if status.has(toledo.CENTER_OF_ZERO):
                return
            if status.has(toledo.MOTION):
                raise ScaleError(
                    "Scale could not zero now: keep the pan still and zero again.", "busy"
                )
            if status.has(toledo.OUTSIDE_ZERO_CAPTURE):
                raise ScaleError(
                    "Too much on the scale to zero it: clear the pan and zero again.",
                    "overload",
                )
            # The zero is captured on the next A/D reading (DIVA manual): check it took.
            if self._read(timeout).grams != 0:
                raise ScaleError(
                    "Scale did not zero: clear the pan, clear any tare, and zero again.",
                    "refused",
                )

    def tare(self, timeout: float = 5.0) -> Weight:
        """Tare with what is on the pan (``T``); return the tare weight.

        The 8217 answers a tare with a status byte only, so the weight returned is the
        stable reading taken just before. Raises ScaleError, DeviceUnreachable.
        """
        with self._port:
            before = self._read(timeout)
            try:
                status = self._status(toledo.TARE, timeout)
            except NoAnswer:
                # DIVA: with tare disabled in calibration mode the scale does not answer.
                raise ScaleError(
                    "Scale did not answer the tare: tare may be switched off in its setup.",
                    "refused",
                ) from None
            self._raise_for_range(status)
            if status.has(toledo.MOTION):
                raise ScaleError(
                    "Scale could not tare now: keep the pan still and tare again.", "busy"
                )
            if not status.has(toledo.NET):
                raise ScaleError(
                    "Scale did not tare: it must be at zero before the box goes on; "
                    "take it off, zero, put it back and tare again.",
                    "refused",
                )
            return before

    def clear_tare(self, timeout: float = 5.0) -> None:
        """Clear the tare (``C``; ignored by the scale while the pan moves).

        Raises ScaleError (still net), DeviceUnreachable.
        """
        with self._port:
            status = self._status(toledo.CLEAR_TARE, timeout)
            if status.has(toledo.NET):
                raise ScaleError(
                    "Scale kept the tare: keep the pan still and clear it again.", "busy"
                )

    # -- plumbing -------------------------------------------------------------------------

    def _read(self, timeout: float) -> Weight:
        deadline = time.monotonic() + timeout
        moving = garbled = False
        while True:
            left = deadline - time.monotonic()
            frame = self._ask(toledo.WEIGHT, min(self.answer_timeout, max(left, 0.05)))
            if frame is None:
                garbled = garbled or self._parser.garbage > 0
                if time.monotonic() < deadline:
                    continue  # the command or its answer was lost in noise: ask again
                if moving:
                    raise ScaleError(UNSTEADY, "unstable")
                raise self._no_answer(garbled)
            if isinstance(frame, toledo.WeightFrame):
                return self._weight(frame)
            assert isinstance(frame, toledo.StatusFrame)
            # Below zero while moving is a parcel being lifted off: wait for it to settle.
            if not (frame.has(toledo.MOTION) and frame.has(toledo.UNDER_ZERO)):
                self._raise_for_range(frame)
            moving = True  # motion, or a status without a weight: ask again
            if time.monotonic() + self.poll >= deadline:
                if frame.has(toledo.MOTION):
                    raise ScaleError(UNSTEADY, "unstable")
                raise ScaleError(
                    f"Scale sends no weight ({frame.describe()}): check its display.", "refused"
                )
            time.sleep(self.poll)

    def _weight(self, frame: toledo.WeightFrame) -> Weight:
        return Weight.of(frame.value, self.unit, stable=True)

    @staticmethod
    def _raise_for_range(status: toledo.StatusFrame) -> None:
        if status.has(toledo.OVER_CAPACITY):
            raise ScaleError(OVERLOAD, "overload")
        if status.has(toledo.UNDER_ZERO):
            raise ScaleError(UNDERLOAD, "underload")

    def _status(self, command: bytes, timeout: float) -> toledo.StatusFrame:
        frame = self._ask(command, min(timeout, self.answer_timeout), status_only=True)
        if frame is None:
            raise self._no_answer(self._parser.garbage > 0)
        assert isinstance(frame, toledo.StatusFrame)
        return frame

    def _ask(
        self, command: bytes, timeout: float, status_only: bool = False
    ) -> toledo.Frame | None:
        """Send ``command``; return the first frame that can answer it, None if none did
        within ``timeout`` (``self._parser.garbage`` tells whether noise came instead).

        Raises DeviceUnreachable if the port is gone.
        """
        return self._exchange(
            command,
            timeout,
            lambda f: (
                isinstance(f, toledo.StatusFrame)
                or (isinstance(f, toledo.WeightFrame) and not status_only)
            ),
        )
