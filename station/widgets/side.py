"""Right-hand panels: the scale and weight check, the packages, the printers; and the
sync status line."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from drivers.base import Weight
from station.packing.model import OrderView


class WeighPanel(Static):
    _shown: tuple | None = None

    def show(self, reading: Weight | None, prompt: str, blocked: bool = False) -> None:
        key = (reading, prompt, blocked)
        if key == self._shown:  # the scale repeats itself 10 times a second
            return
        self._shown = key
        value = "— g" if reading is None else f"{reading.grams:,.1f} g"
        state = "" if reading is None else ("stable" if reading.stable else "settling…")
        self.set_class(blocked, "blocked")
        self.update(
            Text.assemble(("SCALE  ", "dim"), (value, "bold"), f"  {state}\n", prompt), layout=False
        )


class QuietStatic(Static):
    """A Static that repaints only when its text changed, and asks for a layout pass
    (which costs a whole-screen reflow) only when its number of lines changed."""

    _shown: Text | None = None

    def show_text(self, text: Text) -> None:
        if text == self._shown:
            return
        lines = None if self._shown is None else self._shown.plain.count("\n")
        self._shown = text
        self.update(text, layout=lines != text.plain.count("\n"))


class PackagesPanel(QuietStatic):
    def show(self, order: OrderView | None, suggestion: str | None) -> None:
        if order is None:
            self.show_text(Text())
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
        self.show_text(text)


class DeviceBar(QuietStatic):
    def show(
        self,
        problems: dict[str, str],
        printer_errors: dict[str, str],
        jobs_waiting: int,
        queue_depth: int,
        outbox: int,
        *,
        stock: list[tuple[str, int | None]] | None = None,
        hub_heard: str | None = None,
    ) -> None:
        """``stock``: (SKU, units available at the hub, None when unknown) for the open
        order's SKUs and ``hub_heard`` (ISO time) when sync is on; None: no such line."""
        text = Text()
        for message in list(problems.values()) + list(printer_errors.values()):
            text.append(f"⚠ {message}\n", style="bold red")
        text.append(f"Queue: {queue_depth} orders · ", style="dim")
        text.append(
            f"print jobs waiting: {jobs_waiting} · ", style="bold yellow" if jobs_waiting else "dim"
        )
        text.append(f"events to sync: {outbox}", style="dim")
        if stock is not None:
            text.append("\nHub stock: ", style="dim")
            for n, (sku, available) in enumerate(stock):
                text.append(" · " if n else "", style="dim")
                low = available is not None and available <= 0
                shown = "?" if available is None else f"{available} free"
                text.append(f"{sku} {shown}", style="bold red" if low else "")
            text.append(f"{' · ' if stock else ''}heard from hub {clock(hub_heard)}", style="dim")
        self.set_class(bool(problems or printer_errors), "alert")
        self.show_text(text)


class SyncBar(Static):
    """One line under the header: online and when last synced, or OFFLINE (red) with the
    number of events and photos waiting for the hub."""

    DEFAULT_CSS = """
    SyncBar { height: 1; padding: 0 1; }
    SyncBar.offline { background: $error 25%; }
    """
    _shown: Text | None = None

    def show(
        self,
        online: bool,
        waiting: int,
        synced_at: str | None,
        hub_online: bool | None = None,
        note: str | None = None,
        *,
        photos: int = 0,
    ) -> None:
        """``waiting``: events, ``photos``: photo files the hub has not acknowledged."""
        events = f"{waiting} event{'' if waiting == 1 else 's'} waiting"
        pictures = f"{photos} photo{'' if photos == 1 else 's'} waiting"
        if not online:
            text = Text(f"OFFLINE — {events}", style="bold red")
            if photos:
                text.append(f" · {pictures}", style="bold red")
            text.append(f" · last heard from hub {clock(synced_at)}", style="red")
        else:
            text = Text("● online", style="bold green")
            text.append(f" · synced {clock(synced_at)}" if synced_at else " · not synced yet")
            if hub_online is False:
                text.append(" · hub offline", style="bold yellow")
            if waiting:
                text.append(f" · {events}", style="yellow")
            if photos:
                text.append(f" · {pictures}", style="yellow")
        if note:
            text.append(f" · {note}", style="yellow")
        self.set_class(not online, "offline")
        if text != self._shown:  # redrawn every second: only when it changed
            self._shown = text
            self.update(text)


def clock(iso: str | None) -> str:
    """``HH:MM:SS`` local time of an ISO 8601 instant; "never" for None."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone().strftime("%H:%M:%S")
