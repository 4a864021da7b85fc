"""Log in: scan a badge (or type its id), then a PIN when the operator has one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from drivers.base import Scan
from station.packing.errors import Refused
from station.packing.operators import authenticate, needs_pin
from station.widgets.scan_input import ScanInput


class BadgePrompt(Vertical):
    """Badge then PIN; posts ``Authenticated`` through the screen's callback."""

    def __init__(self, title: str, on_operator, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.on_operator = on_operator
        self.badge: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="title")
        yield Static("Scan your badge", id="prompt")
        yield ScanInput(placeholder="badge", id="badge")
        yield Input(password=True, placeholder="PIN", id="pin", classes="hidden")
        yield Static(id="note")
        if self.app.demo is not None:
            yield Static("Demo: type B1003 and Enter (or B1001, PIN 1234).", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#badge", ScanInput).focus()

    def take_badge(self, code: str) -> None:
        app = self.app
        code = code.strip()
        if needs_pin(app.db, code, app.config.login.require_pin):
            self.badge = code
            self.query_one("#prompt", Static).update("Type your PIN, then Enter")
            pin = self.query_one("#pin", Input)
            pin.remove_class("hidden")
            pin.focus()
            return
        self._finish(code, None)

    @on(Input.Submitted, "#pin")
    def _pin(self, event: Input.Submitted) -> None:
        event.stop()
        value, event.input.value = event.value, ""
        self._finish(self.badge or "", value)

    def _finish(self, badge: str, pin: str | None) -> None:
        app = self.app
        try:
            operator = authenticate(app.db, badge, pin, app.config.login.require_pin)
        except Refused as exc:
            self.query_one("#note", Static).update(Text(str(exc), style="bold red"))
            app.bell()
            if exc.kind == "badge":
                self._reset()
            return
        self._reset()
        self.on_operator(operator)

    def _reset(self) -> None:
        self.badge = None
        self.query_one("#prompt", Static).update("Scan your badge")
        self.query_one("#pin", Input).add_class("hidden")
        self.query_one("#badge", ScanInput).focus()


class LoginScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        with Center():
            yield BadgePrompt(
                f"doms packing station {self.app.config.station_id}",
                self.app.log_in,
                classes="login",
            )
        yield Footer()

    @on(ScanInput.Scanned)
    def _wedge(self, event: ScanInput.Scanned) -> None:
        self.handle_scan(event.scan)

    def handle_scan(self, scan: Scan) -> None:
        if scan.raw.strip().upper().startswith("CMD:"):
            self.app.bell()
            return
        self.query_one(BadgePrompt).take_badge(scan.raw)
