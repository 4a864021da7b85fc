"""An MT-SICS scale on a pty, for tests and demos: the real wire protocol, faults on demand.

    with MtSicsScaleEmulator(weight=0) as emu:
        scale = open_scale(emu.url)
        emu.place(1234.5)            # dynamic for emu.settle s, then stable
        scale.read()                 # -> Weight(grams=1234.5, stable=True)

Behaviour follows the MT-SICS reference: ``S`` answers only once stable (``S I`` after
``stability_timeout``), ``SI`` answers at once, ``SIR`` streams until ``S``/``SI``/``SIR``/
``@``; ``Z``/``T`` wait for stability; ``@`` and ``I4`` answer the serial number, ``I2``
the model and capacity, ``I3`` the software version, ``I0`` the implemented commands in
several lines (``I0 B`` ... ``I0 A``, each a frame of its own, so noise and split frames
fall between them); unknown commands get ``ES``. Emulator choices a real scale may not
share: a new command cancels a pending ``S``/``Z``/``T``; ``@`` keeps the tare; ``I``
commands do not stop an ``SIR`` stream, whose lines may fall between ``I0``'s.
The pan and the faults are those of every serial scale emulator (:mod:`.serial_scale`).
"""

from __future__ import annotations

from drivers.base import Unit
from drivers.emulators.serial_scale import SerialScaleEmulator
from drivers.protocols.mt_sics import LineFramer

DEFAULT_NOISE = b"\x00\xfe\x13\r\n#~\x7f"  # a NUL, 8-bit junk, XOFF and a garbage line
_DECIMALS = {Unit.G: 1, Unit.KG: 4, Unit.LB: 4, Unit.OZ: 2}
# What I0 lists: (level, command), as a level-0/1 scale implements them.
IMPLEMENTED = (
    (0, "I0"), (0, "I2"), (0, "I3"), (0, "I4"), (0, "S"), (0, "SI"), (0, "SIR"), (0, "Z"),
    (0, "@"), (1, "T"),
)  # fmt: skip


class MtSicsScaleEmulator(SerialScaleEmulator):
    """A scale in a background thread behind a pty. Controls are thread-safe."""

    protocol = "mt-sics"
    thread_name = "mt-sics-emu"

    def __init__(
        self,
        weight: float = 0.0,
        unit: str = "g",
        capacity: float = 30000.0,
        settle: float = 0.5,
        stability_timeout: float = 3.0,
        stream_hz: float = 10.0,
        baud: int | None = 9600,
        serial: str = "EMU0000001",
        model: str = "EMU-SICS",
        software: str = "1.00",
    ) -> None:
        self.url_options = ""  # MT-SICS is 8N1 anyway: the URL needs only the baud rate
        super().__init__(weight=weight, unit=unit, capacity=capacity, settle=settle, baud=baud)
        self.stability_timeout = stability_timeout
        self.serial, self.model, self.software = serial, model, software
        self.stream_interval = 1.0 / stream_hz
        self._framer = LineFramer()
        # Guarded by the base's lock, as the pan is.
        self._commands: list[str] = []
        self._streaming = False
        self._next_stream = 0.0
        self._pending: tuple[str, float] | None = None  # (command, give-up time)

    def noise(self, data: bytes | None = DEFAULT_NOISE) -> None:
        """Send ``data`` before every frame (``None`` or ``b""`` to stop)."""
        super().noise(data)

    def stop_answering(self) -> None:
        """Stay connected but ignore commands and stop streaming (a hung scale)."""
        with self._lock:
            self._s.answering, self._streaming, self._pending = False, False, None

    @property
    def commands(self) -> list[str]:
        """Every command received so far, in order (for assertions)."""
        with self._lock:
            return list(self._commands)

    # -- the device (called with the lock held) -------------------------------------------

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        out = []
        for line in self._framer.feed(data):
            out += self._command(line.decode("latin-1").strip(), now)
        return out

    def _command(self, cmd: str, now: float) -> list[bytes]:
        self._commands.append(cmd)
        self._pending = None  # emulator choice: a new command cancels one waiting to settle
        if cmd in ("S", "SI", "SIR", "@"):
            self._streaming = False
        if cmd == "SI":
            return [self._weight_frame("S", now)]
        if cmd == "SIR":
            self._streaming, self._next_stream = True, now + self._s.delay
            return []
        if cmd in ("@", "I4"):
            return [f'I4 A "{self.serial}"\r\n'.encode()]
        if cmd == "I3":
            return [f'I3 A "{self.software}"\r\n'.encode()]
        if cmd == "I2":
            capacity = f"{self._in_unit(self.capacity):.{_DECIMALS[self.unit]}f} {self.unit}"
            return [f'I2 A "{self.model} {capacity}"\r\n'.encode()]
        if cmd == "I0":
            last = len(IMPLEMENTED) - 1
            return [
                f'I0 {"A" if i == last else "B"} {level} "{name}"\r\n'.encode()
                for i, (level, name) in enumerate(IMPLEMENTED)
            ]
        if cmd in ("S", "Z", "T"):
            self._pending = (cmd, now + self.stability_timeout)  # answered by _tick()
            return []
        return [b"ES\r\n"]

    def _tick(self, now: float) -> list[tuple[float, bytes]]:
        """Answer a command waiting for stability, and stream."""
        out = []
        if self._streaming and now >= self._next_stream:
            out.append((now, self._weight_frame("S", now)))
            self._next_stream = max(self._next_stream + self.stream_interval, now)
        if self._pending is None:
            return out
        cmd, give_up = self._pending
        condition, _, stable = self._reading(now)
        if condition:
            frame = f"{cmd} {condition}\r\n".encode()
        elif stable:
            frame = self._settled(cmd, now)
        elif now >= give_up:
            frame = f"{cmd} I\r\n".encode()
        else:
            return out
        self._pending = None
        out.append((now + self._s.delay, frame))
        return out

    def _settled(self, cmd: str, now: float) -> bytes:
        if cmd == "S":
            return self._format("S", "S", self._reading(now)[1])
        if cmd == "Z":
            why = self._try_zero(now)
            if why == "range":  # outside the +-2 % zero range
                return b"Z +\r\n" if self._s.gross > 0 else b"Z -\r\n"
            return b"Z A\r\n"
        net_before_tare = self._s.gross - self._s.zero
        if net_before_tare < 0:  # an empty pan tares to 0, as the scale does
            return b"T -\r\n"
        self._s.tare = net_before_tare
        return self._format("T", "S", self._s.tare)

    def _weight_frame(self, ident: str, now: float) -> bytes:
        condition, net, stable = self._reading(now)
        if condition:
            return f"{ident} {condition}\r\n".encode()
        return self._format(ident, "S" if stable else "D", net)

    def _format(self, ident: str, status: str, grams: float) -> bytes:
        value = self._in_unit(grams)
        return f"{ident} {status} {value:>10.{_DECIMALS[self.unit]}f} {self.unit}\r\n".encode()
