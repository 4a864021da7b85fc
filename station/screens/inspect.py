"""Receiving and inbound inspection (Shift+F2, inspectors and leads).

The inspector scans the receipt or PO reference, then every unit that arrived: each scan
counts one unit (a case GTIN the units it holds; a number typed first, or after F4, counts
that many of the next item). The tally per SKU is on screen and on disk
(``station/receiving.py``), so a receipt left open, by Esc or a restart, is there again
at the next Shift+F2. F3 takes back the last count.

Damaged units are counted like the others, then noted: F2 (``CMD:DAMAGED``), scan the
item, type how many, photograph them (Shift+F1, as often as needed: each photo is of
``receipt/<ref>``) and pick the reason by its number. The reason ends the note: one
``inbound_inspected`` event with the hashes of its photos. Esc cancels a note in progress.

F10 (``CMD:RECEIVED``) closes the receipt: one ``goods_received`` event with the lines,
which the hub books as stock. Esc goes back.

A customer return goes the same way: scanning its order reference (the packing slip's
Code 128; a return slip prints it on its "Order" line; the order id works too) opens a
*return* of that order instead of a PO
receipt, when this station holds the order. Only the order's SKUs count, at most what it
shipped; damaged units are noted as above, and F10 sends one ``goods_returned``. An
order packed at another station is not here: F5 (``CMD:RETURN``) first says the next
reference is a return slip, any item counts and the hub checks the order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from drivers.base import Scan
from station.commands import BY_NAME, RECEIVING_COMMANDS
from station.inspection import INBOUND_REASONS, record_inspection
from station.packing.errors import Refused
from station.packing.operators import Operator
from station.receiving import (
    Item,
    OpenReceipt,
    close_receipt,
    count_units,
    find_item,
    find_return,
    open_receipt,
    start_receipt,
    tally,
    undamaged_counted,
    undo_count,
)
from station.screens.dialogs import Dialog
from station.widgets.scan_input import ScanInput

if TYPE_CHECKING:
    from station.camera_worker import PhotoResult

PHOTO, UNDO, QTY = BY_NAME["PHOTO"], BY_NAME["UNDO"], BY_NAME["QTY"]
DAMAGED, RECEIVED, RETURN = RECEIVING_COMMANDS
_KEYS = (PHOTO, UNDO, QTY, DAMAGED, RECEIVED, RETURN)
_ACTIONS = {
    PHOTO.barcode: "photo",
    UNDO.barcode: "undo",
    QTY.barcode: "quantity",
    DAMAGED.barcode: "damaged",
    RECEIVED.barcode: "close_receipt",
    RETURN.barcode: "return_slip",
}


_TALLY_ROWS = 12  # SKUs shown: the dialog must fit a 40-line terminal


def may_inspect(operator: Operator | None) -> bool:
    return operator is not None and operator.role in ("inspector", "lead")


class InspectScreen(Dialog):
    BINDINGS = [
        Binding("escape", "cancel", "Back", priority=True),
        *(Binding(c.key, _ACTIONS[c.barcode], c.label, priority=True) for c in _KEYS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.receipt: OpenReceipt | None = None
        self.pending_qty: int | None = None  # keyed: the next item scan counts this many
        self.return_next = False  # F5: the next reference is a return slip's
        self.damage = False  # a damage note is being taken
        self.item: Item | None = None  # the damaged item
        self.qty: int | None = None  # how many of it are damaged
        self.photos: list[str] = []  # sha256 of this note's photos
        self.waiting: set[int] = set()  # tokens of photos not answered yet
        self.noted = 0
        self.closed = 0

    @property
    def ref(self) -> str | None:
        return self.receipt.ref if self.receipt else None

    @property
    def what(self) -> str:
        """The open receipt as the inspector reads it."""
        if self.receipt is None:
            return ""
        if self.receipt.is_return and self.receipt.order_id is None:
            return f"Return of order {self.receipt.ref} (not packed here: the hub checks it)"
        if self.receipt.is_return:
            return f"Return of order {self.receipt.ref}"
        return f"Receipt {self.ref}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            keys = "  ".join(f"{c.key_text} {c.label.lower()}" for c in _KEYS)
            yield Static(f"[b]Receiving and inspection[/b]  (Esc back)\n{keys}", markup=True)
            yield Static(id="body")
            yield Static(id="tally")
            yield Static(id="said")
            yield Static(id="note")
            yield ScanInput(placeholder="receipt / PO / return slip, item barcode, number")

    def on_mount(self) -> None:
        self.receipt = open_receipt(self.app.db)
        if self.receipt is not None:
            self.say(
                f"{self.what} is still open (opened by {self.receipt.operator}): "
                f"go on counting, {RECEIVED.key_text} closes it."
            )
        self._show()
        self.query_one(ScanInput).focus()

    # -- what the screen shows ----------------------------------------------------------
    def _show(self) -> None:
        if self.receipt is None and self.return_next:
            text = "Customer return: scan the order reference on its slip."
        elif self.receipt is None:
            text = "Scan the receipt or PO reference. A customer return: scan its slip."
        elif self.damage:
            text = self._damage_prompt()
        elif self.pending_qty is not None:
            text = f"{self.what}: scan the item to count {self.pending_qty} of it."
        else:
            text = (
                f"{self.what}: scan each unit that arrived (type a number first to "
                f"count that many). {DAMAGED.key_text} notes damaged units, "
                f"{RECEIVED.key_text} closes the receipt."
            )
        if self.photos or self.waiting:
            text += f"\nPhotos of this note: {len(self.photos)}"
            text += f" (+{len(self.waiting)} being taken)" if self.waiting else ""
        self.query_one("#body", Static).update(text)
        self.query_one("#tally", Static).update(self._tally_text())

    def _damage_prompt(self) -> str:
        if self.item is None:
            return "Damage note: scan the damaged item (Esc cancels the note)."
        name = f"{self.item.name} ({self.item.sku})"
        if self.qty is None:
            return f"{name}: how many are damaged? Type it, Enter."
        reasons = "  ".join(f"{n} {r.replace('_', ' ')}" for n, r in _numbered())
        return (
            f"{self.qty} × {name} damaged. Photograph it ({PHOTO.key_text}), "
            f"then the reason:\n  {reasons}"
        )

    def _tally_text(self) -> str:
        if self.receipt is None:
            return ""
        lines = tally(self.app.db, self.receipt.receipt_id)
        if not lines:
            return "Nothing counted yet."
        got = "returned" if self.receipt.is_return else "received"
        rows = [f"  {'SKU':16} {got:>8} {'damaged':>8} {'to stock':>8}  item"]
        if len(lines) > _TALLY_ROWS:  # a long receipt: the latest SKUs, the totals below
            rows.append(f"  … {len(lines) - _TALLY_ROWS} SKU(s) counted earlier")
        rows += [
            f"  {ln.sku:16} {ln.qty_received:>8} {ln.qty_damaged:>8} {ln.qty_good:>8}  {ln.name}"
            for ln in lines[-_TALLY_ROWS:]
        ]
        received = sum(ln.qty_received for ln in lines)
        damaged = sum(ln.qty_damaged for ln in lines)
        rows.append(f"  {len(lines)} SKU(s), {received} unit(s) {got}, {damaged} damaged")
        return "\n".join(rows)

    def say(self, text: str) -> None:
        self.query_one("#note", Static).update("")
        self.query_one("#said", Static).update(Text(text, style="bold green"))

    # -- scans and typed answers --------------------------------------------------------
    def on_code(self, code: str) -> None:
        self.query_one("#note", Static).update("")
        try:
            self._code(code)
        except Refused as exc:
            self.note(str(exc))
        self._show()

    def _code(self, code: str) -> None:
        action = _ACTIONS.get(code.upper())
        if action is not None:
            getattr(self, f"action_{action}")()
            return
        if code.upper().startswith("CMD:"):
            raise Refused(f"{code} does nothing here: Esc goes back to packing.")
        if self.damage:
            self._damage_code(code)
            return
        parsed = self.app.service.classify(code)
        item = find_item(self.app.db, parsed)
        if item is not None:
            self._count(item, code)
            return
        if self.receipt is not None:
            if parsed.error:
                raise Refused(f"Barcode not valid ({parsed.error}). Scan it again.")
            if code.isdigit() and 1 <= int(code) <= self._max_qty():
                self.pending_qty = int(code)
                return
        order, badge = find_return(self.app.db, code), self.app.operator.badge
        if order is not None:
            receipt = start_receipt(self.app.db, order[1], badge, order[0], is_return=True)
        else:
            receipt = start_receipt(self.app.db, code, badge, is_return=self.return_next)
        self.return_next = False
        if receipt != self.receipt:
            self.photos.clear()  # another receipt: its photos would be of the old one
            self.pending_qty = None
            self.receipt = receipt
            self.say(f"{self.what} open: scan the items.")

    def _count(self, item: Item, raw: str) -> None:
        if self.receipt is None:
            raise Refused(f"That is an item ({item.sku}): scan the receipt or PO first.")
        qty, self.pending_qty = item.units * (self.pending_qty or 1), None
        count_units(
            self.app.db, self.receipt.receipt_id, item.sku, qty, self.app.operator.badge, raw
        )
        self.say(f"✔ {item.name} ({item.sku}) +{qty}")

    def _damage_code(self, code: str) -> None:
        assert self.receipt is not None
        if self.item is None:
            item = find_item(self.app.db, self.app.service.classify(code))
            if item is None:
                raise Refused(f"{code!r} is no item here: scan the damaged item.")
            if undamaged_counted(self.app.db, self.receipt.receipt_id, item.sku) < 1:
                raise Refused(
                    f"No {item.sku} counted on this receipt yet: count every unit that "
                    "arrived first, damaged ones too (Esc cancels the note)."
                )
            self.item = item
        elif self.qty is None:
            if not code.isdigit() or int(code) < 1:
                raise Refused(f"{code!r} is not a quantity: type how many, Enter.")
            left = undamaged_counted(self.app.db, self.receipt.receipt_id, self.item.sku)
            if int(code) > left:
                raise Refused(
                    f"Only {left} counted unit(s) of {self.item.sku} are not noted damaged: "
                    "count the rest first."
                )
            self.qty = int(code)
        else:
            self._finish(code)

    def _finish(self, code: str) -> None:
        numbered = dict(_numbered())
        reason = numbered.get(code, code.lower())
        if reason not in INBOUND_REASONS:
            raise Refused(f"Pick the reason by its number, 1 to {len(INBOUND_REASONS)}.")
        if self.waiting:
            raise Refused("Wait for the photo being taken, then pick the reason again.")
        assert self.receipt is not None and self.item is not None and self.qty is not None
        record_inspection(
            self.app.db,
            self.app.config.station_id,
            self.app.operator.badge,
            self.receipt.ref,
            self.item.sku,
            self.qty,
            reason,
            self.photos,
            receipt_id=self.receipt.receipt_id,
        )
        self.app.events_written()
        self.noted += 1
        photos = f", {len(self.photos)} photo(s)" if self.photos else ""
        self.say(f"Noted: {self.qty} × {self.item.sku} {reason.replace('_', ' ')}{photos}.")
        self._end_note()
        self.photos = []

    def _end_note(self) -> None:
        self.damage, self.item, self.qty = False, None, None

    def _max_qty(self) -> int:
        return self.app.config.packing.max_keyed_qty

    # -- keys ---------------------------------------------------------------------------
    def handle_scan(self, scan: Scan) -> None:
        if scan.raw.strip().upper() == "CMD:CANCEL":
            self.action_cancel()  # as Esc: a note in progress first
        else:
            super().handle_scan(scan)

    def action_cancel(self) -> None:
        if self.damage:
            self._end_note()
            self.say("Damage note cancelled.")
            self._show()
            return
        super().action_cancel()

    def _act(self, action) -> None:
        """Run a key's action as a scan would: refusals go to the note line."""
        self.query_one("#note", Static).update("")
        try:
            action()
        except Refused as exc:
            self.note(str(exc))
        self._show()

    def action_damaged(self) -> None:
        self._act(self._start_damage)

    def _start_damage(self) -> None:
        if self.receipt is None:
            raise Refused("Scan the receipt or PO first.")
        self.pending_qty = None
        self.damage, self.item, self.qty = True, None, None

    def action_return_slip(self) -> None:
        self._act(self._return_next)

    def _return_next(self) -> None:
        if self.receipt is not None:
            raise Refused(f"{self.what} is open: close it ({RECEIVED.key_text}) first.")
        self.return_next = True

    def action_quantity(self) -> None:
        self.say(f"Type how many (1 to {self._max_qty()}), Enter, then scan the item once.")

    def action_undo(self) -> None:
        self._act(self._undo)

    def _undo(self) -> None:
        if self.receipt is None:
            raise Refused("No receipt open.")
        if self.pending_qty is not None:
            self.pending_qty = None
            self.say("Keyed quantity cleared.")
            return
        sku, qty = undo_count(self.app.db, self.receipt.receipt_id)
        self.say(f"Undone: {qty} × {sku}.")

    def action_close_receipt(self) -> None:
        self._act(self._close)

    def _close(self) -> None:
        if self.receipt is None:
            raise Refused("No receipt open: scan the receipt or PO reference.")
        if self.damage:
            raise Refused("Finish the damage note (or Esc cancels it) before closing.")
        if self.pending_qty is not None:
            raise Refused(
                f"Quantity {self.pending_qty} waits for its item: scan it, "
                f"or {UNDO.key_text} clears it."
            )
        what, is_return = self.what, self.receipt.is_return
        _, lines = close_receipt(
            self.app.db, self.app.config.station_id, self.receipt.receipt_id,
            self.app.operator.badge,
        )  # fmt: skip
        self.app.events_written()
        self.closed += 1
        self.receipt, self.photos = None, []
        received = sum(ln.qty_received for ln in lines)
        damaged = sum(ln.qty_damaged for ln in lines)
        got = "returned" if is_return else "received"
        self.say(
            f"{what} closed: {len(lines)} SKU(s), {received} unit(s) {got} "
            f"({damaged} damaged), sent to the hub's stock."
        )

    def action_photo(self) -> None:
        if self.receipt is None:
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
