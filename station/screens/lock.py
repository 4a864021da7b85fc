"""The lock screen after idle time: the same badge unlocks; another badge takes over."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Center
from textual.screen import ModalScreen

from drivers.base import Scan
from station.packing.operators import Operator
from station.screens.login import BadgePrompt
from station.widgets.scan_input import ScanInput


class LockScreen(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        who = self.app.operator.name if self.app.operator else ""
        with Center():
            yield BadgePrompt(
                f"Station locked ({who}). Scan your badge to go on.",
                self._unlocked,
                classes="login",
            )

    def _unlocked(self, operator: Operator) -> None:
        app = self.app
        app.last_activity_reset()
        if app.operator is not None and operator.badge == app.operator.badge:
            self.dismiss(None)
            return
        # Someone else takes the station over: the first operator is logged out.
        app.log_out("taken over")
        app.log_in(operator)

    @on(ScanInput.Scanned)
    def _wedge(self, event: ScanInput.Scanned) -> None:
        event.stop()
        self.handle_scan(event.scan)

    def handle_scan(self, scan: Scan) -> None:
        self.query_one(BadgePrompt).take_badge(scan.raw)
