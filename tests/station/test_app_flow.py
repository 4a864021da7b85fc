"""Whole packing flows through the Textual app, with every device an emulator on a real pty
or socket: the serial scanner and MT-SICS scale on ptys, the ZPL and ESC/POS printers on
TCP ports. Keys are pressed with the Pilot; scans travel through the scanner's pty."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.serial_scanner import SerialScannerEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from station.app import StationApp
from station.config import Devices, Login, Packing, StationConfig
from station.screens.login import LoginScreen
from station.screens.pack import PackScreen
from tests.station.conftest import make_db

ORDERS = [
    # ship-by order decides which opens first
    ("SO-0001", "2026-11-27T10:00:00Z", 0, [("MUG-WHT", 2), ("TSH-M-BLK", 1)]),
    ("SO-0002", "2026-11-27T11:00:00Z", 0, [("TSH-M-BLK", 1)]),
    ("SO-0003", "2026-11-27T12:00:00Z", 0, [("MUG-WHT", 1)]),
]


@pytest.fixture
def devices():
    with (
        MtSicsScaleEmulator(settle=0.2) as scale,
        SerialScannerEmulator() as scanner,
        ZplPrinterEmulator() as printer,
        EscposPrinterEmulator() as slips,
    ):
        yield scale, scanner, printer, slips


@pytest.fixture
def station(tmp_path, devices):
    scale, scanner, printer, slips = devices
    config = StationConfig(
        database=str(tmp_path / "station.db"),
        devices=Devices(
            scale=scale.url, scanner=scanner.url, label_printer=printer.url, slip_printer=slips.url
        ),
        packing=Packing(stable_hold_s=0.2),
        login=Login(idle_lock_s=600),
    )
    make_db(config.database, ORDERS).close()
    return config


async def wait_for(pilot, predicate, timeout: float = 10.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


async def type_text(pilot, text: str) -> None:
    await pilot.press(*list(text), "enter")


async def login(pilot, badge: str = "B1001") -> PackScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
    await type_text(pilot, badge)
    await wait_for(pilot, lambda: isinstance(app.screen, PackScreen), what="pack screen")
    return app.screen


def message(screen: PackScreen) -> tuple[str, set[str]]:
    widget = screen.query_one("#message")
    return str(widget.render()), set(widget.classes)


async def scan(pilot, scanner, code: str, expect_units: int | None = None) -> None:
    """Send a barcode through the serial scanner's pty and wait until the screen handled it."""
    screen = pilot.app.screen
    before = getattr(screen, "scan_done_at", None)
    scanner.scan(code)
    await wait_for(
        pilot, lambda: getattr(screen, "scan_done_at", None) != before, what=f"scan {code}"
    )


def events(config, type_):
    from station.store.db import open_db

    db = open_db(config.database)
    try:
        rows = db.execute(
            "SELECT payload FROM outbox WHERE type = ? ORDER BY seq", [type_]
        ).fetchall()
        return [json.loads(r[0]) for r in rows]
    finally:
        db.close()


async def pack_current(pilot, scanner, scale, codes, carton="BOX-M", factor=1.0):
    screen = pilot.app.screen
    for code in codes:
        await scan(pilot, scanner, code)
    assert screen.order.all_resolved
    await scan(pilot, scanner, carton)
    package = screen.order.package_to_weigh
    expected = pilot.app.service.expected_weight(package.package_id)
    scale.place(round(expected * factor, 1))
    return expected


