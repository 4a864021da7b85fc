"""Receipt/slip printers speaking ESC/POS, through a python-escpos printer object."""

from __future__ import annotations

import logging
import socket

import serial
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError

from drivers.base import PrinterState, PrinterStatus, SlipDocument, SlipPrinter
from drivers.errors import DeliveryUncertain, DeviceUnreachable, PrinterFault
from drivers.protocols.escpos import PAPER_STATUS, paper_status, render_slip
from drivers.transports.tcp import wait_delivered

log = logging.getLogger(__name__)

# What python-escpos and the layers under it raise when the device is not there.
_DEVICE_ERRORS = (EscposError, OSError, serial.SerialException)


class EscposSlipPrinter(SlipPrinter):
    """An ESC/POS printer: ``printer`` is a python-escpos ``Network``, ``Serial``, ``File``...

    Each call opens the device, does its work and closes it again, so a printer that was
    switched off in between is simply reopened. ``can_status``: the device can answer
    ``DLE EOT`` (network and serial can, a file cannot). With ``check_status``, a slip is
    not sent to a printer that reports paper out (PrinterFault instead).
    """

    def __init__(
        self,
        printer: Escpos,
        name: str,
        can_status: bool = False,
        check_status: bool = True,
        status_timeout: float = 1.0,
        profile: str | None = None,
    ) -> None:
        self.printer = printer
        self.name = name
        self.CAN_STATUS = can_status
        self.check_status = check_status and can_status
        self.status_timeout = status_timeout
        self.profile = profile

    def status(self) -> PrinterStatus:
        """Paper status from ``DLE EOT 4`` where supported, else UNKNOWN. Never raises.

        UNREACHABLE if the printer cannot be opened; UNKNOWN if it does not answer.
        """
        if not self.CAN_STATUS:
            return PrinterStatus((PrinterState.UNKNOWN,))
        try:
            self._open()
            return self._paper()
        except DeviceUnreachable as exc:
            return PrinterStatus((PrinterState.UNREACHABLE,), detail=str(exc))
        finally:
            self._close()

    def print_document(self, doc: SlipDocument) -> None:
        """Print ``doc`` in full or raise.

        The whole slip is rendered first (PrinterFault ``bad_document`` if it cannot be)
        and written in one piece. Raises PrinterFault (paper out; nothing sent),
        DeviceUnreachable (cannot open: nothing sent, safe to retry) or DeliveryUncertain
        (the write broke part-way or was not acknowledged: it may have printed).
        """
        data = render_slip(doc, self.profile)
        try:
            self._open()
            if self.check_status:
                status = self._paper()
                if PrinterState.PAPER_OUT in status.conditions:
                    raise PrinterFault("Slip printer out of paper: load a new roll.", ["paper_out"])
            try:
                # _raw is python-escpos's one transport primitive; the bytes were made by
                # its own Dummy printer, so this is what print calls would have sent.
                self.printer._raw(data)
                device = self.printer.device
                if isinstance(device, socket.socket):
                    wait_delivered(device, 5.0, f"Slip printer {self.name}")
            except (*_DEVICE_ERRORS, DeviceUnreachable) as exc:
                raise DeliveryUncertain(
                    f"Connection to slip printer {self.name} broke while sending ({exc}). "
                    "The slip may or may not have printed: check before reprinting."
                ) from exc
        finally:
            self._close()

    def close(self) -> None:
        """Release the connection. Never raises."""
        self._close()

    def _open(self) -> None:
        try:
            self.printer.open()
        except _DEVICE_ERRORS as exc:
            raise DeviceUnreachable(
                f"Cannot reach slip printer {self.name}: check power and cable."
            ) from exc

    def _close(self) -> None:
        try:
            self.printer.close()
        except _DEVICE_ERRORS as exc:
            log.debug("closing slip printer %s: %s", self.name, exc)

    def _paper(self) -> PrinterStatus:
        # A short read timeout for the status answer; the device's own (long, for big
        # jobs) is put back after.
        device = self.printer.device
        saved = _get_timeout(device)
        _set_timeout(device, self.status_timeout)
        try:
            answer = self.printer.query_status(PAPER_STATUS)
        except TimeoutError:
            answer = b""
        except _DEVICE_ERRORS as exc:
            raise DeviceUnreachable(f"Slip printer {self.name} went away ({exc}).") from exc
        finally:
            _set_timeout(device, saved)
        return paper_status(answer)


def _get_timeout(device: object) -> float | None:
    if isinstance(device, socket.socket):
        return device.gettimeout()
    if isinstance(device, serial.Serial):
        return device.timeout
    return None


def _set_timeout(device: object, seconds: float | None) -> None:
    if isinstance(device, socket.socket):
        device.settimeout(seconds)
    elif isinstance(device, serial.Serial):
        device.timeout = seconds
