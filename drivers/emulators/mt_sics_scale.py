"""An MT-SICS scale on a pty, for tests and demos: the real wire protocol, faults on demand.

    with MtSicsScaleEmulator(weight=0) as emu:
        scale = open_scale(emu.url)
        emu.place(1234.5)            # dynamic for emu.settle s, then stable
        scale.read()                 # -> Weight(grams=1234.5, stable=True)

Behaviour follows the MT-SICS reference: ``S`` answers only once stable (``S I`` after
``stability_timeout``), ``SI`` answers at once, ``SIR`` streams until ``S``/``SI``/``SIR``/
``@``; ``Z``/``T`` wait for stability; unknown commands get ``ES``. Emulator choices a real
scale may not share: a new command cancels a pending ``S``/``Z``/``T``; ``@`` keeps the tare.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from drivers.base import GRAMS_PER, Unit
from drivers.emulators.pty_port import PtyPort
from drivers.protocols.mt_sics import LineFramer

DEFAULT_NOISE = b"\x00\xfe\x13\r\n#~\x7f"  # a NUL, 8-bit junk, XOFF and a garbage line
_DECIMALS = {Unit.G: 1, Unit.KG: 4, Unit.LB: 4, Unit.OZ: 2}


@dataclass
class _State:
    gross: float = 0.0  # grams on the pan, relative to the factory zero
    settle_until: float = 0.0  # dynamic until then (monotonic time)
    unsteady: bool = False  # dynamic until told otherwise
    zero: float = 0.0
    tare: float = 0.0
    forced: str = ""  # "+" overload, "-" underload, "" normal
    answering: bool = True
    streaming: bool = False
    next_stream: float = 0.0
    pending: tuple[str, float] | None = None  # (command, give-up time)
    delay: float = 0.0
    noise: bytes = b""
    split: bool = False
    commands: list[str] = field(default_factory=list)


class MtSicsScaleEmulator:
    """A scale in a background thread behind a pty. Controls are thread-safe."""

    def __init__(
        self,
        weight: float = 0.0,
        unit: str = "g",
        capacity: float = 30000.0,
        settle: float = 0.5,
        stability_timeout: float = 3.0,
        stream_hz: float = 10.0,
        baud: int = 9600,
    ) -> None:
        self.unit = Unit(unit)
        self.capacity = capacity
        self.settle = settle
        self.stability_timeout = stability_timeout
        self.stream_interval = 1.0 / stream_hz
        self.baud = baud
        self._s = _State(gross=weight)
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
        return f"serial://{self.port}?protocol=mt-sics&baud={self.baud}"

    def start(self) -> MtSicsScaleEmulator:
        if self._thread is None:
            self._port = PtyPort()
            self._running.set()
            self._thread = threading.Thread(target=self._run, name="mt-sics-emu", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MtSicsScaleEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what is on the pan -------------------------------------------------------------

    def set_weight(self, grams: float, stable: bool = True) -> None:
        """Put ``grams`` on the pan at once, stable (or dynamic until set again)."""
        with self._lock:
            self._s.gross, self._s.settle_until = grams, 0.0
            self._s.unsteady, self._s.forced = not stable, ""

    def place(self, grams: float, settle: float | None = None) -> None:
        """Put ``grams`` on the pan like a hand does: dynamic for ``settle`` s, then stable."""
        with self._lock:
            self._s.gross, self._s.unsteady, self._s.forced = grams, False, ""
            self._s.settle_until = time.monotonic() + (self.settle if settle is None else settle)

    def remove(self, settle: float | None = None) -> None:
        """Take everything off the pan (dynamic, then stable at zero)."""
        self.place(0.0, settle)

    def overload(self, on: bool = True) -> None:
        """Report overload (``S +``) until switched off or a weight is set."""
        with self._lock:
            self._s.forced = "+" if on else ""

    def underload(self, on: bool = True) -> None:
        """Report underload (``S -``), as when the pan is lifted off."""
        with self._lock:
            self._s.forced = "-" if on else ""

    # -- faults -----------------------------------------------------------------------

    def noise(self, data: bytes | None = DEFAULT_NOISE) -> None:
        """Send ``data`` before every frame (``None`` or ``b""`` to stop)."""
        with self._lock:
            self._s.noise = data or b""

    def split_frames(self, on: bool = True) -> None:
        """Write every frame in three pieces a few ms apart (CR and LF apart too)."""
        with self._lock:
            self._s.split = on

    def slow(self, seconds: float) -> None:
        """Answer every command ``seconds`` late."""
        with self._lock:
            self._s.delay = seconds

    def stop_answering(self) -> None:
        """Stay connected but ignore commands and stop streaming (a hung scale)."""
        with self._lock:
            self._s.answering, self._s.streaming, self._s.pending = False, False, None

    def start_answering(self) -> None:
        with self._lock:
            self._s.answering = True

    def unplug(self) -> None:
        """Pull the cable: the driver's reads and writes fail. The emulator stops."""
        self._unplug.set()

    @property
    def commands(self) -> list[str]:
        """Every command received so far, in order (for assertions)."""
        with self._lock:
            return list(self._s.commands)

    @property
    def tare_grams(self) -> float:
        with self._lock:
            return self._s.tare

    # -- the device -------------------------------------------------------------------

    def _run(self) -> None:
        assert self._port is not None
        port, framer = self._port, LineFramer()
        outbox: list[tuple[float, bytes]] = []
        try:
            while self._running.is_set() and not self._unplug.is_set():
                data = port.read(0.01)
                now = time.monotonic()
                with self._lock:
                    for line in framer.feed(data):
                        outbox += self._command(line.decode("latin-1").strip(), now)
                    outbox += self._tick(now)
                    noise, split = self._s.noise, self._s.split
                due = [frame for at, frame in outbox if at <= now]
                outbox = [(at, frame) for at, frame in outbox if at > now]
                for frame in due:
                    port.write(noise)
                    port.write(frame, chunk_gap=0.005 if split else 0.0, chunks=3 if split else 1)
        finally:
            port.close()

    def _command(self, cmd: str, now: float) -> list[tuple[float, bytes]]:
        s = self._s
        s.commands.append(cmd)
        if not s.answering:
            return []
        s.pending = None  # emulator choice: a new command cancels one waiting for stability
        if cmd in ("S", "SI", "SIR", "@"):
            s.streaming = False
        at = now + s.delay
        if cmd == "SI":
            return [(at, self._weight_frame("S", now))]
        if cmd == "SIR":
            s.streaming, s.next_stream = True, at
            return []
        if cmd == "@":
            return [(at, b'I4 A "EMU0000001"\r\n')]
        if cmd in ("S", "Z", "T"):
            s.pending = (cmd, now + self.stability_timeout)  # answered by _tick()
            return []
        return [(at, b"ES\r\n")]

    def _tick(self, now: float) -> list[tuple[float, bytes]]:
        """Answer a command waiting for stability, and stream; called every loop."""
        s, out = self._s, []
        if s.streaming and now >= s.next_stream:
            out.append((now, self._weight_frame("S", now)))
            s.next_stream = max(s.next_stream + self.stream_interval, now)
        if s.pending is None:
            return out
        cmd, give_up = s.pending
        overload = self._condition()
        stable = self._gross(now)[1]
        if overload:
            frame = f"{cmd} {overload}\r\n".encode()
        elif stable:
            frame = self._settled(cmd)
        elif now >= give_up:
            frame = f"{cmd} I\r\n".encode()
        else:
            return out
        s.pending = None
        out.append((now + s.delay, frame))
        return out

    def _settled(self, cmd: str) -> bytes:
        s = self._s
        if cmd == "S":
            return self._format("S", "S", s.gross - s.zero - s.tare)
        if cmd == "Z":
            if abs(s.gross) > 0.02 * self.capacity:  # outside the +-2 % zero range
                return b"Z +\r\n" if s.gross > 0 else b"Z -\r\n"
            s.zero, s.tare = s.gross, 0.0
            return b"Z A\r\n"
        net_before_tare = s.gross - s.zero
        if net_before_tare < 0:
            return b"T -\r\n"
        s.tare = net_before_tare
        return self._format("T", "S", s.tare)

    def _condition(self) -> str:
        if self._s.forced:
            return self._s.forced
        return "+" if self._s.gross > self.capacity else ""

    def _gross(self, now: float) -> tuple[float, bool]:
        s = self._s
        if now < s.settle_until:
            left = s.settle_until - now
            wobble = 0.02 * max(abs(s.gross), 50.0) * math.sin(now * 40.0) * min(1.0, left)
            return s.gross + wobble, False
        return s.gross, not s.unsteady

    def _weight_frame(self, ident: str, now: float) -> bytes:
        condition = self._condition()
        if condition:
            return f"{ident} {condition}\r\n".encode()
        gross, stable = self._gross(now)
        return self._format(ident, "S" if stable else "D", gross - self._s.zero - self._s.tare)

    def _format(self, ident: str, status: str, grams: float) -> bytes:
        value = grams / GRAMS_PER[self.unit]
        return f"{ident} {status} {value:>10.{_DECIMALS[self.unit]}f} {self.unit}\r\n".encode()
