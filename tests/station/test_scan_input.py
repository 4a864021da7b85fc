"""The scan field tells a wedge burst from typing, and a burst wins over stray keys."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult

from station.widgets.scan_input import ScanInput


class Harness(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.scans = []

    def compose(self) -> ComposeResult:
        yield ScanInput()

    def on_scan_input_scanned(self, message: ScanInput.Scanned) -> None:
        self.scans.append(message.scan)


async def burst(pilot, text: str) -> None:
    """Keys as a wedge sends them: all at once, as one terminal read (Pilot.press waits
    between keys, slower than any scanner)."""
    for ch in text:
        pilot.app.post_message(events.Key(ch, ch))
    pilot.app.post_message(events.Key("enter", "\r"))
    await pilot.pause(0.1)


async def test_burst_is_a_wedge_scan_and_slow_keys_are_typing():
    app = Harness()
    async with app.run_test() as pilot:
        await burst(pilot, "4006381333931")
        await pilot.press("4")
        await pilot.pause(0.15)  # a person: slower than any scanner
        await pilot.press("2", "enter")
    assert [(s.raw, s.source) for s in app.scans] == [
        ("4006381333931", "wedge"),
        ("42", "keyboard"),
    ]


async def test_stray_typed_keys_before_a_burst_are_dropped():
    app = Harness()
    async with app.run_test() as pilot:
        await pilot.press("x")
        await pilot.pause(0.15)
        await burst(pilot, "MUG-WHT")
    assert [(s.raw, s.source) for s in app.scans] == [("MUG-WHT", "wedge")]
