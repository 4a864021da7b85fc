"""Right-hand panels: the scale and weight check, the packages, the printers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from drivers.base import Weight
from station.packing.model import OrderView


class WeighPanel(Static):
    def show(self, reading: Weight | None, prompt: str, blocked: bool = False) -> None:
        value = "— g" if reading is None else f"{reading.grams:,.1f} g"
        state = "" if reading is None else ("stable" if reading.stable else "settling…")
        self.set_class(blocked, "blocked")
        self.update(Text.assemble(("SCALE  ", "dim"), (value, "bold"), f"  {state}\n", prompt))


class PackagesPanel(Static):
    def show(self, order: OrderView | None, suggestion: str | None) -> None:
        if order is None:
            self.update("")
            return
        text = Text()
        current = order.current_package.package_id
        for p in order.packages:
            if p.status == "void" and p.unit_count == 0:
                continue
            marker = "▶ " if p.package_id == current and order.stage == "scan" else "  "
            text.append(f"{marker}Package {p.package_no}: ", style="bold")
            text.append(f"{p.carton_code or 'no carton'}, {p.unit_count} units")
            if p.weight_g is not None:
                ok = p.weight_ok or p.override_by
                text.append(f", {p.weight_g:,.0f} g", style="green" if ok else "bold red")
                if p.override_by:
                    text.append(f" (override {p.override_by})", style="yellow")
            if p.tracking_number:
                text.append(f"\n    {p.status} {p.tracking_number}", style="cyan")
            text.append("\n")
        if suggestion:
            text.append(
                f"Suggested carton: {suggestion} (F7 to use it, or scan a carton)", style="italic"
            )
        self.update(text)


class DeviceBar(Static):
    def show(
        self,
        problems: dict[str, str],
        printer_errors: dict[str, str],
        jobs_waiting: int,
        queue_depth: int,
        outbox: int,
    ) -> None:
        text = Text()
        for message in list(problems.values()) + list(printer_errors.values()):
            text.append(f"⚠ {message}\n", style="bold red")
        text.append(f"Queue: {queue_depth} orders · ", style="dim")
        text.append(
            f"print jobs waiting: {jobs_waiting} · ", style="bold yellow" if jobs_waiting else "dim"
        )
        text.append(f"events to sync: {outbox}", style="dim")
        self.set_class(bool(problems or printer_errors), "alert")
        self.update(text)
