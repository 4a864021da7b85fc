"""Serial ports through pyserial (RS-232, USB-serial, and pty pairs used by emulators)."""

from __future__ import annotations

import contextlib
import os
import time

import serial

from drivers.errors import BadDeviceURL, DeviceUnreachable
from drivers.transports.base import Transport

try:
    from termios import error as _TermiosError
except ImportError:  # Windows: pyserial wraps everything in SerialException there
    _TermiosError = OSError

# pyserial lets termios.error (not an OSError) through from tcflush/tcsetattr on a port
# whose device vanished.
_PORT_ERRORS = (serial.SerialException, OSError, _TermiosError)

PARITIES = {
    "N": serial.PARITY_NONE,
    "E": serial.PARITY_EVEN,
    "O": serial.PARITY_ODD,
    "M": serial.PARITY_MARK,
    "S": serial.PARITY_SPACE,
}
STOPBITS = {
    "1": serial.STOPBITS_ONE,
    "1.5": serial.STOPBITS_ONE_POINT_FIVE,
    "2": serial.STOPBITS_TWO,
}

# pyserial's read(1) returns as soon as one byte arrives; this is only how often we look
# at the deadline while nothing arrives.
_POLL = 0.05


class SerialTransport(Transport):
    """A serial port. Settings as on the device's interface menu (9600 8N1 is common)."""

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: str | float = "1",
        write_timeout: float = 2.0,
    ) -> None:
        stop_key = str(stopbits).removesuffix(".0")
        if parity.upper() not in PARITIES:
            raise BadDeviceURL(f"unknown serial parity {parity!r} (use N, E, O, M or S)")
        if stop_key not in STOPBITS:
            raise BadDeviceURL(f"unknown serial stop bits {stopbits!r} (use 1, 1.5 or 2)")
        if bytesize not in (5, 6, 7, 8):
            raise BadDeviceURL(f"unknown serial byte size {bytesize!r} (use 7 or 8)")
        self.port = port
        self.name = f"serial port {port}"
        self._settings = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": PARITIES[parity.upper()],
            "stopbits": STOPBITS[stop_key],
            "timeout": _POLL,
            "write_timeout": write_timeout,
        }
        self._ser: serial.Serial | None = None

    def _open(self) -> serial.Serial:
        if self._ser is None:
            try:
                self._ser = serial.Serial(port=self.port, **self._settings)
            except (*_PORT_ERRORS, ValueError) as exc:
                raise DeviceUnreachable(
                    f"Cannot open {self.name} ({_reason(exc)}): check the cable and the port name."
                ) from exc
        return self._ser

    def _lost(self, exc: Exception) -> DeviceUnreachable:
        self.close()
        return DeviceUnreachable(f"Lost {self.name} ({_reason(exc)}): check the cable.")

    def open(self) -> None:
        self._open()

    def write(self, data: bytes) -> None:
        ser = self._open()
        try:
            ser.write(data)
        except _PORT_ERRORS as exc:
            raise self._lost(exc) from exc

    def read(self, timeout: float) -> bytes:
        ser = self._open()
        deadline = time.monotonic() + timeout
        try:
            while True:
                first = ser.read(1)
                if first:
                    waiting = ser.in_waiting
                    return first + (ser.read(waiting) if waiting else b"")
                if time.monotonic() >= deadline:
                    return b""
        except _PORT_ERRORS as exc:
            raise self._lost(exc) from exc

    def reset_input(self) -> None:
        if self._ser is not None:
            try:
                self._ser.reset_input_buffer()
            except _PORT_ERRORS:
                self.close()

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(*_PORT_ERRORS):
                ser.close()


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return os.strerror(code).lower()
    return str(exc) or type(exc).__name__
