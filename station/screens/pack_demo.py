"""Demo keys of the pack screen: they drive the emulated devices, so the real device path is
exercised. A mixin of :class:`~station.screens.pack.PackScreen`, with its bindings;
``check_action`` hides them when the app runs without a demo."""

from __future__ import annotations

from textual.binding import Binding

DEMO_BINDINGS = [
    Binding("ctrl+n", "demo_scan_next", "▶scan item", priority=True),
    Binding("ctrl+b", "demo_scan_wrong", "▶wrong item", priority=True),
    Binding("ctrl+o", "demo_place", "▶on scale", priority=True),
    Binding("ctrl+y", "demo_place_wrong", "▶bad weight", priority=True),
    Binding("ctrl+r", "demo_remove", "▶clear scale", priority=True),
    Binding("ctrl+t", "demo_paper", "▶paper", priority=True),
    Binding("ctrl+g", "demo_new_order", "▶hub order", priority=True),
]


class DemoActions:
    """Mixed into PackScreen: uses its ``order``, ``say`` and ``_package_in_focus``."""

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
