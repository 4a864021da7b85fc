"""The pack screen's actions that open a dialog and act on its answer: help, a short line,
a keyed quantity, moving units, the print queue, inbound inspection and the site board. A mixin of
:class:`~station.screens.pack.PackScreen`; the dialogs themselves are in ``dialogs.py``."""

from __future__ import annotations

from station.packing.errors import Refused


class DialogActions:
    """Mixed into PackScreen: uses its ``order``, ``pending_qty``, ``say``, ``refresh_view``,
    ``open_next``, ``devices_changed`` and ``_guard``."""

    def action_help(self) -> None:
        from station.screens.dialogs import HelpDialog

        self.app.push_screen(HelpDialog())

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

    def action_print_queue(self) -> None:
        from station.screens.print_queue import PrintQueueDialog

        self.app.push_screen(PrintQueueDialog(), lambda _: self.devices_changed())

    def action_inspect(self) -> None:
        from station.screens.inspect import InspectScreen, may_inspect

        if not may_inspect(self.app.operator):
            self.say("Inbound inspection is for inspectors and leads.", "bad")
            return
        self.app.push_screen(InspectScreen(), lambda _: self.refresh_view())

    def action_site_board(self) -> None:
        from station.screens.site_board import SiteBoardScreen

        # Anyone may look (it only shows what every station publishes); see site_board.py.
        self.app.push_screen(
            SiteBoardScreen(self.app.site_board, self.app.sync_problem),
            lambda _: self.devices_changed(),
        )
