"""The pack screen: open an order, verify each item by scanning, weigh, label, next.

Every action is a key and a ``CMD:`` barcode (see :mod:`station.commands`). The screen
calls the packing service and shows its answer; a refusal rings the bell, flashes red
and says in plain words what is wrong.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from drivers.base import Scan, Weight
from station.commands import BY_NAME, COMMANDS
from station.inspection import subject_text
from station.packing.capture import StableCapture
from station.packing.errors import Refused
from station.packing.model import OrderView
from station.packing.operators import find_operator
from station.printing import queue
from station.store.outbox import outbox_depth
from station.widgets.order import OrderHeader, OrderLines
from station.widgets.scan_input import ScanInput
from station.widgets.side import DeviceBar, PackagesPanel, SyncBar, WeighPanel

if TYPE_CHECKING:
    from station.camera_worker import PhotoResult
    from sync.station import SyncState

log = logging.getLogger(__name__)


def _bindings() -> list[Binding]:
    keys = [Binding(c.key, c.action, c.description.split(":")[0], priority=True) for c in COMMANDS]
    # Demo-only keys drive the emulated devices; check_action hides them otherwise.
    keys += [
        Binding("ctrl+n", "demo_scan_next", "▶scan item", priority=True),
        Binding("ctrl+b", "demo_scan_wrong", "▶wrong item", priority=True),
        Binding("ctrl+o", "demo_place", "▶on scale", priority=True),
        Binding("ctrl+y", "demo_place_wrong", "▶bad weight", priority=True),
        Binding("ctrl+r", "demo_remove", "▶clear scale", priority=True),
        Binding("ctrl+t", "demo_paper", "▶paper", priority=True),
        Binding("ctrl+g", "demo_new_order", "▶hub order", priority=True),
    ]
    return keys


class PackScreen(Screen[None]):
    BINDINGS = _bindings()

    def __init__(self) -> None:
        super().__init__()
        self.order: OrderView | None = None
        self.last_packed: str | None = None
        self.reading: Weight | None = None
        self.pending_qty: int | None = None
        self.capture = StableCapture()
        self.blocked = False
        self.suggestion: str | None = None
        self.scan_done_at: float | None = None
        self.photos_asked: set[int] = set()  # tokens of this screen's photo requests
        # Device messages can arrive between push and compose; they wait for on_mount.
        self.ready = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SyncBar(id="sync-bar")
        yield DeviceBar(id="devices")
        with Horizontal(id="main"):
            with Vertical(id="order-pane"):
                yield OrderHeader(id="order-head")
                yield OrderLines(id="lines")
            with Vertical(id="side-pane"):
                yield WeighPanel(id="weigh")
                yield PackagesPanel(id="packages")
        yield Static(id="message")
        yield ScanInput(id="scan")
        yield Footer()

    def on_mount(self) -> None:
        packing = self.app.config.packing
        self.capture = StableCapture(hold_s=packing.stable_hold_s, min_g=packing.min_capture_g)
        self.ready = True
        self.query_one(SyncBar).display = self.app.sync is not None
        self.open_next()
        self.query_one(ScanInput).focus()
        state = self.app.sync_state()
        if state is not None:
            self.sync_status(state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("demo_"):
            return self.app.demo is not None
        return True

    # -- feedback -----------------------------------------------------------------------
    def say(self, text: str, style: str = "ok") -> None:
        message = self.query_one("#message", Static)
        message.update(text, layout=False)
        for cls in ("ok", "bad", "info"):
            message.set_class(cls == style, cls)
        if style == "bad":
            self.app.bell()
            self.add_class("flash")
            self.set_timer(0.6, lambda: self.remove_class("flash"))
            log.info("refused: %s", text)

    def refresh_view(self) -> None:
        # Every action ends here after its commit: let sync send its events at once.
        self.app.events_written()
        service = self.app.service
        if self.order is not None:
            self.order = service.view(self.order.order_id)
        order = self.order
        self.query_one(OrderHeader).show(order, service.queue_depth())
        self.query_one(OrderLines).show(order)
        suggestion = None
        if order is not None and order.status == "packing":
            target = self._package_in_focus()
            if target is not None and target.carton_code is None and target.unit_count:
                suggestion = service.suggest_carton(order.order_id, target.package_id)
        self.suggestion = suggestion
        self.query_one(PackagesPanel).show(order, suggestion)
        self._update_weigh_panel()
        self.devices_changed()

    def devices_changed(self) -> None:
        if not self.ready:
            return
        app = self.app
        jobs = len(queue.open_jobs(app.db))
        state = app.sync_state()
        stock = None
        if state is not None:
            skus = list(dict.fromkeys(ln.sku for ln in self.order.lines)) if self.order else []
            stock = app.hub_stock(skus)
        self.query_one(DeviceBar).show(
            app.device_problems,
            app.printer_errors,
            jobs,
            app.service.queue_depth(),
            outbox_depth(app.db),
            stock=stock,
            hub_heard=state.last_hub_contact_at if state is not None else None,
        )

    # -- sync: the status line, and orders that the hub assigned or cancelled -----------
    def sync_status(self, state: SyncState) -> None:
        """Every second, from the app: the sync line and the DeviceBar's hub line."""
        if not self.ready:
            return
        note = "waiting for the catalogue" if state.waiting_for_catalogue else None
        self.query_one(SyncBar).show(
            state.online,
            state.outbox_depth,
            state.last_hub_contact_at,
            state.hub_online,
            note,
        )
        self.devices_changed()

    def sync_changed(self) -> None:
        """Hub changes landed: a new order opens by itself when none is open; an open
        order the hub cancelled is closed with words for the packer."""
        if not self.ready:
            return
        order = self.order
        if (
            order is not None
            and order.status != "cancelled"
            and self.app.service.view(order.order_id).status == "cancelled"
        ):
            self.open_next()
            self.say(
                f"{order.order_ref} was CANCELLED by the hub: stop packing it and give it "
                "to your lead.",
                "bad",
            )
            return
        # Only when there is one to open: stock levels land every few seconds and must
        # not overwrite what the screen is telling the packer.
        if self.order is None and self.app.screen is self and self.app.service.next_order():
            self.open_next()
        else:
            self.refresh_view()

    def print_queue_changed(self) -> None:
        self.devices_changed()

    def _package_in_focus(self):
        if self.order is None:
            return None
        if self.order.stage == "weigh":
            return self.order.package_to_weigh
        return self.order.current_package

    def _update_weigh_panel(self) -> None:
        order = self.order
        prompt, blocked = "", False
        if order is not None and order.stage == "weigh":
            package = order.package_to_weigh
            if package is not None:
                if package.carton_code is None:
                    prompt = f"Package {package.package_no}: scan its carton (F7: suggested)."
                elif package.status == "weighed" and not package.weight_ok:
                    blocked = True
                    prompt = (
                        f"Package {package.package_no}: {package.weight_g:,.0f} g, expected "
                        f"{package.expected_g:,.0f} g. Label blocked: fix the contents "
                        "and weigh again, or a lead scans their badge (F11)."
                    )
                else:
                    expected = self.app.service.expected_weight(package.package_id)
                    prompt = (
                        f"Put package {package.package_no} on the scale "
                        f"(expected about {expected:,.0f} g)."
                    )
        elif order is not None and order.stage == "scan":
            prompt = "Scan the items."
        self.blocked = blocked
        self.query_one(WeighPanel).show(self.reading, prompt, blocked)

    # -- orders -------------------------------------------------------------------------
    def open_next(self) -> None:
        order_id = self.app.service.next_order()
        self.order = None
        if order_id is not None:
            self._open(order_id)
        else:
            self.refresh_view()
            self.say("No orders waiting. New orders open here by themselves.", "info")

    def _open(self, order_id: str) -> None:
        try:
            self.order = self.app.service.open_order(order_id, self.app.operator)
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        self.capture.reset()
        self.pending_qty = None
        self.refresh_view()
        self.say(f"Order {self.order.order_ref} open: scan its items.", "info")

    # -- scans --------------------------------------------------------------------------
    @on(ScanInput.Scanned)
    def _wedge(self, event: ScanInput.Scanned) -> None:
        self.handle_scan(event.scan)

    def handle_scan(self, scan: Scan) -> None:
        service = self.app.service
        parsed = service.classify(scan.raw)
        if parsed.command:
            self.run_command(parsed.command)
            return
        try:
            self._handle_code(parsed)
        except Refused as exc:
            self.say(str(exc), "bad")
        self.scan_done_at = time.perf_counter()

    def _handle_code(self, parsed) -> None:
        service = self.app.service
        order = self.order
        text = parsed.text
        if order is None or order.status != "packing":
            order_id = service.find_order(text)
            if order_id is None:
                raise Refused(f"{text!r} is not an order, tote or pick list here.", kind="unknown")
            self._open(order_id)
            return
        if service.is_carton(text):
            target = self._package_in_focus()
            self.say(service.set_carton(order.order_id, target.package_id, text, self.app.operator))
            self.capture.reset()
            self.refresh_view()
            return
        if self._maybe_lead_badge(text):
            return
        other = service.find_order(text)
        if other is not None and other != order.order_id:
            raise Refused(
                f"That is another order ({text}). Finish {order.order_ref} first.",
                kind="other_order",
            )
        qty, self.pending_qty = self.pending_qty, None
        outcome = service.scan_item(order.order_id, parsed, self.app.operator, qty=qty)
        self.refresh_view()
        if self.order.all_resolved:
            self.say(outcome.message + " — all items scanned: carton, then scale.")
        else:
            self.say(outcome.message)

    def _maybe_lead_badge(self, text: str) -> bool:
        found = find_operator(self.app.db, text)
        if found is None:
            return False
        lead, pin_hash = found
        if not self.blocked:
            raise Refused(f"That is {lead.name}'s badge: nothing to approve now.", kind="badge")
        if pin_hash is not None or self.app.config.login.require_pin:
            from station.screens.dialogs import OverrideDialog

            self.app.push_screen(OverrideDialog(badge=text), self._override_result)
            return True
        self._override(lead)
        return True

    # -- weighing -----------------------------------------------------------------------
    def scale_reading(self, weight: Weight) -> None:
        self.reading = weight
        if not self.ready:
            return
        order = self.order
        if order is None or order.stage != "weigh" or self.app.screen is not self:
            self._update_weigh_panel()
            return
        package = order.package_to_weigh
        captured = self.capture.feed(weight, time.monotonic())
        if captured is not None and package is not None and package.carton_code is not None:
            self._weigh(package.package_id, captured)
        self._update_weigh_panel()

    def _weigh(self, package_id: int, grams: float) -> None:
        service = self.app.service
        try:
            outcome = service.record_weight(
                self.order.order_id, package_id, grams, self.app.operator
            )
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        if outcome.labelled:
            self.app.print_jobs_queued()
        self._after_label(outcome.order_packed, outcome.check.describe())
        if not outcome.check.ok:
            self.say(outcome.check.describe(), "bad")

    def _after_label(self, packed: bool, detail: str) -> None:
        if packed:
            self.last_packed = self.order.order_id
            ref = self.order.order_ref
            self.open_next()
            self.say(f"✔ {ref} packed ({detail}). Label printing. Next order is open.")
        else:
            self.refresh_view()
            self.say(f"Label printing ({detail}).")

    def _override(self, lead) -> None:
        package = self.order.package_to_weigh if self.order else None
        if package is None:
            return
        try:
            outcome = self.app.service.override_weight(
                self.order.order_id, package.package_id, lead, self.app.operator
            )
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        self.app.print_jobs_queued()
        self._after_label(outcome.order_packed, f"weight approved by {lead.name}")

    def _override_result(self, lead) -> None:
        if lead is not None:
            self._override(lead)

    # -- commands -----------------------------------------------------------------------
    def run_command(self, name: str) -> None:
        command = BY_NAME.get(name)
        if command is None:
            self.say(f"Unknown command barcode CMD:{name}.", "bad")
            return
        getattr(self, f"action_{command.action}")()

    def _need_order(self) -> OrderView:
        if self.order is None:
            raise Refused("Open an order first.", kind="no_order")
        return self.order

    def _guard(self, fn) -> None:
        try:
            fn()
        except Refused as exc:
            self.say(str(exc), "bad")

    def action_help(self) -> None:
        from station.screens.dialogs import HelpDialog

        self.app.push_screen(HelpDialog())

    def action_undo(self) -> None:
        def undo() -> None:
            order = self._need_order()
            self.say(self.app.service.undo_last_scan(order.order_id, self.app.operator), "info")
            self.capture.reset()
            self.refresh_view()

        self._guard(undo)

    def action_short(self) -> None:
        from station.screens.dialogs import ShortDialog

        def chosen(result) -> None:
            if result is None:
                return
            line_id, reason = result

            def short() -> None:
                order = self.app.service.short_line(
                    self.order.order_id, line_id, reason, self.app.operator
                )
                if order.status == "on_hold":
                    ref = order.order_ref
                    self.open_next()
                    self.say(
                        f"{ref} is on hold for a lead ({order.hold_reason}). "
                        "Put it in the exceptions bay.",
                        "info",
                    )
                else:
                    self.refresh_view()
                    self.say("Line marked short; the order ships without it.", "info")

            self._guard(short)

        def open_dialog() -> None:
            order = self._need_order()
            open_lines = [ln for ln in order.lines if not ln.done]
            if not open_lines:
                raise Refused("No line is waiting for items.", kind="short")
            self.app.push_screen(ShortDialog(open_lines), chosen)

        self._guard(open_dialog)

    def action_quantity(self) -> None:
        from station.screens.dialogs import QuantityDialog

        def chosen(qty: int | None) -> None:
            if qty:
                self.pending_qty = qty
                self.say(f"Quantity {qty}: now scan the item.", "info")

        self.app.push_screen(QuantityDialog(), chosen)

    def action_new_package(self) -> None:
        def new() -> None:
            order = self._need_order()
            package = self.app.service.new_package(order.order_id, self.app.operator)
            self.refresh_view()
            self.say(f"Package {package.package_no} started: next scans go in it.", "info")

        self._guard(new)

    def action_move(self) -> None:
        from station.screens.dialogs import MoveDialog

        def chosen(result) -> None:
            if result is None:
                return
            line_id, package_no = result
            self._guard(
                lambda: (
                    self.say(
                        self.app.service.move_units(
                            self.order.order_id, line_id, package_no, self.app.operator
                        ),
                        "info",
                    ),
                    self.refresh_view(),
                )
            )

        def open_dialog() -> None:
            order = self._need_order()
            if len([p for p in order.packages if p.status == "open"]) < 2:
                raise Refused("Only one package: press F5 to start another first.", kind="package")
            self.app.push_screen(MoveDialog(order), chosen)

        self._guard(open_dialog)

    def action_accept_carton(self) -> None:
        def accept() -> None:
            order = self._need_order()
            target = self._package_in_focus()
            if not self.suggestion or target is None:
                raise Refused("No carton suggestion: scan a carton barcode.", kind="carton")
            self.say(
                self.app.service.set_carton(
                    order.order_id, target.package_id, self.suggestion, self.app.operator
                )
            )
            self.capture.reset()
            self.refresh_view()

        self._guard(accept)

    def _labelled_target(self):
        """The package whose label F8/F9 act on: last labelled of this order, else of the
        order packed just before."""
        service = self.app.service
        for order_id in filter(None, (self.order and self.order.order_id, self.last_packed)):
            order = service.view(order_id)
            labelled = [p for p in order.packages if p.status == "labelled"]
            if labelled:
                return order, labelled[-1]
        raise Refused("No label to act on yet.", kind="label")

    def action_reprint(self) -> None:
        def reprint() -> None:
            order, package = self._labelled_target()
            self.say(
                self.app.service.reprint(order.order_id, package.package_id, self.app.operator),
                "info",
            )
            self.app.print_jobs_queued()

        self._guard(reprint)

    def action_void(self) -> None:
        def void() -> None:
            order, package = self._labelled_target()
            message = self.app.service.void_label(
                order.order_id, package.package_id, self.app.operator
            )
            if self.order is None or self.order.order_id != order.order_id:
                self._open(order.order_id)
            self.capture.reset()
            self.refresh_view()
            self.say(message + ". Weigh it again for a new label.", "info")

        self._guard(void)

    def action_print_queue(self) -> None:
        from station.screens.print_queue import PrintQueueDialog

        self.app.push_screen(PrintQueueDialog(), lambda _: self.devices_changed())

    def action_override(self) -> None:
        from station.screens.dialogs import OverrideDialog

        if not self.blocked:
            self.say("Nothing to override: no weight is blocking a label.", "bad")
            return
        self.app.push_screen(OverrideDialog(), self._override_result)

    def action_logout(self) -> None:
        self.app.log_out()

    def action_lock(self) -> None:
        self.app.lock()

    def action_photo(self) -> None:
        def photo() -> None:
            order = self._need_order()
            subject = f"order/{order.order_id}"
            line = self._line_in_focus()
            if line is not None:
                subject = f"line/{order.order_id}/{line.line_no}"
            request = self.app.take_photo(subject)
            if request is None:
                raise Refused(
                    "No camera here: set [devices] camera in the station configuration.",
                    kind="camera",
                )
            self.photos_asked.add(request.token)
            self.say(f"Taking a photo of {subject_text(subject)}…", "info")

        self._guard(photo)

    def _line_in_focus(self):
        """The line under the cursor when the packer moved into the lines table (Tab or a
        click); None while scanning, when a photo is of the whole order."""
        table = self.query_one(OrderLines)
        if self.order is None or not table.has_focus or not self.order.lines:
            return None
        return self.order.lines[min(table.cursor_row, len(self.order.lines) - 1)]

    def photo_taken(self, result: PhotoResult) -> None:
        """The camera answered; only requests made here are this screen's to show."""
        if result.request.token not in self.photos_asked:
            return
        self.photos_asked.discard(result.request.token)
        if not self.ready:
            return
        stored = result.stored
        if stored is None:
            self.say(f"No photo: {result.error}", "bad")
            self.devices_changed()
            return
        what = subject_text(stored.subject)
        if stored.created:
            self.say(f"📷 Photo {stored.sha256[:12]} saved: {what}.")
        else:
            self.say(f"That picture was saved before ({stored.sha256[:12]}, {stored.subject}).")
        self.devices_changed()

    def action_inspect(self) -> None:
        from station.screens.inspect import InspectScreen, may_inspect

        if not may_inspect(self.app.operator):
            self.say("Inbound inspection is for inspectors and leads.", "bad")
            return
        self.app.push_screen(InspectScreen(), lambda _: self.refresh_view())

    def action_print_sheet(self) -> None:
        from station.commands import sheet_entries
        from station.labels.command_sheet import command_sheet_zpl

        queue.enqueue(self.app.db, "label", "command_sheet", command_sheet_zpl(sheet_entries()))
        self.app.print_jobs_queued()
        self.say("Command sheet sent to the label printer.", "info")

    # -- demo keys: drive the emulators, so the real device path is exercised -----------
    def action_demo_scan_next(self) -> None:
        from station.demo_data import demo_barcodes_for

        if self.order is None:
            self.say("No order open.", "bad")
            return
        needed = demo_barcodes_for(self.app.db, self.order.order_id, remaining=True)
        if not needed:
            self.say("Demo: every item is scanned. Ctrl+O puts the parcel on the scale.", "info")
            return
        self.app.demo.scan(needed[0])

    def action_demo_scan_wrong(self) -> None:
        from station.demo_data import wrong_barcode_for

        if self.order is not None:
            self.app.demo.scan(wrong_barcode_for(self.app.db, self.order.order_id))

    def action_demo_place(self, factor: float = 1.0) -> None:
        package = self._package_in_focus()
        if package is None:
            return
        grams = self.app.service.expected_weight(package.package_id)
        self.app.demo.place(round(grams * factor, 1))

    def action_demo_place_wrong(self) -> None:
        self.action_demo_place(1.35)

    def action_demo_remove(self) -> None:
        self.app.demo.remove()

    def action_demo_new_order(self) -> None:
        order_id = self.app.demo.new_order()
        if order_id:
            self.say(
                f"Demo: the hub routed {order_id} to this station; it arrives over "
                "the station stream.",
                "info",
            )

    def action_demo_paper(self) -> None:
        out = self.app.demo.toggle_paper()
        self.say("Demo: label printer is " + ("OUT of paper" if out else "loaded again"), "info")
