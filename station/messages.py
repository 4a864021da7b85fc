"""Messages from device threads to the UI. Threads call plain callbacks; the app posts these."""

from __future__ import annotations

from textual.message import Message

from drivers.base import Scan, Weight
from station.camera_worker import PhotoResult


class ScaleReading(Message):
    """A live reading; fast and many, so a newer one replaces a stale one in the queue."""

    def __init__(self, weight: Weight) -> None:
        super().__init__()
        self.weight = weight

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScaleReading)


class DeviceStatus(Message):
    """A device changed health: ``problem`` is None when it is fine again."""

    def __init__(self, device: str, problem: str | None) -> None:
        super().__init__()
        self.device = device
        self.problem = problem


class ScanArrived(Message):
    """A scan from a serial scanner (the wedge arrives as key presses instead)."""

    def __init__(self, scan: Scan) -> None:
        super().__init__()
        self.scan = scan


class PrintQueueChanged(Message):
    """A print job moved; ``error`` is the printer's problem, None when it printed."""

    def __init__(self, role: str, error: str | None) -> None:
        super().__init__()
        self.role = role
        self.error = error


class PhotoTaken(Message):
    """The camera answered a request: a stored photo, or why there is none."""

    def __init__(self, result: PhotoResult) -> None:
        super().__init__()
        self.result = result
