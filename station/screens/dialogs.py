"""Small modal dialogs of the pack screen, each answerable by keys or by barcodes."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from drivers.base import Scan
from station.commands import COMMANDS, DIALOG_CODES, RECEIVING_COMMANDS
from station.packing.errors import Refused
from station.packing.model import LineView, OrderView
from station.packing.operators import Operator, authenticate, needs_pin
from station.widgets.scan_input import ScanInput

REASON_KEYS = {"1": "missing", "2": "damaged", "3": "wrong_item_picked", "4": "other"}


class Dialog(ModalScreen):
    """Escape (or scanning CMD:CANCEL) closes it with no answer."""

    BINDINGS = [Binding("escape", "cancel", "Back", priority=True)]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def handle_scan(self, scan: Scan) -> None:
        if scan.raw.strip().upper() == "CMD:CANCEL":
            self.dismiss(None)
        else:
            self.on_code(scan.raw.strip())

    def on_code(self, code: str) -> None:
        """A barcode or typed answer other than cancel."""

    @on(ScanInput.Scanned)
    def _typed(self, event: ScanInput.Scanned) -> None:
        event.stop()
        self.handle_scan(event.scan)

    def note(self, text: str) -> None:
        self.query_one("#note", Static).update(Text(text, style="bold red"))
        self.app.bell()


class ShortDialog(Dialog):
    """Pick the line (its number, or scan the item) then the reason (1-4 or a CMD:REASON)."""

    def __init__(self, lines: list[LineView]) -> None:
        super().__init__()
        self.lines = lines
        self.line: LineView | None = lines[0] if len(lines) == 1 else None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Mark a line short[/b]", markup=True)
            yield Static(id="body")
            yield Static(id="note")
            yield ScanInput(placeholder="line number, then reason number")

    def on_mount(self) -> None:
        self._show()
        self.query_one(ScanInput).focus()

    def _show(self) -> None:
        if self.line is None:
            rows = "\n".join(
                f"  {ln.line_no}  {ln.sku}  {ln.name}  ({ln.remaining} missing)"
                for ln in self.lines
            )
            self.query_one("#body", Static).update(f"Which line? Type its number:\n{rows}")
        else:
            reasons = "\n".join(f"  {k}  {v.replace('_', ' ')}" for k, v in REASON_KEYS.items())
            self.query_one("#body", Static).update(
                f"Line {self.line.line_no} {self.line.name}: {self.line.remaining} short.\n"
                f"Why? Type the number or scan a reason barcode:\n{reasons}"
            )

    def on_code(self, code: str) -> None:
        upper = code.upper()
        if self.line is None:
            match = [ln for ln in self.lines if str(ln.line_no) == code or ln.sku == code]
            if not match:
                self.note(f"No open line {code!r}.")
                return
            self.line = match[0]
            self._show()
            return
        reason = REASON_KEYS.get(code)
        if upper.startswith("CMD:REASON:"):
            reason = upper.split(":", 2)[2].lower()
        if reason not in REASON_KEYS.values():
            self.note("Reason: 1 missing, 2 damaged, 3 wrong item picked, 4 other.")
            return
        self.dismiss((self.line.line_id, reason))


class QuantityDialog(Dialog):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                "[b]Quantity[/b]: type how many, Enter, then scan the item once.", markup=True
            )
            yield Static(id="note")
            yield ScanInput(placeholder="quantity")

    def on_mount(self) -> None:
        self.query_one(ScanInput).focus()

    def on_code(self, code: str) -> None:
        if not code.isdigit() or int(code) < 1:
            self.note(f"{code!r} is not a quantity.")
            return
        self.dismiss(int(code))


class MoveDialog(Dialog):
    """Move one unit: the line (number or item scan), then the package number."""

    def __init__(self, order: OrderView) -> None:
        super().__init__()
        self.order = order
        self.line_id: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Move one unit to another package[/b]", markup=True)
            yield Static(id="body")
            yield Static(id="note")
            yield ScanInput(placeholder="line number, then package number")

    def on_mount(self) -> None:
        body = "\n".join(
            f"  {ln.line_no}  {ln.name} ({ln.scanned} scanned)"
            for ln in self.order.lines
            if ln.scanned
        )
        packages = ", ".join(str(p.package_no) for p in self.order.packages if p.status == "open")
        self.query_one("#body", Static).update(
            f"Which line?\n{body}\nThen which package: {packages}"
        )
        self.query_one(ScanInput).focus()

    def on_code(self, code: str) -> None:
        if self.line_id is None:
            match = [
                ln
                for ln in self.order.lines
                if ln.scanned and (str(ln.line_no) == code or ln.sku == code)
            ]
            if not match:
                self.note(f"No scanned line {code!r}.")
                return
            self.line_id = match[0].line_id
            self.query_one(ScanInput).placeholder = "package number"
            return
        if not code.isdigit():
            self.note("Type the package number.")
            return
        self.dismiss((self.line_id, int(code)))


class OverrideDialog(Dialog):
    """A lead scans their badge (and PIN if they have one) to accept a weight."""

    def __init__(self, badge: str | None = None, title: str | None = None) -> None:
        super().__init__()
        self.badge = badge
        self.title_text = title or "the parcel weight is outside tolerance."
        self.ask = (
            "Lead: scan your badge." if title else "Lead: scan your badge to approve the label."
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]Lead override[/b]: {self.title_text}", markup=True)
            yield Static(id="body")
            yield Static(id="note")
            yield ScanInput(placeholder="lead badge")
            yield Input(password=True, placeholder="PIN", id="pin", classes="hidden")

    def on_mount(self) -> None:
        if self.badge:
            self._ask_pin()
        else:
            self.query_one("#body", Static).update(self.ask)
            self.query_one(ScanInput).focus()

    def _ask_pin(self) -> None:
        self.query_one("#body", Static).update("Lead: type your PIN, then Enter.")
        self.query_one(ScanInput).add_class("hidden")
        pin = self.query_one("#pin", Input)
        pin.remove_class("hidden")
        pin.focus()

    def on_code(self, code: str) -> None:
        self.badge = code
        if needs_pin(self.app.db, code, self.app.config.login.require_pin):
            self._ask_pin()
        else:
            self._finish(None)

    @on(Input.Submitted, "#pin")
    def _pin(self, event: Input.Submitted) -> None:
        event.stop()
        value, event.input.value = event.value, ""
        self._finish(value)

    def _finish(self, pin: str | None) -> None:
        try:
            lead: Operator = authenticate(
                self.app.db, self.badge or "", pin, self.app.config.login.require_pin
            )
        except Refused as exc:
            self.note(str(exc))
            return
        if not lead.is_lead:
            self.note(f"{lead.name} is not a lead.")
            return
        self.dismiss(lead)


class HelpDialog(Dialog):
    def compose(self) -> ComposeResult:
        rows = [
            f"  {c.key_text:8} {c.barcode:14} {c.description}"
            for c in (*COMMANDS, *RECEIVING_COMMANDS)
        ]
        rows += [f"  {'':8} {code:14} {text}" for code, text in DIALOG_CODES]
        with Vertical(classes="dialog wide"):
            yield Static("[b]Keys and command barcodes[/b]", markup=True)
            yield Static("\n".join(rows))
            yield Static("Ctrl+P prints these as barcodes. Esc closes.")
            yield Static(id="note")
