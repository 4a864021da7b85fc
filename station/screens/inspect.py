"""Inbound inspection (Shift+F2, inspectors and leads): note damaged goods of a receipt.

The inspector scans the receipt or PO reference, then a damaged item, types how many are
damaged, photographs them (Shift+F1, as often as needed: each photo is of
``receipt/<ref>``) and picks the reason by its number. The reason ends the note: one
``inbound_inspected`` event with the hashes of its photos. The receipt stays open for the
next item; scanning a code that is no item starts another receipt. Esc goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from station.commands import BY_NAME
from station.inspection import INBOUND_REASONS, find_sku, record_inspection
from station.packing.errors import Refused
from station.packing.operators import Operator
from station.screens.dialogs import Dialog
from station.widgets.scan_input import ScanInput

if TYPE_CHECKING:
    from station.camera_worker import PhotoResult

PHOTO = BY_NAME["PHOTO"]


def may_inspect(operator: Operator | None) -> bool:
    return operator is not None and operator.role in ("inspector", "lead")


class InspectScreen(Dialog):
    BINDINGS = [
        Binding("escape", "cancel", "Back", priority=True),
        Binding(PHOTO.key, "photo", "Photo", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ref: str | None = None
        self.item: tuple[str, str] | None = None  # (sku, name)
        self.qty: int | None = None
        self.photos: list[str] = []  # sha256 of this note's photos
        self.waiting: set[int] = set()  # tokens of photos not answered yet
        self.noted = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static("[b]Inbound inspection[/b]  (Esc back)", markup=True)
            yield Static(id="body")
            yield Static(id="said")
            yield Static(id="note")
            yield ScanInput(placeholder="receipt / PO, item barcode, number")

    def on_mount(self) -> None:
        self._show()
        self.query_one(ScanInput).focus()

    def _show(self) -> None:
        if self.ref is None:
            text = "Scan the receipt or PO reference."
        elif self.item is None:
            text = (
                f"Receipt {self.ref}: scan a damaged item "
                "(a code that is no item starts another receipt)."
            )
        elif self.qty is None:
            text = f"{self.item[1]} ({self.item[0]}): how many are damaged? Type it, Enter."
        else:
            reasons = "  ".join(f"{n} {r.replace('_', ' ')}" for n, r in _numbered())
            text = (
                f"{self.qty} × {self.item[1]} ({self.item[0]}) damaged. Photograph it "
                f"({PHOTO.key_text}), then the reason:\n  {reasons}"
            )
        if self.photos or self.waiting:
            text += f"\nPhotos of this note: {len(self.photos)}"
            text += f" (+{len(self.waiting)} being taken)" if self.waiting else ""
        self.query_one("#body", Static).update(text)

    def say(self, text: str) -> None:
        self.query_one("#note", Static).update("")
        self.query_one("#said", Static).update(Text(text, style="bold green"))

    def on_code(self, code: str) -> None:
        self.query_one("#note", Static).update("")
        try:
            self._code(code)
        except Refused as exc:
            self.note(str(exc))
        self._show()

    def _code(self, code: str) -> None:
        if code.upper() == PHOTO.barcode:
            self.action_photo()
            return
        if code.upper().startswith("CMD:"):
            raise Refused(f"{code} does nothing here: Esc goes back to packing.")
        if self.item is not None and self.qty is None:
            if not code.isdigit() or int(code) < 1:
                raise Refused(f"{code!r} is not a quantity: type how many, Enter.")
            self.qty = int(code)
            return
        if self.item is not None:
            self._finish(code)
            return
        found = find_sku(self.app.db, self.app.service.classify(code))
        if found is None:
            if self.ref is not None and code != self.ref:
                self.photos.clear()  # another receipt: its photos would be of the old one
            self.ref = code
            return
        if self.ref is None:
            raise Refused(f"That is an item ({found[0]}): scan the receipt or PO first.")
        self.item = found

    def _finish(self, code: str) -> None:
        numbered = dict(_numbered())
        reason = numbered.get(code, code.lower())
        if reason not in INBOUND_REASONS:
            raise Refused(f"Pick the reason by its number, 1 to {len(INBOUND_REASONS)}.")
        if self.waiting:
            raise Refused("Wait for the photo being taken, then pick the reason again.")
        assert self.ref is not None and self.item is not None and self.qty is not None
        record_inspection(
            self.app.db,
            self.app.config.station_id,
            self.app.operator.badge,
            self.ref,
            self.item[0],
            self.qty,
            reason,
            self.photos,
        )
        self.app.events_written()
        self.noted += 1
        photos = f", {len(self.photos)} photo(s)" if self.photos else ""
        self.say(f"Noted: {self.qty} × {self.item[0]} {reason.replace('_', ' ')}{photos}.")
        self.item, self.qty, self.photos = None, None, []

    def action_photo(self) -> None:
        if self.ref is None:
            self.note("Scan the receipt or PO first: photos are of a receipt.")
            return
        request = self.app.take_photo(f"receipt/{self.ref}")
        if request is None:
            self.note("No camera here: set [devices] camera in the station configuration.")
            return
        self.waiting.add(request.token)
        self.say("Taking a photo…")
        self._show()

    def photo_taken(self, result: PhotoResult) -> None:
        if result.request.token not in self.waiting:
            return
        self.waiting.discard(result.request.token)
        stored = result.stored
        if stored is None:
            self.note(f"No photo: {result.error}")
        else:
            if stored.sha256 not in self.photos:
                self.photos.append(stored.sha256)
            self.say(f"📷 Photo {stored.sha256[:12]} saved for receipt {self.ref}.")
        self._show()


def _numbered() -> list[tuple[str, str]]:
    return [(str(n), reason) for n, reason in enumerate(INBOUND_REASONS, 1)]
