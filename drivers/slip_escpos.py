"""Receipt/slip printers speaking ESC/POS, through a python-escpos printer object."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import serial
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError
from escpos.printer import Usb

from drivers.base import PrinterState, PrinterStatus, SlipDocument, SlipPrinter
from drivers.errors import DeliveryFailed, DeliveryUncertain, DeviceUnreachable, PrinterFault
from drivers.protocols.escpos import (
    OFFLINE_CAUSE,
    ONLINE_STATUS,
    PAPER_SENSOR,
    PAPER_STATUS,
    is_realtime_status,
    is_sensor_status,
    offline_status,
    paper_sensor_status,
    paper_status,
    render_slip,
)
from drivers.transports.tcp import wait_delivered

log = logging.getLogger(__name__)

# What python-escpos and the layers under it raise when the device is not there. pyusb's
# USBError is an OSError; its NoBackendError (no libusb) a ValueError.
_DEVICE_ERRORS = (EscposError, OSError, serial.SerialException)


class EscposSlipPrinter(SlipPrinter):
    """An ESC/POS printer: ``printer`` is a python-escpos ``Network``, ``Serial``, ``File``...

    Each call opens the device, does its work and closes it again, so a printer that was
    switched off in between is simply reopened. ``can_status``: the device can answer
    ``DLE EOT`` (network, serial and USB can, a file cannot); a printer that ignores
    ``DLE EOT`` is asked ``GS r 1``. With ``check_status``, a slip is not sent to a printer
    that reports paper out, cover open or offline (PrinterFault instead). ``usb_ids``
    (vendor, product) turns USB failures into words about pyusb, libusb and udev.

    ESC/POS has no job id, so whether a slip printed is told by the connection: after the
    slip, ``GS r 1`` (answered only once every byte before it is processed) confirms it,
    on printers that answer ``GS r``. ``confirm_timeout`` is how long printing may take.
    """

    def __init__(
        self,
        printer: Escpos,
        name: str,
        can_status: bool = False,
        check_status: bool = True,
        status_timeout: float = 1.0,
        profile: str | None = None,
        usb_ids: tuple[int, int] | None = None,
        confirm_timeout: float = 5.0,
    ) -> None:
        self.printer = printer
        self.name = name
        self.CAN_STATUS = can_status
        self.check_status = check_status and can_status
        self.status_timeout = status_timeout
        self.profile = profile
        self.usb_ids = usb_ids
        self.confirm_timeout = confirm_timeout
        self.answered_dle_eot = False
        self.answers_gs_r: bool | None = None  # None: not asked yet

    def status(self) -> PrinterStatus:
        """Paper status (``DLE EOT 4``, else ``GS r 1``) and, from ``DLE EOT 1/2``, cover
        open or offline, where supported; else UNKNOWN. Never raises.

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
        and written in one piece. Raises PrinterFault (paper out, cover open, or a printer
        that answered before is silent now: ``not_answering``; nothing sent),
        DeviceUnreachable (cannot open, or gone while asked for its status: nothing sent),
        DeliveryFailed (the connection broke before the printer confirmed the slip: at
        most a piece printed, safe to send again whole) or DeliveryUncertain (the printer
        stopped taking data with the connection still up: the rest may still print).
        """
        data = render_slip(doc, self.profile)
        try:
            self._open()
            if self.check_status:
                status = self._paper()
                if not status.ready:
                    words = f"Slip printer {status.describe_all().replace('labels/paper', 'paper')}"
                    raise PrinterFault(words + ".", [str(c) for c in status.conditions])
            self._send(data)
        finally:
            self._close()

    def _send(self, data: bytes) -> None:
        device = self.printer.device
        try:
            # _raw is python-escpos's one transport primitive; the bytes were made by its
            # own Dummy printer, so this is what print calls would have sent.
            self.printer._raw(data)
        except _DEVICE_ERRORS as exc:
            if isinstance(exc, TimeoutError | serial.SerialTimeoutException) or _is_usb_timeout(
                exc
            ):
                raise self._uncertain(exc) from exc
            raise self._cut(exc) from exc
        if isinstance(device, socket.socket):
            try:
                wait_delivered(device, 5.0, f"Slip printer {self.name}")
            except DeviceUnreachable as exc:
                if isinstance(exc.__cause__, OSError):  # broken, not stalled
                    raise self._cut(exc) from exc
                raise self._uncertain(exc) from exc
        if self.check_status and self.answers_gs_r is not False and self._answered_before():
            try:
                self._confirm()
            except DeviceUnreachable as exc:
                raise self._cut(exc) from exc

    def _confirm(self) -> None:
        # GS r is not real-time: the printer answers it after processing every byte before
        # it. A reset instead of the answer means the slip was cut short. No answer with
        # the connection up means the printer has every byte and is still busy with them
        # (a long slip, paper run out mid-slip): it will finish, so that counts as printed.
        if self._query(PAPER_SENSOR, is_sensor_status, self.confirm_timeout):
            self.answers_gs_r = True
        elif self.answers_gs_r is None:
            self.answers_gs_r = False  # a printer without GS r: its slips go unconfirmed
            log.info("slip printer %s does not answer GS r: slips are not confirmed", self.name)
        else:
            log.warning(
                "slip printer %s has the slip but did not confirm it within %.0f s",
                self.name,
                self.confirm_timeout,
            )

    def _answered_before(self) -> bool:
        return self.answered_dle_eot or bool(self.answers_gs_r)

    def _uncertain(self, exc: BaseException) -> DeliveryUncertain:
        return DeliveryUncertain(
            f"Slip printer {self.name} stopped taking the slip part-way ({exc}). "
            "The rest may still print: check the printer before reprinting."
        )

    def _cut(self, exc: BaseException) -> DeliveryFailed:
        return DeliveryFailed(
            f"Connection to slip printer {self.name} broke before the slip was finished "
            f"({exc}). It did not print in full (throw away any piece without a cut); "
            "it is printed again whole."
        )

    def close(self) -> None:
        """Release the connection. Never raises."""
        self._close()

    def _open(self) -> None:
        try:
            self.printer.open()
        except (*_DEVICE_ERRORS, RuntimeError, ValueError) as exc:
            if self.usb_ids is not None:
                raise DeviceUnreachable(usb_trouble(exc, *self.usb_ids)) from exc
            if not isinstance(exc, _DEVICE_ERRORS):
                raise
            raise DeviceUnreachable(
                f"Cannot reach slip printer {self.name}: check power and cable."
            ) from exc

    def _close(self) -> None:
        try:
            self.printer.close()
        except _DEVICE_ERRORS as exc:
            log.debug("closing slip printer %s: %s", self.name, exc)

    def _paper(self) -> PrinterStatus:
        answer = self._query(PAPER_STATUS, is_realtime_status)
        if not answer:
            if self.answered_dle_eot:
                # It answered before: now busy, hung, or too slow to count on.
                return PrinterStatus(
                    (PrinterState.NOT_ANSWERING,),
                    detail=f"no answer to DLE EOT 4 within {self.status_timeout:g} s",
                )
            sensor = self._query(PAPER_SENSOR, is_sensor_status)
            if self.answers_gs_r is None or sensor:
                self.answers_gs_r = bool(sensor)
            return paper_sensor_status(sensor)
        self.answered_dle_eot = True
        status = paper_status(answer)
        online = self._query(ONLINE_STATUS, is_realtime_status)
        offline = offline_status(online, b"\x12")
        if offline is None:
            return status
        offline = offline_status(online, self._query(OFFLINE_CAUSE, is_realtime_status))
        assert offline is not None
        states = [c for c in status.conditions if c != PrinterState.READY]
        states += [c for c in offline.conditions if c not in states]
        detail = "; ".join(d for d in (status.detail, offline.detail) if d)
        return PrinterStatus(tuple(states), detail=detail)

    def _query(
        self, command: bytes, valid: Callable[[int], bool], timeout: float | None = None
    ) -> bytes:
        """Ask ``command``; the answer byte, or b"" if none came within ``timeout``
        (``status_timeout``). Bytes that cannot be the answer are skipped: line noise, or
        the late answer to an earlier question (a status answer is one byte, recognised
        by its fixed bits). Raises DeviceUnreachable if the printer went away."""
        device = self.printer.device
        saved = _get_timeout(device)
        deadline = time.monotonic() + (self.status_timeout if timeout is None else timeout)
        try:
            _discard_input(device)
            self.printer._raw(command)
            while (left := deadline - time.monotonic()) > 0:
                _set_timeout(device, left)
                answer = [b for b in self._read_some(device) if valid(b)]
                if answer:
                    return bytes(answer[-1:])  # noise comes before an answer, not after
            return b""
        except TimeoutError:
            return b""
        except _DEVICE_ERRORS as exc:
            if _is_usb_timeout(exc):
                return b""
            raise DeviceUnreachable(f"Slip printer {self.name} went away ({exc}).") from exc
        finally:
            _set_timeout(device, saved)

    def _read_some(self, device: object) -> bytes:
        if isinstance(device, socket.socket):
            data = device.recv(64)
            if not data:
                raise ConnectionResetError("closed by the printer")
            return data
        if isinstance(device, serial.Serial):
            # read(16), as python-escpos does, would wait out the timeout for 16 bytes
            data = device.read(1)
            return data + device.read(device.in_waiting) if data else data
        return bytes(self.printer._read())


class InterfaceUsb(Usb):
    """python-escpos ``Usb`` that detaches the kernel driver (usblp) from ``interface``
    rather than always interface 0: printers with a second (e.g. HID) interface first."""

    def __init__(self, *args: object, interface: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.interface = interface

    def close(self) -> None:
        # python-escpos's close() raises when pyusb is missing, even with nothing open, and
        # Escpos.__del__ calls it: an error in a finaliser, at any moment.
        if self._device:
            super().close()

    def _check_driver(self) -> None:
        device = self.device
        if not device or not device.backend.__module__.endswith("libusb1"):
            return
        try:
            if device.is_kernel_driver_active(self.interface):
                device.detach_kernel_driver(self.interface)
        except NotImplementedError:
            pass  # libusb on this system cannot tell: nothing to detach


def usb_slip_printer(
    vendor: int,
    product: int,
    interface: int = 0,
    in_ep: int = 0x82,
    out_ep: int = 0x01,
    timeout: float = 5.0,
    check: bool = True,
    profile: str | None = None,
) -> EscposSlipPrinter:
    """An ESC/POS printer on USB ``vendor:product`` through python-escpos ``Usb`` (pyusb).
    Touches nothing until the first call."""
    dev = InterfaceUsb(
        vendor,
        product,
        interface=interface,
        timeout=int(timeout * 1000),  # pyusb counts milliseconds
        in_ep=in_ep,
        out_ep=out_ep,
        profile=profile,
    )
    name = f"USB {vendor:04x}:{product:04x}"
    return EscposSlipPrinter(dev, name, True, check, profile=profile, usb_ids=(vendor, product))


def usb_trouble(exc: BaseException, vendor: int, product: int) -> str:
    """Plain words for a USB printer that cannot be opened: what is missing and the fix."""
    ids = f"{vendor:04x}:{product:04x}"
    text = str(exc)
    if isinstance(exc, RuntimeError) and "usb" in text.lower():
        return (
            f"Slip printer USB {ids}: the pyusb package is not installed. "
            "Install it (pip install pyusb) and libusb (apt install libusb-1.0-0)."
        )
    if type(exc).__name__ == "NoBackendError" or "No backend" in text:
        return (
            f"Slip printer USB {ids}: libusb is not installed, so pyusb cannot reach USB "
            "devices. Install it: apt install libusb-1.0-0 (or your system's libusb 1.0)."
        )
    if getattr(exc, "errno", None) == 13 or "Access denied" in text or "permission" in text:
        return (
            f"Slip printer USB {ids}: permission denied. Allow this user to use it with a "
            f'udev rule, e.g. /etc/udev/rules.d/99-doms-escpos.rules: SUBSYSTEM=="usb", '
            f'ATTRS{{idVendor}}=="{vendor:04x}", ATTRS{{idProduct}}=="{product:04x}", '
            'MODE="0660", GROUP="plugdev"; then udevadm control --reload-rules && '
            "udevadm trigger, add the user to plugdev, and plug the printer in again."
        )
    if "not found" in text or "not plugged" in text:
        return f"Slip printer USB {ids} not found: check it is switched on and plugged in."
    return f"Cannot open slip printer USB {ids} ({text.strip() or type(exc).__name__})."


def _is_usb_timeout(exc: BaseException) -> bool:
    # pyusb: USBTimeoutError (newer) or USBError errno 110 (ETIMEDOUT) on a read timeout
    return type(exc).__name__ == "USBTimeoutError" or getattr(exc, "errno", None) == 110


def _discard_input(device: object) -> None:
    """Throw away bytes nobody asked for yet (a late answer), so they are not read as the
    answer to the next question."""
    if isinstance(device, serial.Serial):
        device.reset_input_buffer()
    elif isinstance(device, socket.socket):
        device.setblocking(False)
        try:
            while device.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            device.setblocking(True)


def _get_timeout(device: object) -> float | None:
    if isinstance(device, socket.socket):
        return device.gettimeout()
    if isinstance(device, serial.Serial):
        return device.timeout
    if hasattr(device, "default_timeout"):  # a pyusb Device, in milliseconds
        return device.default_timeout / 1000
    return None


def _set_timeout(device: object, seconds: float | None) -> None:
    if isinstance(device, socket.socket):
        device.settimeout(seconds)
    elif isinstance(device, serial.Serial):
        device.timeout = seconds
    elif hasattr(device, "default_timeout") and seconds is not None:
        device.default_timeout = int(seconds * 1000)