async def test_clean_order_packs_labels_and_opens_the_next(station, devices):
    scale, scanner, printer, slips = devices
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        assert "Sam Packer" in app.sub_title
        assert screen.order.order_id == "SO-0001"  # earliest ship-by opened by itself
        await scan(pilot, scanner, "4006381333931")
        await scan(pilot, scanner, "MUG-WHT")
        # the third item arrives as a keyboard wedge: keys, then Enter, in the scan field
        before = screen.scan_done_at
        await type_text(pilot, "036000291452")
        await wait_for(pilot, lambda: screen.scan_done_at != before)
        assert [ln.scanned for ln in screen.order.lines] == [2, 1]
        await scan(pilot, scanner, "BOX-M")
        package = screen.order.package_to_weigh
        assert package.carton_code == "BOX-M"
        scale.place(350 * 2 + 180 + 250 + 4)
        labels = await asyncio.to_thread(printer.wait_for_labels, 1, 10)
        await wait_for(
            pilot, lambda: screen.order and screen.order.order_id == "SO-0002", what="next order"
        )
        slip = await asyncio.to_thread(slips.wait_for_jobs, 1, 10)
    assert len(labels) == 1 and b"^XA" in labels[0] and b"#0001" in labels[0]
    assert "#0001" in slip[0].text
    [packed] = events(station, "order_packed")
    assert packed["order_id"] == "SO-0001" and packed["packages"][0]["carton"] == "BOX-M"
    assert len(events(station, "item_scanned")) == 3


async def test_wrong_item_and_over_scan_are_refused_and_not_counted(station, devices, caplog):
    caplog.set_level("INFO")
    scale, scanner, printer, slips = devices
    app = StationApp(station)
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await scan(pilot, scanner, "BAT-AA-4")  # not in SO-0001
        text, classes = message(screen)
        assert "Wrong item" in text and "bad" in classes
        assert screen.has_class("flash") and bells
        await scan(pilot, scanner, "TSH-M-BLK")
        await scan(pilot, scanner, "TSH-M-BLK")  # only one ordered
        text, classes = message(screen)
        assert "Too many" in text and "bad" in classes
        await scan(pilot, scanner, "4006381333932")  # misread: bad check digit
        assert "check digit" in message(screen)[0]
        assert screen.order.units_scanned == 1
        await pilot.press("f3")  # undo
        await wait_for(pilot, lambda: screen.order.units_scanned == 0, what="undo")
    assert len(bells) == 3
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == 3 and "Wrong item" in refusals[0]
    assert len(events(station, "item_scanned")) == 1
    assert len(events(station, "scan_undone")) == 1


async def test_short_line_puts_the_order_on_hold(station, devices):
    scale, scanner, printer, slips = devices
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await scan(pilot, scanner, "MUG-WHT")
        scanner.scan("CMD:SHORT")  # the command barcode opens the short dialog
        await wait_for(pilot, lambda: app.screen is not screen, what="short dialog")
        await type_text(pilot, "1")  # line 1
        await type_text(pilot, "2")  # damaged
        await wait_for(
            pilot,
            lambda: app.screen is screen and screen.order.order_id == "SO-0002",
            what="next order after hold",
        )
        assert "on hold" in message(screen)[0]
    [short] = events(station, "line_short")
    assert short["line_no"] == 1 and short["qty"] == 1 and short["reason"] == "damaged"
    [held] = events(station, "order_held")
    assert held["order_id"] == "SO-0001"


async def test_weight_out_of_tolerance_blocks_until_a_lead_overrides(station, devices):
    scale, scanner, printer, slips = devices
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await pack_current(pilot, scanner, scale, ["MUG-WHT", "MUG-WHT", "TSH-M-BLK"], factor=1.5)
        await wait_for(pilot, lambda: screen.blocked, what="weight blocked")
        assert screen.query_one("#weigh").has_class("blocked")
        assert printer.labels == []
        await scan(pilot, scanner, "B1001")  # a packer's badge cannot approve
        assert screen.blocked and printer.labels == []
        await scan(pilot, scanner, "L9001")  # the lead's badge does
        await asyncio.to_thread(printer.wait_for_labels, 1, 10)
        await wait_for(pilot, lambda: screen.order.order_id == "SO-0002", what="next order")
    [override] = events(station, "weight_overridden")
    assert override["lead"] == "L9001"
    [weighed] = events(station, "package_weighed")
    assert weighed["ok"] is False


