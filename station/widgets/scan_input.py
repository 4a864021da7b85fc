"""The scan field: where a keyboard-wedge scanner types, and where a person can type too."""

from __future__ import annotations

import time

from textual.message import Message
from textual.widgets import Input

from drivers.base import Scan


class ScanInput(Input):
    """An Input that turns Enter into a ``ScanInput.Scanned`` message and clears itself."""

    class Scanned(Message):
        def __init__(self, scan: Scan) -> None:
            super().__init__()
            self.scan = scan

    def __init__(self, placeholder: str = "scan or type, then Enter", **kwargs: object) -> None:
        super().__init__(placeholder=placeholder, **kwargs)  # type: ignore[arg-type]

    async def action_submit(self) -> None:
        raw = self.value
        self.value = ""
        if raw.strip():
            self.post_message(self.Scanned(Scan(raw=raw, source="wedge", at=time.perf_counter())))
