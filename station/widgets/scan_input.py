"""The scan field: where a keyboard-wedge scanner types, and where a person can type too."""

from __future__ import annotations

import time

from textual import events
from textual.message import Message
from textual.widgets import Input

from drivers.base import Scan
from drivers.wedge import WedgeDetector


class ScanInput(Input):
    """An Input that turns Enter into a ``ScanInput.Scanned`` message and clears itself.

    Key timing tells a wedge scanner's burst from a person's typing (``Scan.source`` is
    ``wedge`` or ``keyboard``); when a burst follows a few stray typed keys, only the burst
    counts, so a half-typed id never corrupts a scan.
    """

    class Scanned(Message):
        def __init__(self, scan: Scan) -> None:
            super().__init__()
            self.scan = scan

    def __init__(self, placeholder: str = "scan or type, then Enter", **kwargs: object) -> None:
        super().__init__(placeholder=placeholder, **kwargs)  # type: ignore[arg-type]
        self.detector = WedgeDetector()

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            self.detector.feed(event.character, time.perf_counter())

    async def action_submit(self) -> None:
        now = time.perf_counter()
        burst = self.detector.feed("enter", now)
        raw = self.value
        self.value = ""
        if burst is not None and burst.is_scan and burst.typed and raw.endswith(burst.scan):
            raw = burst.scan
        source = "wedge" if burst is not None and burst.is_scan else "keyboard"
        if raw.strip():
            self.post_message(self.Scanned(Scan(raw=raw, source=source, at=now)))
