"""The order being packed: its header and its lines with what is scanned."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable, Static

from station.packing.model import LineView, OrderView


class OrderHeader(Static):
    """Fixed height (see station.tcss), so updates need no layout pass."""

    def show(self, order: OrderView | None, queue_depth: int) -> None:
        if order is None:
            self.update(
                Text.assemble(
                    ("No order open. ", "bold"),
                    f"{queue_depth} waiting. Scan an order, tote or pick list.",
                ),
                layout=False,
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
        self.update(text, layout=False)


class OrderLines(DataTable):
    """One row per order line. A scan changes a few cells of one row, so rows are
    updated in place; the table is rebuilt only when another order is shown."""

    _shown_lines: tuple[int, ...] = ()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("#", key="no")
        self.add_column("SKU", key="sku")
        self.add_column("Item", key="item")
        self.add_column("Qty", key="qty")
        self.add_column("Scanned", key="scanned")
        self.add_column("Short", key="short")
        self.add_column("", key="mark")

    def show(self, order: OrderView | None) -> None:
        lines = tuple(line.line_id for line in order.lines) if order else ()
        if lines != self._shown_lines:
            self.clear()
            self._shown_lines = lines
            for line in order.lines if order else ():
                track = {"lot": " [lot]", "lot_expiry": " [lot+exp]", "serial": " [serial]"}
                self.add_row(
                    str(line.line_no),
                    line.sku,
                    line.name[:38] + track.get(line.tracking, ""),
                    str(line.qty),
                    *self._progress(line),
                    key=str(line.line_id),
                )
            return
        for line in order.lines if order else ():
            row = str(line.line_id)
            for column, value in zip(
                ("scanned", "short", "mark"), self._progress(line), strict=True
            ):
                if self.get_cell(row, column) != value:
                    self.update_cell(row, column, value)

    @staticmethod
    def _progress(line: LineView) -> tuple[str, str, Text]:
        if line.done and line.short:
            mark = Text("SHORT", style="bold yellow")
        elif line.done:
            mark = Text("✔", style="bold green")
        else:
            mark = Text(f"{line.remaining} to go", style="bold")
        return str(line.scanned), str(line.short or ""), mark
