"""ZPL label printers: raw TCP 9100 (or any transport), CUPS queue, device file."""

from __future__ import annotations

import logging
import os
import subprocess
import time

import zebra

from drivers.base import LabelPrinter, PrinterState, PrinterStatus
from drivers.errors import (
    BadFrame,
    DeliveryUncertain,
    DeviceError,
    DeviceUnreachable,
    PrinterFault,
)
from drivers.protocols import zpl
from drivers.protocols.zpl_hqes import ERROR_FLAGS, HOST_QUERY_ES, answer_complete, parse_hqes
from drivers.protocols.zpl_status import HsFramer, parse_host_status
from drivers.transports.base import Transport
from drivers.transports.tcp import TcpTransport

log = logging.getLogger(__name__)


class _NoStatusAnswer(DeviceUnreachable):
    """Connected, but no ``~HS`` answer came (as opposed to: could not connect)."""


class ZplPrinter(LabelPrinter):
    """A ZPL printer on a two-way transport (TCP 9100, serial).

    ``check_status``: before each job, ask ``~HS`` on the same connection and refuse to
    send (PrinterFault) if the printer is out of paper, open, paused... A printer in such
    a state still *accepts* the bytes and prints them once the fault is cleared, which is
    rarely what the packer expects an hour later. When ``~HS`` reports a fault, ``~HQES``
    is asked for its cause (cutter, motor temperature...). A printer that has never
    answered ``~HS`` may not speak it and gets the job anyway; one that answered before
    and now connects but stays silent is NOT_ANSWERING (some models fall silent while the
    head is open): PrinterFault, the job waits. ``close_after``: drop the connection after
    each call, because many printers serve one TCP client at a time. ``delivery_timeout``:
    how long the printer may take to acknowledge the last byte of a job (big graphics on a
    slow link).
    """

    CAN_STATUS = True

    def __init__(
        self,
        transport: Transport,
        status_timeout: float = 2.0,
        check_status: bool = True,
        close_after: bool = True,
        delivery_timeout: float = 15.0,
    ) -> None:
        self.transport = transport
        self.status_timeout = status_timeout
        self.check_status = check_status
        self.close_after = close_after
        self.delivery_timeout = delivery_timeout
        self.answered_before = False  # has ~HS ever been answered: the printer speaks it
        self._hqes_answered: bool | None = None  # None: not asked yet

    def status(self) -> PrinterStatus:
        """Send ``~HS`` (and ``~HQES`` for causes and warnings). Never raises.

        Returns UNREACHABLE if the printer cannot be reached, NOT_ANSWERING if it takes
        the connection but does not answer within ``status_timeout``, UNKNOWN (with
        ``detail``) if the answer cannot be read.
        """
        try:
            return self._status(detailed=True)
        except _NoStatusAnswer as exc:
            return PrinterStatus((PrinterState.NOT_ANSWERING,), detail=str(exc))
        except DeviceUnreachable as exc:
            return PrinterStatus((PrinterState.UNREACHABLE,), detail=str(exc))
        except BadFrame as exc:
            return PrinterStatus((PrinterState.UNKNOWN,), detail=str(exc))
        finally:
            self._done()

    def send(self, data: bytes) -> None:
        """Deliver ``data`` in full, or raise.

        Raises PrinterFault (``check_status`` found paper out, head open..., or a printer
        that answered before is silent now; nothing sent), DeviceUnreachable (could not
        connect: nothing sent, safe to retry) or
        DeliveryUncertain (the connection broke while the job was being written or before
        the printer acknowledged it: it may have printed, so do not resend by itself).
        "Delivered" means the printer's network stack acknowledged every byte.
        """
        try:
            if self.check_status:
                try:
                    status = self._status(detailed=False)
                except _NoStatusAnswer as exc:
                    if self.answered_before:
                        status = PrinterStatus((PrinterState.NOT_ANSWERING,), detail=str(exc))
                    else:
                        status = PrinterStatus()
                        log.info("no printer status, sending anyway: %s", exc)
                except BadFrame as exc:
                    status = PrinterStatus()
                    log.info("printer status unreadable, sending anyway: %s", exc)
                if not status.ready:
                    raise PrinterFault(_fault_words(status), [str(c) for c in status.conditions])
            self.transport.open()
            try:
                self.transport.write(data)
                self.transport.drain(self.delivery_timeout)
            except DeviceUnreachable as exc:
                raise DeliveryUncertain(
                    f"Connection to the label printer broke while sending ({exc}). "
                    "The label may or may not have printed: check before reprinting."
                ) from exc
        finally:
            self._done()

    def close(self) -> None:
        """Release the connection. Never raises."""
        self.transport.close()

    def _status(self, detailed: bool) -> PrinterStatus:
        self.transport.reset_input()
        self.transport.write(zpl.HOST_STATUS)
        framer = HsFramer()
        deadline = time.monotonic() + self.status_timeout
        while not framer.complete():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            framer.feed(self.transport.read(remaining))
        if not framer.frames:
            raise _NoStatusAnswer(
                f"Label printer at {self.transport.name} takes the connection but does not "
                "answer: check its head/cover is closed and its display."
            )
        self.answered_before = True
        status = parse_host_status(framer.frames).to_status()
        if (detailed or not status.ready) and self._hqes_answered is not False:
            status = self._with_causes(status)
        return status

    def _with_causes(self, hs: PrinterStatus) -> PrinterStatus:
        """``hs`` made precise by ``~HQES``; ``hs`` itself if the printer does not answer it
        (older firmware), and then ``~HQES`` is not asked again."""
        self.transport.reset_input()
        self.transport.write(HOST_QUERY_ES)
        answer = b""
        deadline = time.monotonic() + min(self.status_timeout, 1.0)
        while not answer_complete(answer):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            answer += self.transport.read(remaining)
        try:
            es = parse_hqes(answer).to_status()
        except BadFrame as exc:
            log.info("no usable ~HQES answer, keeping ~HS: %s", exc)
            if self._hqes_answered is None:
                self._hqes_answered = False
            return hs
        self._hqes_answered = True
        return _merge(hs, es)

    def _done(self) -> None:
        if self.close_after:
            self.transport.close()


