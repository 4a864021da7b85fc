"""The small typed interfaces the station codes against.

Station code never touches pyserial, sockets or python-escpos: it holds one of these,
built from a device URL by :func:`drivers.urls.open_device`. Each method says what it
returns and which :mod:`drivers.errors` it raises. Optional features are flags the UI
reads (``CAN_TARE``), never methods that silently do nothing.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field


class Unit(enum.StrEnum):
    G = "g"
    KG = "kg"
    LB = "lb"
    OZ = "oz"


GRAMS_PER: dict[Unit, float] = {
    Unit.G: 1.0,
    Unit.KG: 1000.0,
    Unit.LB: 453.59237,
    Unit.OZ: 28.349523125,
}


@dataclass(frozen=True, slots=True)
class Weight:
    """One reading. ``grams`` is the internal unit; ``value``/``unit`` are what the scale sent."""

    grams: float
    stable: bool
    value: float | None = None
    unit: Unit = Unit.G

    @classmethod
    def of(cls, value: float, unit: Unit | str, stable: bool) -> Weight:
        u = Unit(unit)
        return cls(grams=round(value * GRAMS_PER[u], 3), stable=stable, value=value, unit=u)

    def as_json(self) -> dict[str, object]:
        return {"grams": self.grams, "stable": self.stable}


class Scale(abc.ABC):
    """A scale. Readings are in grams; blocking calls, run them in a thread worker."""

    CAN_TARE: bool = False
    CAN_ZERO: bool = False
    CAN_STREAM: bool = False
    CAN_RESET: bool = False

    @abc.abstractmethod
    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading; with ``stable`` wait (up to ``timeout`` s) for a stable one.

        Raises ScaleError (overload, underload, refused), DeviceUnreachable (no answer within
        ``timeout``), BadFrame (answer not understood).
        """

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every reading (stable or not) until ``stop()`` is true.

        The default polls :meth:`read` with ``stable=False``. Raises as :meth:`read`.
        """
        while not stop():
            on_reading(self.read(stable=False, timeout=2.0))

    def zero(self) -> None:
        """Zero the scale. Raises ScaleError if refused, DeviceUnreachable if no answer."""
        raise NotImplementedError

    def tare(self) -> Weight:
        """Tare with what is on the pan; return the tare weight. Raises as :meth:`zero`."""
        raise NotImplementedError

    def reset(self, timeout: float = 2.0) -> str:
        """Cancel whatever the scale is doing (a pending command, a stream) where the
        protocol can (``CAN_RESET``); return its serial number, or "" if it gives none.

        The default does nothing. Raises DeviceUnreachable if the scale does not answer.
        """
        return ""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port. Never raises."""


class PrinterState(enum.StrEnum):
    READY = "ready"
    PAPER_OUT = "paper_out"
    HEAD_OPEN = "head_open"
    RIBBON_OUT = "ribbon_out"
    PAUSED = "paused"
    BUFFER_FULL = "buffer_full"
    OTHER_ERROR = "error"
    UNREACHABLE = "unreachable"
    # Connected, but status queries go unanswered: some printers fall silent while their
    # head or cover is open. A state to show, not a crash; jobs wait.
    NOT_ANSWERING = "not_answering"
    COVER_OPEN = "cover_open"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said about itself. ``ready`` means a job sent now will print."""

    conditions: tuple[PrinterState, ...] = ()
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.conditions in ((), (PrinterState.READY,), (PrinterState.UNKNOWN,))

    def describe(self) -> str:
        """Plain words for the packer: what is wrong and what to do."""
        words = {
            PrinterState.PAPER_OUT: "out of labels/paper: load a new roll",
            PrinterState.HEAD_OPEN: "print head open: close the head",
            PrinterState.RIBBON_OUT: "out of ribbon: load a new ribbon",
            PrinterState.PAUSED: "paused: press the pause button on the printer",
            PrinterState.BUFFER_FULL: "receive buffer full: wait a moment",
            PrinterState.OTHER_ERROR: "reports an error: check the printer's display",
            PrinterState.UNREACHABLE: "not answering: check power and cable",
            PrinterState.NOT_ANSWERING: "not answering – check head/cover",
            PrinterState.COVER_OPEN: "cover open: close the cover",
        }
        bad = [words[c] for c in self.conditions if c in words]
        return "; ".join(bad) if bad else "ready"

    def describe_all(self) -> str:
        """:meth:`describe`, and the printer's own detail when it says more (a ``~HQES``
        detail often only repeats the condition)."""
        words = self.describe()
        return words + (f" ({self.detail})" if self.detail and self.detail not in words else "")


class LabelPrinter(abc.ABC):
    """A label printer taking raw bytes in its own language (ZPL)."""

    CAN_STATUS: bool = False

    @abc.abstractmethod
    def status(self) -> PrinterStatus:
        """Ask the printer how it is (ZPL ``~HS``). Never raises: unreachable is a state."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None:
        """Deliver ``data`` to the printer in full, or raise.

        Raises DeviceUnreachable (connect or write failed, timeout) or PrinterFault.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection. Never raises."""


@dataclass(slots=True)
class SlipLine:
    """One line of a packing slip; the slip printer renders it in its own command set."""

    text: str
    bold: bool = False
    align: str = "left"  # left | center | right
    double: bool = False


@dataclass(slots=True)
class SlipDocument:
    """A receipt-printer document: lines, then optional Code 128 barcode and QR code."""

    lines: list[SlipLine] = field(default_factory=list)
    barcode: str | None = None  # Code 128 content
    qr: str | None = None
    cut: bool = True


class SlipPrinter(abc.ABC):
    """A receipt/slip printer (ESC/POS through python-escpos)."""

    CAN_STATUS: bool = False

    @abc.abstractmethod
    def status(self) -> PrinterStatus:
        """Paper status where supported (ESC/POS ``DLE EOT``). Never raises."""

    @abc.abstractmethod
    def print_document(self, doc: SlipDocument) -> None:
        """Print ``doc`` in full or raise DeviceUnreachable / PrinterFault."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection. Never raises."""


@dataclass(frozen=True, slots=True)
class Scan:
    """One barcode read. ``raw`` is the data as sent, suffix stripped, AIM identifier kept.

    ``source`` names the device (``wedge``, ``serial:/dev/ttyACM0``); ``at`` is
    ``time.perf_counter()`` when the last byte arrived, for latency measurement.
    """

    raw: str
    source: str = "wedge"
    at: float = 0.0


class Scanner(abc.ABC):
    """A scanner that is not a keyboard wedge (serial, evdev): it pushes scans to a callback."""

    @abc.abstractmethod
    def run(self, on_scan: Callable[[Scan], None], stop: Callable[[], bool]) -> None:
        """Block, calling ``on_scan`` for each complete scan until ``stop()`` is true.

        Raises DeviceUnreachable if the port goes away (the caller reconnects).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port. Never raises."""
