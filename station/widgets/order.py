"""The order being packed: its header and its lines with what is scanned."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable, Static

from station.packing.model import OrderView


class OrderHeader(Static):
    def show(self, order: OrderView | None, queue_depth: int) -> None:
        if order is None:
            self.update(
                Text.assemble(
                    ("No order open. ", "bold"),
                    f"{queue_depth} waiting. Scan an order, tote or pick list.",
                )
            )
            return
        to = order.ship_to
        where = ", ".join(x for x in (to.get("city"), to.get("region"), to.get("country")) if x)
        text = Text.assemble(
            (f"{order.order_ref}", "bold reverse"),
            f"  {order.order_id}  ",
            (f"{order.carrier} {order.service}", "bold"),
            f"  ship by {order.ship_by[:16].replace('T', ' ')}",
            "\n",
            (to.get("name", ""), "bold"),
            f"  {where}",
            f"\n{order.units_scanned}/{order.units_total} units scanned",
        )
        if order.status == "on_hold":
            text.append(f"\nON HOLD: {order.hold_reason}", style="bold red")
        self.update(text)


class OrderLines(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("#", "SKU", "Item", "Qty", "Scanned", "Short", "")

    def show(self, order: OrderView | None) -> None:
        self.clear()
        if order is None:
            return
        for line in order.lines:
            if line.done and line.short:
                mark = Text("SHORT", style="bold yellow")
            elif line.done:
                mark = Text("✔", style="bold green")
            else:
                mark = Text(f"{line.remaining} to go", style="bold")
            track = {"lot": " [lot]", "lot_expiry": " [lot+exp]", "serial": " [serial]"}.get(
                line.tracking, ""
            )
            self.add_row(
                str(line.line_no),
                line.sku,
                line.name[:38] + track,
                str(line.qty),
                str(line.scanned),
                str(line.short or ""),
                mark,
                key=str(line.line_id),
            )
