"""A USB HID postal scale (Dymo M10/M25/S100, Stamps.com ...): reports in, weights out.

The scale itself is a :class:`ReportSource` (one HID input report per read) plus the pure
decoder in :mod:`drivers.protocols.hid_scale`. :class:`HidapiReports` reads a real device
through hidapi; :class:`StreamReports` cuts the same 6-byte reports out of a byte stream
(the emulator's TCP socket), so the scale code is the same in tests and at the bench.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from drivers.base import Scale, Weight
from drivers.errors import BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import hid_scale
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

UDEV_HINT = (
    'add a udev rule such as SUBSYSTEM=="hidraw", ATTRS{{idVendor}}=="{vid:04x}", '
    'MODE="0660", GROUP="plugdev" to /etc/udev/rules.d/60-doms-scale.rules, run '
    "`sudo udevadm control --reload && sudo udevadm trigger`, make sure the station user is "
    "in the plugdev group, and replug the scale"
)


class ReportSource(abc.ABC):
    """Where HID input reports come from. Opens lazily; raises only DeviceUnreachable."""

    name: str = "HID device"

    @abc.abstractmethod
    def read_report(self, timeout: float) -> bytes | None:
        """Return the next input report, waiting up to ``timeout`` s; None if none came."""

    def request_report(self) -> bytes | None:
        """Ask the device for its current report (HID GET_REPORT); None where unsupported."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; the next read reopens it. Never raises."""


class HidapiReports(ReportSource):
    """Reports from a hidapi device opened by vendor and product id (and serial number)."""

    def __init__(self, vid: int, pid: int, serial: str | None = None) -> None:
        self.vid, self.pid, self.serial = vid, pid, serial
        self.name = f"USB HID {vid:04x}:{pid:04x}"
        self._dev = None

    def _open(self):  # -> hid.device
        if self._dev is not None:
            return self._dev
        try:
            import hid
        except ImportError:
            raise DeviceUnreachable(
                "USB HID scales need the hidapi package: run `pip install hidapi` "
                "(it brings its own hidraw/libusb backend)."
            ) from None
        dev = hid.device()
        try:
            dev.open(self.vid, self.pid, self.serial)
        except (OSError, ValueError):
            # hidapi says only "open failed": tell "not plugged in" from "not allowed".
            present = bool(hid.enumerate(self.vid, self.pid))
            if present:
                raise DeviceUnreachable(
                    f"Scale {self.vid:04x}:{self.pid:04x} is plugged in but this user may not "
                    f"open it: {UDEV_HINT.format(vid=self.vid)}."
                ) from None
            raise DeviceUnreachable(
                f"No USB scale {self.vid:04x}:{self.pid:04x} found: check the cable and that "
                "the scale is switched on (Dymo scales switch off after 3 minutes idle)."
            ) from None
        self._dev = dev
        return dev

    def read_report(self, timeout: float) -> bytes | None:
        dev = self._open()
        try:
            data = dev.read(64, max(0, int(timeout * 1000)))
        except (OSError, ValueError) as exc:
            self.close()
            raise DeviceUnreachable(
                f"Lost the USB scale {self.vid:04x}:{self.pid:04x} ({exc}): check the cable, "
                "or switch it on again (Dymo scales switch off after 3 minutes idle)."
            ) from None
        return bytes(data) if data else None

    def request_report(self) -> bytes | None:
        dev = self._open()
        try:
            data = dev.get_input_report(hid_scale.REPORT_ID, hid_scale.REPORT_SIZE)
        except (OSError, ValueError, AttributeError):
            return None  # many scales only push reports; that is fine
        return bytes(data) if data else None

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            # closing a vanished device may fail; there is nothing to do about it
            with contextlib.suppress(Exception):
                dev.close()


