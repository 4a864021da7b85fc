"""Device errors, each with a message a packer can act on.

Every driver raises one of these and nothing else; the station shows ``str(err)`` as it is,
so messages are written in plain words, for the person at the bench, with what to do.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base class: something is wrong with a device. ``str()`` is for the person at the station."""


class DeviceUnreachable(DeviceError):
    """The device does not answer: unplugged, powered off, wrong address, or timed out."""


class DeviceBusy(DeviceError):
    """The device answered but cannot do it now (scale busy, printer paused)."""


class BadFrame(DeviceError):
    """Bytes arrived that are not a valid frame of the protocol (noise, wrong settings)."""


class ScaleError(DeviceError):
    """The scale reports a condition: overload, underload, not stable, command refused.

    ``condition`` is the machine-readable name: ``overload``, ``underload``, ``unstable``,
    ``busy``, ``refused`` (or ``""`` when not known).
    """

    def __init__(self, message: str, condition: str = "") -> None:
        super().__init__(message)
        self.condition = condition


class PrinterFault(DeviceError):
    """The printer reports a condition that stops printing (paper out, head open, ribbon out).

    ``conditions`` lists the machine-readable names, e.g. ``["paper_out", "head_open"]``.
    """

    def __init__(self, message: str, conditions: list[str] | None = None) -> None:
        super().__init__(message)
        self.conditions = list(conditions or [])


class BadDeviceURL(DeviceError):
    """A device URL in the configuration cannot be understood."""


class DeliveryUncertain(DeviceUnreachable):
    """The connection broke while a job was being written: it may or may not have printed.

    A job in this state is never resent by itself (that could print it twice); the person
    at the station checks the printer and reprints if needed.
    """


class DeliveryFailed(DeviceUnreachable):
    """The connection broke before the printer confirmed the job: it did not print in full.

    At most a piece of it came out (a slip without its cut); sending the job again prints it
    whole, so the caller may retry by itself. Raised where the printer can confirm a job
    (ESC/POS ``GS r 1`` after it) or where the port itself failed part-way.
    """