def _merge(hs: PrinterStatus, es: PrinterStatus) -> PrinterStatus:
    """One status from ``~HS`` and ``~HQES``: the causes of ``~HQES``, the buffer state
    and queued-label count only ``~HS`` knows."""
    causes = tuple(c for c in es.conditions if c != PrinterState.READY)
    notes = [n for n in hs.detail.split("; ") if "waiting" in n]
    if not causes and not hs.ready:
        causes = hs.conditions  # they disagree: trust the flag ~HS raised, and its words
        notes = [n for n in hs.detail.split("; ") if n]
    extra = tuple(c for c in hs.conditions if c == PrinterState.BUFFER_FULL and c not in causes)
    detail = "; ".join(d for d in (es.detail, *notes) if d)
    return PrinterStatus(conditions=causes + extra or (PrinterState.READY,), detail=detail)


# ~HQES words that only repeat what describe() says of a condition
_SAID = {words for words, state in ERROR_FLAGS.values() if state != PrinterState.OTHER_ERROR}


def _fault_words(status: PrinterStatus) -> str:
    words = f"Label printer {status.describe()}"
    extra = [n for n in status.detail.split("; ") if n and n not in _SAID]
    if extra and PrinterState.NOT_ANSWERING not in status.conditions:
        words += f" ({'; '.join(extra)})"
    return words + "."


