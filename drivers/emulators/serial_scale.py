"""What every serial scale emulator shares: the pan, the faults, the pty loop.

A protocol emulator subclasses :class:`SerialScaleEmulator` and implements
:meth:`~SerialScaleEmulator._receive` (bytes from the driver -> answers). The pan (weight,
settling, tare, zero, overload) and the faults (noise, split frames, slow answers, a hung
scale, a pulled cable) behave the same for every protocol, so the tests of each driver can
inject the same faults with the same calls as for the MT-SICS emulator.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from drivers.base import GRAMS_PER, Unit
from drivers.emulators.pty_port import PtyPort, line_speed
from drivers.emulators.threaded import Threaded

DEFAULT_NOISE = b"\x00\xfe\x13#~\x7f"  # a NUL, 8-bit junk, XOFF, printable junk; no digits
# What a host reads back when it talks to a scale at the wrong baud rate: framing errors
# come out as high-bit and NUL bytes, none of which starts a frame in any protocol here.
MISHEARD = b"\x80\xf8\x00\xfe"


@dataclass
class PanState:
    gross: float = 0.0  # grams on the pan, relative to the factory zero
    settle_until: float = 0.0  # dynamic until then (monotonic time)
    unsteady: bool = False  # dynamic until told otherwise
    zero: float = 0.0
    tare: float = 0.0
    forced: str = ""  # "+" overload, "-" underload, "" normal
    answering: bool = True
    delay: float = 0.0
    noise: bytes = b""
    split: bool = False
    received: list[bytes] = field(default_factory=list)
    misheard: int = 0  # chunks received at the wrong baud rate


class SerialScaleEmulator(Threaded):
    """A scale in a background thread behind a pty. Controls are thread-safe.

    Subclasses set :attr:`protocol`, :attr:`default_unit` and the URL's serial settings,
    and implement :meth:`_receive`; they read the pan through :meth:`_reading`.

    ``baud`` is the rate the scale is set to. A pty carries bytes at any speed, but the
    speed the driver set on the slave is visible on the master (Linux keeps one termios
    for the pair), so bytes sent at another speed are treated as a real scale would: not
    understood, answered with a little garbage (:data:`MISHEARD`). ``None`` accepts any.
    """

    protocol = ""
    thread_name = "scale-emu"
    # A pty has no data bits or parity, and Linux refuses to set 7E1 on one whose speed
    # is already set (tcsetattr EINVAL on the second open), so emulator URLs say 8N1. The
    # bytes are the same: every protocol here is 7-bit ASCII plus control characters.
    url_options = "bytesize=8&parity=N"

    def __init__(
        self,
        weight: float = 0.0,
        unit: str = "kg",
        capacity: float = 30000.0,
        settle: float = 0.5,
        baud: int | None = 9600,
    ) -> None:
        self.unit = Unit(unit)
        self.capacity = capacity
        self.settle = settle
        self.baud = baud
        if baud:
            line_speed(baud)  # a bad rate fails here, not in the emulator's thread
            self.url_options = "&".join(filter(None, (f"baud={baud}", self.url_options)))
        self._s = PanState(gross=weight)
        self._lock = threading.Lock()
        self._port: PtyPort | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._unplug = threading.Event()

    # -- lifecycle --------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The slave path a driver opens, like ``/dev/pts/4``."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port.path

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_scale`."""
        extra = f"&{self.url_options}" if self.url_options else ""
        return f"serial://{self.port}?protocol={self.protocol}{extra}"

    def start(self) -> SerialScaleEmulator:
        if self._thread is None:
            self._port = PtyPort()
            self._running.set()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    # -- what is on the pan -------------------------------------------------------------

    def set_weight(self, grams: float, stable: bool = True) -> None:
        """Put ``grams`` on the pan at once, stable (or in motion until set again)."""
        with self._lock:
            self._s.gross, self._s.settle_until = grams, 0.0
            self._s.unsteady, self._s.forced = not stable, ""

    def place(self, grams: float, settle: float | None = None) -> None:
        """Put ``grams`` on the pan like a hand does: in motion for ``settle`` s, then stable."""
        with self._lock:
            self._s.gross, self._s.unsteady, self._s.forced = grams, False, ""
            self._s.settle_until = time.monotonic() + (self.settle if settle is None else settle)

    def remove(self, settle: float | None = None) -> None:
        """Take everything off the pan (in motion, then stable at zero)."""
        self.place(0.0, settle)

    def motion(self, on: bool = True) -> None:
        """Keep what is on the pan moving (never stable) until switched off."""
        with self._lock:
            self._s.unsteady = on
            if not on:
                self._s.settle_until = 0.0

    def overload(self, on: bool = True) -> None:
        """Report overload until switched off or a weight is set."""
        with self._lock:
            self._s.forced = "+" if on else ""

    def underload(self, on: bool = True) -> None:
        """Report underload (below zero), as when the pan is lifted off."""
        with self._lock:
            self._s.forced = "-" if on else ""

    # -- faults -----------------------------------------------------------------------

    def noise(self, data: bytes | None = DEFAULT_NOISE) -> None:
        """Send ``data`` before every answer (``None`` or ``b""`` to stop)."""
        with self._lock:
            self._s.noise = data or b""

    def split_frames(self, on: bool = True) -> None:
        """Write every answer in three pieces a few ms apart."""
        with self._lock:
            self._s.split = on

    def slow(self, seconds: float) -> None:
        """Answer every command ``seconds`` late."""
        with self._lock:
            self._s.delay = seconds

    def stop_answering(self) -> None:
        """Stay connected but ignore commands (a hung scale, or the wrong baud rate)."""
        with self._lock:
            self._s.answering = False

    def start_answering(self) -> None:
        with self._lock:
            self._s.answering = True

    def unplug(self) -> None:
        """Pull the cable: the driver's reads and writes fail. The emulator stops."""
        self._unplug.set()

    @property
    def received(self) -> list[bytes]:
        """Every chunk received so far, in order (for assertions)."""
        with self._lock:
            return list(self._s.received)

    @property
    def misheard(self) -> int:
        """How many chunks arrived at a baud rate other than :attr:`baud`."""
        with self._lock:
            return self._s.misheard

    @property
    def tare_grams(self) -> float:
        with self._lock:
            return self._s.tare

    # -- for subclasses (called with the lock held) -------------------------------------

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        """Handle bytes from the driver; return the answers to send (in order)."""
        raise NotImplementedError

    def _tick(self, now: float) -> list[tuple[float, bytes]]:
        """Called every loop (about every 10 ms): ``(when, frame)`` pairs to send unasked,
        for protocols that stream or answer once the pan settles."""
        return []

    def _reading(self, now: float) -> tuple[str, float, bool]:
        """``(condition, net grams, stable)``; condition is ``"+"``, ``"-"`` or ``""``."""
        s = self._s
        if s.forced:
            return s.forced, 0.0, True
        if s.gross > self.capacity:
            return "+", 0.0, True
        gross, stable = s.gross, not s.unsteady
        if now < s.settle_until:
            left = s.settle_until - now
            gross += 0.02 * max(abs(gross), 50.0) * math.sin(now * 40.0) * min(1.0, left)
            stable = False
        return "", gross - s.zero - s.tare, stable

    def _in_unit(self, grams: float) -> float:
        return grams / GRAMS_PER[self.unit]

    def _try_zero(self, now: float) -> str:
        """Zero if steady and within +-2 % of capacity: ``""`` done, else why not."""
        condition, _, stable = self._reading(now)
        if condition:
            return condition
        if not stable:
            return "motion"
        if abs(self._s.gross) > 0.02 * self.capacity:
            return "range"
        self._s.zero, self._s.tare = self._s.gross, 0.0
        return ""

    def _try_tare(self, now: float) -> str:
        """Tare what is on the pan if steady and positive: ``""`` done, else why not."""
        condition, _, stable = self._reading(now)
        if condition:
            return condition
        if not stable:
            return "motion"
        net_before_tare = self._s.gross - self._s.zero
        if net_before_tare <= 0:
            return "range"
        self._s.tare = net_before_tare
        return ""

    # -- the device -------------------------------------------------------------------

    def _run(self) -> None:
        assert self._port is not None
        port = self._port
        outbox: list[tuple[float, bytes]] = []
        try:
            while self._running.is_set() and not self._unplug.is_set():
                data = port.read(0.01)
                now = time.monotonic()
                with self._lock:
                    if data:
                        self._s.received.append(data)
                        if not self._speed_matches(port):
                            self._s.misheard += 1
                            if self._s.answering:
                                outbox.append((now + self._s.delay, MISHEARD))
                        elif self._s.answering:
                            at = now + self._s.delay
                            outbox += [(at, answer) for answer in self._receive(data, now)]
                    outbox += self._tick(now)
                    noise, split = self._s.noise, self._s.split
                due = [frame for at, frame in outbox if at <= now]
                outbox = [(at, frame) for at, frame in outbox if at > now]
                for frame in due:
                    port.write(noise)
                    port.write(frame, chunk_gap=0.005 if split else 0.0, chunks=3 if split else 1)
        finally:
            port.close()

    def _speed_matches(self, port: PtyPort) -> bool:
        return self.baud is None or port.speed_is(self.baud)
