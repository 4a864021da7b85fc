"""A Mettler Toledo scale speaking MT-SICS over any transport (serial, TCP, memory)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from drivers.base import Scale, Weight
from drivers.errors import BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import mt_sics
from drivers.scale_common import NoAnswer
from drivers.transports.base import Transport

T = TypeVar("T")


class MtSicsScale(Scale):
    """MT-SICS scale. Every method is blocking: call it from a thread worker.

    One conversation at a time on the port: while :meth:`stream` runs in one thread,
    :meth:`read`, :meth:`zero` and :meth:`tare` called from other threads are carried out
    by the streaming thread between readings (the stream pauses with ``SI`` and resumes
    with ``SIR``), so a tare button works while the live weight is shown.

    The first command after the port was opened, and the first after an error or a
    timeout, is preceded by ``@`` (:meth:`reset`): a scale left streaming by a program that
    crashed, or still busy with a command we gave up on, is brought to a known state
    before we believe anything it sends.

    ``probe_timeout`` is how long we wait for the quick ``SI`` that tells a scale that is
    alive but never settles (vibration, a swinging parcel) from one that does not answer,
    and for the answer to that ``@``.
    ``silence`` is how long a stream may go quiet before the scale counts as gone.
    """

    CAN_TARE = True
    CAN_ZERO = True
    CAN_STREAM = True
    CAN_RESET = True

    def __init__(
        self, transport: Transport, probe_timeout: float = 1.0, silence: float = 2.0
    ) -> None:
        self.transport = transport
        self.probe_timeout = probe_timeout
        self.silence = silence
        self._replies = mt_sics.Replies()
        # Until the scale has answered @ we do not know what it is doing (see the class doc).
        self._needs_reset = True
        self._port = threading.Lock()  # held for a whole command, or by the stream
        self._state = threading.Lock()  # guards _streamer and hand-over of requests
        self._streamer: threading.Thread | None = None
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()

    # -- the Scale interface -------------------------------------------------------------

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading in grams.

        ``stable=True`` sends ``S`` (the scale answers once the weight is steady) and
        re-asks when the scale gives up (``S I``) until ``timeout``; ``stable=False`` sends
        ``SI``. Raises ScaleError (overload, underload, never steady, refused),
        DeviceUnreachable (no answer within ``timeout``), BadFrame (only garbage arrived).
        """
        return self._exclusive(lambda: self._read(stable, timeout))

    def reset(self, timeout: float = 2.0) -> str:
        """Cancel whatever the scale is doing (``@``: a command waiting for stability, an
        ``SIR`` stream) and return its serial number (the ``I4`` answer to ``@``).

        Raises DeviceUnreachable (no answer), ScaleError (refused), BadFrame (garbage).
        """
        reply = self._exclusive(lambda: self._reset(timeout), reset_first=False)
        mt_sics.raise_for(reply)
        return reply.text

    def identify(self, timeout: float = 2.0) -> mt_sics.ScaleInfo:
        """Ask the scale what it is: ``I0`` (commands it implements, a multi-line reply),
        then those of ``I2`` (type and capacity), ``I3`` (software), ``I4`` (serial
        number) it lists. A question it does not answer (``ES``, ``I``) leaves its field "".

        Raises DeviceUnreachable (no answer), BadFrame (garbage).
        """
        return self._exclusive(lambda: self._identify(timeout))

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every reading (about 10 a second) until ``stop()``.

        Uses ``SIR`` and ends it with ``SI`` (not ``@``: on some models ``@`` also clears
        the tare). Raises as :meth:`read`; DeviceUnreachable after ``silence`` s of quiet.
        """
        with self._state:
            if self._streamer is not None:
                raise RuntimeError("this scale is already streaming")
            self._streamer = threading.current_thread()
        try:
            with self._port:
                self._fresh(lambda: self._stream(on_reading, stop))
        finally:
            with self._state:
                self._streamer = None
            self._serve_requests()  # any that came in as the stream ended

    def zero(self, timeout: float = 10.0) -> None:
        """Zero the scale (``Z``; it waits for a steady pan).

        Raises ScaleError (too heavy, below range, not steady), DeviceUnreachable.
        """
        self._exclusive(lambda: mt_sics.raise_for(self._ask(mt_sics.ZERO, timeout)))

    def tare(self, timeout: float = 10.0) -> Weight:
        """Tare with what is on the pan (``T``); return the tare weight. Raises as zero()."""
        reply = self._exclusive(lambda: mt_sics.raise_for(self._ask(mt_sics.TARE, timeout)))
        if reply.weight is None:
            raise BadFrame("Scale answered the tare without a weight.")
        return reply.weight

    def close(self) -> None:
        """Release the port. Never raises."""
        self.transport.close()

    # -- sharing the port with a stream ---------------------------------------------------

    def _exclusive(self, command: Callable[[], T], reset_first: bool = True) -> T:
        """Run ``command`` alone on the port: directly, or by the streaming thread."""
        with self._state:
            streamer = self._streamer
            if streamer is None or streamer is threading.current_thread():
                handed_over = None
            else:
                # The stream is running: the scale is in a known state already.
                handed_over = Future()
                self._requests.put((lambda: self._guard(command), handed_over))
        if handed_over is None:
            with self._port:
                return self._fresh(command) if reset_first else self._guard(command)
        return handed_over.result()  # the command has its own timeout

    def _fresh(self, command: Callable[[], T]) -> T:
        """Run ``command`` on a scale in a known state: ``@`` first if it may not be."""

        def reset_then_run() -> T:
            if self._needs_reset:
                self._reset(self.probe_timeout)
            return command()

        return self._guard(reset_then_run)

    def _guard(self, command: Callable[[], T]) -> T:
        try:
            return command()
        except (DeviceUnreachable, BadFrame):
            # The port was lost (the transport reopens it) or the scale went quiet or
            # garbled mid-command: whatever it is doing now, we did not ask for it.
            self._needs_reset = True
            raise

    def _reset(self, timeout: float) -> mt_sics.Reply:
        reply = self._ask(mt_sics.RESET, timeout)
        # A scale that answers @ at all (even ES) has dropped what it was doing.
        self._needs_reset = False
        self._replies.clear()
        return reply

    def _identify(self, timeout: float) -> mt_sics.ScaleInfo:
        listed = self._info(mt_sics.COMMAND_LIST, timeout)
        commands = mt_sics.command_list(listed) if listed else ()

        def text(command: str) -> str:
            if commands and command not in commands:
                return ""
            reply = self._info(command, timeout)
            return reply.text if reply else ""

        model, capacity = mt_sics.model_and_capacity(text(mt_sics.MODEL))
        return mt_sics.ScaleInfo(
            model=model,
            capacity=capacity,
            software=text(mt_sics.SOFTWARE),
            serial=text(mt_sics.SERIAL),
            commands=commands,
        )

    def _info(self, command: str, timeout: float) -> mt_sics.Reply | None:
        reply = self._ask(command, timeout)
        return reply if reply.status == "A" else None

    def _serve_requests(self, streaming: bool = False) -> bool:
        """Run commands other threads handed over; return True if there were any."""
        if self._requests.empty():
            return False
        if streaming:
            self._stop_stream()
        while not self._requests.empty():
            command, result = self._requests.get_nowait()
            try:
                if streaming:
                    result.set_result(command())
                else:
                    with self._port:
                        result.set_result(command())
            except BaseException as exc:  # handed back to the caller, raised there
                result.set_exception(exc)
        if streaming:
            self._send(mt_sics.SEND_REPEAT)
        return True

    def _stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        self._send(mt_sics.SEND_REPEAT)
        last = time.monotonic()
        try:
            while not stop():
                if self._serve_requests(streaming=True):
                    last = time.monotonic()
                data = self.transport.read(0.1)
                if data:
                    last = time.monotonic()
                elif time.monotonic() - last > self.silence:
                    raise DeviceUnreachable(self._silent())
                for reply in self._replies.feed(data):
                    if reply.ident in ("S", "ES", "ET", "EL"):
                        on_reading(self._weight(reply))
        finally:
            self._stop_stream()

    def _read(self, stable: bool, timeout: float) -> Weight:
        if not stable:
            return self._weight(self._ask(mt_sics.SEND_IMMEDIATE, timeout))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                reply = self._ask(mt_sics.SEND_STABLE, remaining, stable_only=True)
            except NoAnswer:
                return self._probe_after_silence(timeout)
            left = deadline - time.monotonic()
            if reply.ident == "S" and reply.status == "I" and left > 0:
                # The scale's own stability timeout is shorter than ours: ask again, not
                # in a tight loop in case it answers S I at once (busy with a command).
                time.sleep(min(0.1, left))
                continue
            return self._weight(reply)

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, command: str) -> None:
        # Drop stale answers (a stream we stopped, a late reply) before asking anew.
        self.transport.reset_input()
        self._replies.clear()
        self.transport.write(mt_sics.encode(command))

    def _ask(self, command: str, timeout: float, stable_only: bool = False) -> mt_sics.Reply:
        """Send ``command``; return the first reply that answers it.

        Lines that are not replies to it (noise, a stray stream line) are skipped. Raises
        DeviceUnreachable if nothing answers within ``timeout``, BadFrame if only garbage did.
        """
        self._send(command)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # The scale may still be working on it: reset before the next command.
                self._needs_reset = True
                if self._replies.garbage:
                    raise BadFrame(
                        "Scale sends data we cannot read: check it is set to MT-SICS "
                        "and the baud rate matches."
                    )
                raise NoAnswer(self._silent())
            for reply in self._replies.feed(self.transport.read(remaining)):
                if reply.is_error or self._answers(command, reply, stable_only):
                    return reply

    @staticmethod
    def _answers(command: str, reply: mt_sics.Reply, stable_only: bool) -> bool:
        # S never answers "S D"; such a line is left over from a stream, not our answer.
        return reply.ident == mt_sics.REPLY_ID[command] and not (
            stable_only and reply.status == "D"
        )

    def _probe_after_silence(self, timeout: float) -> Weight:
        """``S`` got no answer: ask ``SI`` to tell "never steady" from "not there"."""
        reply = self._ask(mt_sics.SEND_IMMEDIATE, min(self.probe_timeout, timeout))
        # It answered our latest command, so it is listening: no @ before the next one.
        # A vibrating bench would otherwise cost the packer the tare on models where @
        # clears it.
        self._needs_reset = False
        weight = self._weight(reply)
        if weight.stable:
            return weight  # it settled just as we gave up
        raise ScaleError(
            "Weight not settling: keep the parcel still, out of draughts, and weigh again.",
            condition="unstable",
        )

    def _stop_stream(self, quiet: float = 0.25, limit: float = 1.0) -> None:
        """End ``SIR`` with ``SI`` and swallow what is still on the way.

        MT-SICS replies carry no sequence number, so a stream line (or the reply to this
        ``SI``) arriving after we return would be taken as the answer to the next command.
        We wait until the line has been quiet for ``quiet`` s (at most ``limit`` s).
        """
        try:
            self._send(mt_sics.SEND_IMMEDIATE)
            end = time.monotonic() + limit
            while time.monotonic() < end and self.transport.read(quiet):
                pass
        except DeviceUnreachable:
            pass

    @staticmethod
    def _weight(reply: mt_sics.Reply) -> Weight:
        mt_sics.raise_for(reply)
        if reply.weight is None:
            raise BadFrame("Scale answered without a weight.")
        return reply.weight

    def _silent(self) -> str:
        return f"Scale not answering on {self.transport.name}: check power and cable."