class ZplTcpPrinter(ZplPrinter):
    """A ZPL printer on raw TCP (port 9100, "JetDirect")."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0, **options: bool) -> None:
        super().__init__(
            TcpTransport(host, port, timeout), status_timeout=min(timeout, 2.0), **options
        )


class _CheckedZebra(zebra.Zebra):
    """zebra.Zebra, but a failing ``lpr`` is reported instead of ignored.

    zebra 0.2 runs ``lpr -P QUEUE -oraw`` and never looks at its exit status, so a job to
    a missing queue would vanish silently. Windows keeps zebra's own win32print path.
    """

    LPR = ["lpr"]  # tests point this at a stand-in

    def _output_unix(self, commands: bytes) -> None:
        try:
            done = subprocess.run(
                [*self.LPR, f"-P{self.queue}", "-oraw"],
                input=commands,
                capture_output=True,
                timeout=30,
            )
        except OSError as exc:
            raise DeviceUnreachable(
                f"Cannot hand the label to CUPS ({exc}): is cups-client installed?"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DeliveryUncertain(
                f"CUPS did not confirm the label for queue {self.queue} in time: "
                "check the queue (lpstat) before reprinting."
            ) from exc
        if done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
            raise DeviceUnreachable(f"CUPS refused the label for queue {self.queue}: {why}")


class ZplCupsPrinter(LabelPrinter):
    """A ZPL printer behind a CUPS raw queue, through the ``zebra`` package.

    CUPS only tells whether the queue is enabled, not the printer's paper, so
    CAN_STATUS is False and status() is UNKNOWN (or PAUSED for a disabled queue).
    """

    CAN_STATUS = False
    LPSTAT = ["lpstat"]

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._zebra = _CheckedZebra(queue)

    def status(self) -> PrinterStatus:
        """The CUPS queue state: UNKNOWN, PAUSED (queue disabled) or UNREACHABLE. Never raises."""
        try:
            out = subprocess.run(
                [*self.LPSTAT, "-p", self.queue], capture_output=True, timeout=10, text=True
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return PrinterStatus((PrinterState.UNKNOWN,), detail=f"lpstat failed: {exc}")
        if out.returncode != 0:
            return PrinterStatus(
                (PrinterState.UNREACHABLE,), detail=f"CUPS has no queue {self.queue!r}"
            )
        if "disabled" in out.stdout:
            return PrinterStatus(
                (PrinterState.PAUSED,), detail=f"CUPS queue disabled: cupsenable {self.queue}"
            )
        return PrinterStatus((PrinterState.UNKNOWN,))

    def send(self, data: bytes) -> None:
        """Queue ``data`` raw (bytes, never re-encoded).

        Raises DeviceUnreachable (CUPS refused it: not queued) or DeliveryUncertain (lpr
        did not finish in time).
        """
        try:
            self._zebra.output(bytes(data))
        except DeviceError:
            raise
        except Exception as exc:  # win32print errors on Windows have their own types
            raise DeviceUnreachable(f"Cannot queue the label on {self.queue}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release. Never raises."""


class ZplFilePrinter(LabelPrinter):
    """Append ZPL to a file or a device node such as ``/dev/usb/lp0`` (one-way)."""

    CAN_STATUS = False

    def __init__(self, path: str) -> None:
        self.path = path

    def status(self) -> PrinterStatus:
        """UNKNOWN if the file can be written, UNREACHABLE if not. Never raises."""
        target = self.path if os.path.exists(self.path) else os.path.dirname(self.path) or "."
        if os.access(target, os.W_OK):
            return PrinterStatus((PrinterState.UNKNOWN,))
        return PrinterStatus((PrinterState.UNREACHABLE,), detail=f"cannot write {self.path}")

    def send(self, data: bytes) -> None:
        """Append ``data`` and flush.

        Raises DeviceUnreachable (cannot open: nothing written) or DeliveryUncertain
        (the write failed part-way, e.g. the USB cable was pulled).
        """
        try:
            f = open(self.path, "ab")  # noqa: SIM115 - open and write fail differently
        except OSError as exc:
            raise DeviceUnreachable(
                f"Cannot write to label printer {self.path}: {exc.strerror or exc}. "
                "Check it is plugged in."
            ) from exc
        try:
            with f:
                f.write(data)
                f.flush()
        except OSError as exc:
            raise DeliveryUncertain(
                f"Writing to label printer {self.path} failed part-way ({exc.strerror or exc}). "
                "The label may or may not have printed: check before reprinting."
            ) from exc

    def close(self) -> None:
        """Nothing to release. Never raises."""
