"""A CAS scale or indicator in continuous output mode (the "CAS 22 bytes" frame) over any
transport: it sends a frame many times a second and takes no commands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from drivers.base import Scale, Weight
from drivers.errors import BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import cas_stream
from drivers.scale_cas import cas_weight
from drivers.scale_common import UNSTEADY, not_answering
from drivers.transports.base import Transport


class CasStreamScale(Scale):
    """Reads the frames a CAS scale sends unasked. ``read()`` throws away what was
    buffered (a frame from seconds ago is not the weight now) and takes the next frames;
    ``silence`` is how long :meth:`stream` goes on without a frame before giving up. Zero
    and tare are the scale's own keys: this mode has no commands.
    """

    GARBLED = (
        "Scale sends data we cannot read: check it is set to the CAS 22-byte continuous "
        "format and the serial settings match (usually 9600 8N1)."
    )

    CAN_STREAM = True

    def __init__(self, transport: Transport, silence: float = 2.0) -> None:
        self.transport = transport
        self.silence = silence
        self._parser = cas_stream.Parser()
        self._port = threading.Lock()

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return the next reading in grams; with ``stable`` the next ``ST`` frame.

        Raises ScaleError (overload; only ``US`` frames until ``timeout`` is "not
        settling"), DeviceUnreachable (no frame within ``timeout``), BadFrame (only
        garbage, or a unit other than g/kg/lb/oz).
        """
        with self._port:
            self.transport.reset_input()
            self._parser.clear()
            deadline = time.monotonic() + timeout
            moving, heard = False, 0
            while (left := deadline - time.monotonic()) > 0:
                data = self.transport.read(left)
                heard += len(data)
                for reading in self._parser.feed(data):
                    weight = self._weight(reading)
                    if weight.stable or not stable:
                        return weight
                    moving = True
            if moving:
                raise ScaleError(UNSTEADY, "unstable")
            raise self._no_answer(heard)

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every frame, stable or not, until ``stop()`` is true.

        The port lock is taken per read of 0.1 s, so a :meth:`read` from another thread
        (the weigh button while the live weight shows) gets the next frames in between.
        Raises ScaleError (overload), DeviceUnreachable (port gone, or no frame for
        ``silence`` s), BadFrame (only garbage for ``silence`` s).
        """
        self._parser.clear()
        last, heard = time.monotonic(), 0
        while not stop():
            waited = time.monotonic()
            with self._port:
                if time.monotonic() - waited > 0.05:
                    last = time.monotonic()  # a read() had the port and the frames
                data = self.transport.read(0.1)
                readings = self._parser.feed(data)
            heard += len(data)
            for reading in readings:
                last, heard = time.monotonic(), 0
                on_reading(self._weight(reading))
            if not readings and time.monotonic() - last > self.silence:
                raise self._no_answer(heard)

    def close(self) -> None:
        """Release the port. Never raises."""
        self.transport.close()

    def _no_answer(self, heard: int) -> DeviceUnreachable | BadFrame:
        """Bytes but no frame (wrong baud rate or format: often no line end at all) is
        garbled; nothing at all is not answering."""
        if heard:
            return BadFrame(self.GARBLED)
        return not_answering(self.transport.name)

    @staticmethod
    def _weight(reading: cas_stream.Reading) -> Weight:
        return cas_weight(reading)