async def test_printer_out_of_paper_keeps_the_label_and_prints_it_once_back(station, devices):
    scale, scanner, printer, slips = devices
    printer.paper_out(True)
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await pack_current(pilot, scanner, scale, ["TSH-M-BLK", "MUG-WHT", "MUG-WHT"])
        await wait_for(pilot, lambda: "label" in app.printer_errors, what="printer error shown")
        assert "out of labels/paper" in app.printer_errors["label"]
        bar = str(screen.query_one("#devices").render())
        assert "out of labels/paper" in bar
        assert printer.labels == [] and printer.held == []  # asked ~HS first: nothing sent
        printer.paper_out(False)
        labels = await asyncio.to_thread(printer.wait_for_labels, 1, 15)
        await wait_for(pilot, lambda: "label" not in app.printer_errors, what="error cleared")
        await pilot.pause(1.0)
    assert len(labels) == 1 and len(printer.labels) == 1


async def test_badge_with_pin_and_idle_lock(station, devices, tmp_path):
    from station.packing.operators import hash_pin
    from station.screens.lock import LockScreen
    from station.store.db import open_db

    db = open_db(station.database)
    db.execute("UPDATE operators SET pin_hash = ? WHERE badge = 'B1001'", [hash_pin("2468")])
    db.conn.commit()
    db.close()
    station.login.idle_lock_s = 1.0
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        await type_text(pilot, "NOBODY")
        assert app.operator is None
        await type_text(pilot, "B1001")
        await type_text(pilot, "1111")  # wrong PIN
        assert app.operator is None
        await type_text(pilot, "2468")
        # A loaded machine may stall the poll past the 1 s idle: the lock counts as logged in.
        await wait_for(
            pilot, lambda: isinstance(app.screen, PackScreen | LockScreen), what="logged in"
        )
        await wait_for(
            pilot, lambda: isinstance(app.screen, LockScreen), timeout=5, what="idle lock"
        )
        station.login.idle_lock_s = 600  # so that the unlocked screen stays to be seen
        await type_text(pilot, "B1001")
        await type_text(pilot, "2468")
        await wait_for(pilot, lambda: isinstance(app.screen, PackScreen), what="unlocked")
    assert [e["operator"] for e in events(station, "operator_logged_in")] == ["B1001"]


async def test_reprint_void_and_second_package_by_keys(station, devices):
    scale, scanner, printer, slips = devices
    app = StationApp(station)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await scan(pilot, scanner, "MUG-WHT")
        await pilot.press("f5")  # a second package
        await wait_for(pilot, lambda: len(screen.order.packages) == 2, what="package 2")
        await scan(pilot, scanner, "MUG-WHT")
        await scan(pilot, scanner, "TSH-M-BLK")
        assert [p.unit_count for p in screen.order.packages] == [1, 2]
        for n in (1, 2):
            await scan(pilot, scanner, "BOX-M")
            package = screen.order.package_to_weigh
            scale.place(app.service.expected_weight(package.package_id))
            await asyncio.to_thread(printer.wait_for_labels, n, 10)
            if n == 1:
                scale.remove()
                await wait_for(pilot, lambda: screen.reading and screen.reading.grams < 1)
        await wait_for(pilot, lambda: screen.order.order_id == "SO-0002", what="next order")
        await pilot.press("f8")  # reprint the last label of the order just packed
        labels = await asyncio.to_thread(printer.wait_for_labels, 3, 10)
        assert labels[2] == labels[1]  # byte for byte, same tracking number
        await pilot.press("f9")  # void it: the packed order reopens for a new label
        await wait_for(pilot, lambda: screen.order.order_id == "SO-0001", what="reopened")
        assert screen.order.status == "packing"
    [voided] = events(station, "label_voided")
    assert voided["order_id"] == "SO-0001" and voided["package_no"] == 2
    packed = events(station, "order_packed")
    assert [len(p["packages"]) for p in packed] == [2]