class StreamReports(ReportSource):
    """Fixed-size reports cut out of a byte stream (the HID scale emulator's socket)."""

    def __init__(self, transport: Transport, size: int = hid_scale.REPORT_SIZE) -> None:
        self.transport = transport
        self.size = size
        self.name = transport.name
        self._buf = bytearray()

    def read_report(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while len(self._buf) < self.size:
            try:
                chunk = self.transport.read(max(deadline - time.monotonic(), 0.0))
            except DeviceUnreachable:
                self._buf.clear()  # a reconnect starts on a report boundary
                raise
            if chunk:
                self._buf += chunk
            elif time.monotonic() >= deadline:
                return None
        report = bytes(self._buf[: self.size])
        del self._buf[: self.size]
        return report

    def close(self) -> None:
        self._buf.clear()
        self.transport.close()


class HidScale(Scale):
    """A HID postal scale. It pushes reports by itself (many a second while the weight
    changes); there is no command to send, so no tare and no zero from here.

    The kernel queues reports while nobody reads, and a queue fills with *old* weights, so
    each read first empties the queue and keeps only the newest report. ``silence`` is how
    long without any report counts as "not answering".
    """

    CAN_STREAM = True

    def __init__(self, source: ReportSource, silence: float = 2.0, fresh: float = 0.3) -> None:
        self.source = source
        self.silence = silence
        self.fresh = fresh
        self._lock = threading.Lock()  # one reader of the source at a time
        self._garbage = 0
        # While stream() runs, read() from other threads takes its reports from here.
        self._streaming = threading.Condition()
        self._stream_active = False
        self._stream_seq = 0
        self._stream_report: bytes | None = None

    def read(self, stable: bool = True, timeout: float = 5.0) -> Weight:
        """Return one reading in grams; with ``stable`` wait up to ``timeout`` s for it.

        Works while :meth:`stream` runs in another thread (it shares the stream's reports).
        Raises ScaleError (overload, below zero, fault, never steady), DeviceUnreachable
        (no report within ``timeout``), BadFrame (only unreadable reports).
        """
        with self._streaming:
            shared = self._stream_active
        if shared:
            return self._read_shared(stable, timeout)
        with self._lock:
            return self._read(stable, timeout)

    def stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        """Call ``on_reading`` for every report until ``stop()``. Raises as :meth:`read`;
        DeviceUnreachable after ``silence`` s without a report."""
        with self._lock:
            with self._streaming:
                self._stream_active = True
            try:
                self._stream(on_reading, stop)
            finally:
                with self._streaming:
                    self._stream_active = False
                    self._streaming.notify_all()

    def _stream(self, on_reading: Callable[[Weight], None], stop: Callable[[], bool]) -> None:
        last = time.monotonic()
        while not stop():
            report = self.source.read_report(0.1)
            if report is None:
                if time.monotonic() - last > self.silence:
                    raise DeviceUnreachable(self._silent())
                continue
            last = time.monotonic()
            with self._streaming:
                self._stream_report = report
                self._stream_seq += 1
                self._streaming.notify_all()
            weight = self._weight(hid_scale.decode(report))
            if weight is not None:
                on_reading(weight)

    def _read_shared(self, stable: bool, timeout: float) -> Weight:
        deadline = time.monotonic() + timeout
        seen_motion = False
        with self._streaming:
            seq = self._stream_seq
            while True:
                if self._stream_seq != seq:
                    seq = self._stream_seq
                    reading = hid_scale.decode(self._stream_report or b"")
                    if reading.weight is None and reading.state != "garbage":
                        raise ScaleError(reading.message, condition=reading.condition)
                    if reading.weight is not None and (reading.weight.stable or not stable):
                        return reading.weight
                    seen_motion = seen_motion or reading.weight is not None
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._stream_active:
                    break
                self._streaming.wait(remaining)
        if not self._stream_active and remaining > 0:
            return self.read(stable, remaining)  # the stream ended meanwhile: read ourselves
        if seen_motion:
            raise ScaleError(
                "Weight not settling: keep the parcel still, out of draughts, and weigh again.",
                condition="unstable",
            )
        raise DeviceUnreachable(self._silent())

    def close(self) -> None:
        """Release the device. Never raises."""
        self.source.close()

    def _read(self, stable: bool, timeout: float) -> Weight:
        deadline = time.monotonic() + timeout
        self._garbage = 0
        latest = self._drain()
        report = self.source.read_report(min(self.fresh, timeout))
        if report is None:
            # A scale that reports only on change: the newest queued report is current.
            report = latest or self.source.request_report()
        seen_motion = False
        while True:
            if report is not None:
                weight = self._weight(hid_scale.decode(report))
                if weight is not None and (weight.stable or not stable):
                    return weight
                seen_motion = seen_motion or weight is not None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            report = self.source.read_report(min(remaining, self.silence))
            if report is None and not seen_motion and not self._garbage:
                break  # silent for `silence` s: not there
        if seen_motion:
            raise ScaleError(
                "Weight not settling: keep the parcel still, out of draughts, and weigh again.",
                condition="unstable",
            )
        if self._garbage:
            raise BadFrame(
                f"Scale on {self.source.name} sends reports we cannot read: is it a postal "
                "scale (HID report 3)?"
            )
        raise DeviceUnreachable(self._silent())

    def _drain(self) -> bytes | None:
        """Empty the queue of reports that arrived while nobody asked; return the newest."""
        latest = None
        for _ in range(256):  # hidraw keeps at most 64; a stream may hold a few more
            report = self.source.read_report(0)
            if report is None:
                break
            latest = report
        return latest

    def _weight(self, reading: hid_scale.Reading) -> Weight | None:
        """The weight, None for a report to skip, or raise the condition it reports."""
        if reading.weight is not None:
            return reading.weight
        if reading.state == "garbage":
            self._garbage += 1
            log.debug("skipping report: %s", reading.message)
            return None
        raise ScaleError(reading.message, condition=reading.condition)

    def _silent(self) -> str:
        return f"Scale not answering on {self.source.name}: check power and cable."
