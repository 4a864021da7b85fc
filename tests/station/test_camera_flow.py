"""Photos from the pack screen and inbound inspection (issue 5), through the Textual app with
the emulated camera, and cameras that fail. No scale, scanner or printer: keys and the
keyboard wedge only, so these stay fast."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from routing import store as hub_store
from routing.apply import receive_events
from station.app import StationApp
from station.config import Devices, Login, StationConfig
from station.packing.operators import Operator
from station.photos import PhotoStore
from station.screens.inspect import InspectScreen
from station.store.db import open_db
from station.store.outbox import pending_events
from sync.messages import Event
from tests.station.conftest import make_db
from tests.station.test_app_flow import ORDERS, login, type_text, wait_for


def make_config(tmp_path, camera: str) -> StationConfig:
    config = StationConfig(
        database=str(tmp_path / "var" / "station.db"),
        devices=Devices(camera=camera),
        login=Login(idle_lock_s=600),
    )
    db = make_db(config.database, ORDERS)
    db["operators"].insert({"badge": "Q5001", "name": "Tomás Ortega", "role": "inspector"})
    db.close()
    return config


def said(screen) -> str:
    return str(screen.query_one("#message").render())


def outbox(config, type_: str) -> list[dict]:
    db = open_db(config.database)
    try:
        rows = db.execute("SELECT payload FROM outbox WHERE type = ? ORDER BY seq", [type_])
        return [json.loads(r[0]) for r in rows.fetchall()]
    finally:
        db.close()


async def test_photo_key_stores_the_picture_thumbnail_row_and_event(tmp_path):
    config = make_config(tmp_path, "emulator://camera?width=640&height=480")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await pilot.press("f13")  # Shift+F1 as xterm sends it
        await wait_for(pilot, lambda: "saved" in said(screen), what="photo confirmation")
        message = said(screen)
    [row] = _photo_rows(config)
    assert row["sha256"][:12] in message and "order SO-0001" in message
    assert (row["subject"], row["operator"]) == ("order/SO-0001", "B1001")
    assert (row["width"], row["height"]) == (640, 480)
    photos = PhotoStore.beside(None, config.database)
    assert photos.path(row["sha256"]).stat().st_size == row["size"]
    with Image.open(photos.thumb_path(row["sha256"])) as thumb:
        assert thumb.width == 160
    [event] = outbox(config, "photo_taken")
    assert event == {
        "sha256": row["sha256"],
        "subject": "order/SO-0001",
        "taken_at": row["taken_at"],
        "width": 640,
        "height": 480,
        "operator": "B1001",
    }


def _photo_rows(config) -> list[dict]:
    db = open_db(config.database)
    try:
        return list(db.query("SELECT * FROM photos"))
    finally:
        db.close()


async def test_photo_of_the_line_under_the_cursor_and_by_command_barcode(tmp_path):
    config = make_config(tmp_path, "emulator://camera")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        table = screen.query_one("#lines")
        table.focus()
        table.move_cursor(row=1)
        await pilot.pause()
        await pilot.press("shift+f1")  # as the kitty keyboard protocol reports it
        await wait_for(pilot, lambda: "line 2" in said(screen), what="line photo")
        screen.query_one("#scan").focus()
        await type_text(pilot, "CMD:PHOTO")
        await wait_for(pilot, lambda: len(outbox(config, "photo_taken")) == 2, what="2nd photo")
    subjects = [e["subject"] for e in outbox(config, "photo_taken")]
    assert subjects == ["line/SO-0001/2", "order/SO-0001"]


@pytest.mark.parametrize(
    "camera, words",
    [
        ("folder:///nonexistent/camera-drop", "Cannot read the camera folder"),
        ("v4l2:///dev/video99", "Cannot open camera /dev/video99"),
    ],
)
async def test_a_failing_camera_says_so_and_loses_nothing(tmp_path, camera, words):
    config = make_config(tmp_path, camera)
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await type_text(pilot, "4006381333931")  # a mug of SO-0001, by keyboard wedge
        await wait_for(pilot, lambda: screen.order.units_scanned == 1, what="scan")
        await pilot.press("f13")
        await wait_for(pilot, lambda: "No photo" in said(screen), what="camera error")
        assert words.lower() in said(screen).lower()
        assert "camera" in app.device_problems
        bar = str(screen.query_one("#devices").render())
        assert app.device_problems["camera"][:30] in bar
        assert screen.order.units_scanned == 1
    assert _photo_rows(config) == [] and outbox(config, "photo_taken") == []
    assert len(outbox(config, "item_scanned")) == 1
    assert not (tmp_path / "var" / "photos").exists() or not any(
        (tmp_path / "var" / "photos").rglob("*.jpg")
    )


async def test_photo_key_without_a_camera_refuses(tmp_path):
    config = make_config(tmp_path, "")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await pilot.press("f13")
        await wait_for(pilot, lambda: "No camera here" in said(screen), what="refusal")


async def test_inspector_notes_damage_with_photos(tmp_path):
    config = make_config(tmp_path, "emulator://camera")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        await login(pilot, "Q5001")
        await pilot.press("f14")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="inspect")
        inspect = app.screen
        await type_text(pilot, "MUG-WHT")  # an item before the receipt: refused
        assert "receipt or PO first" in str(inspect.query_one("#note").render())
        await type_text(pilot, "PO-4711")
        await type_text(pilot, "3")  # three mugs arrived: count them, damaged ones too
        await type_text(pilot, "04006381333931")
        await pilot.press("f2")  # then note the damaged ones
        await type_text(pilot, "04006381333931")
        await type_text(pilot, "2")
        await pilot.press("f13")
        await pilot.press("f13")
        await wait_for(pilot, lambda: len(inspect.photos) == 2, what="two photos")
        await type_text(pilot, "1")  # crushed
        await wait_for(pilot, lambda: inspect.noted == 1, what="note")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, InspectScreen), what="back")
    [note] = outbox(config, "inbound_inspected")
    shas = [e["sha256"] for e in outbox(config, "photo_taken")]
    assert note == {
        "ref": "PO-4711",
        "sku": "MUG-WHT",
        "qty_damaged": 2,
        "reason": "crushed",
        "photos": shas,
        "operator": "Q5001",
    }
    assert {r["subject"] for r in _photo_rows(config)} == {"receipt/PO-4711"}


async def test_a_packer_may_not_inspect(tmp_path):
    config = make_config(tmp_path, "emulator://camera")
    app = StationApp(config)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await login(pilot)
        await pilot.press("f14")
        await pilot.pause()
        assert not isinstance(app.screen, InspectScreen)
        assert "inspectors and leads" in said(screen)


def test_hub_records_photo_taken_and_inbound_inspected(tmp_path):
    from drivers.emulators.camera import EmulatorCamera
    from station.inspection import record_inspection, record_photo

    station = open_db(tmp_path / "station.db")
    stored = record_photo(
        station,
        PhotoStore.beside(station, tmp_path / "station.db"),
        "WH1-PACK-01",
        EmulatorCamera().capture(),
        Operator("Q5001", "Tomás", "inspector").badge,
        "receipt/PO-1",
    )
    record_inspection(station, "WH1-PACK-01", "Q5001", "PO-1", "MUG", 1, "wet", [stored.sha256])
    events = [
        Event(seq=e["seq"], id=e["event_id"], type=e["type"], at=e["at"], data=e["payload"])
        for e in pending_events(station)
    ]
    hub = hub_store.open_db(tmp_path / "hub.db")
    receipt = receive_events(hub, "WH1", "WH1-PACK-01", events)
    assert (receipt.applied, receipt.rejected) == (2, 0)
    rows = hub.execute("SELECT type, error FROM inbox ORDER BY seq").fetchall()
    assert rows == [("photo_taken", None), ("inbound_inspected", None)]


def test_photo_row_and_event_commit_together(tmp_path):
    from drivers.emulators.camera import EmulatorCamera

    db = open_db(tmp_path / "station.db")
    photos = PhotoStore.beside(db, tmp_path / "station.db")

    def event_fails(stored) -> None:
        raise RuntimeError("disk full while writing the event")

    with pytest.raises(RuntimeError):
        photos.add(EmulatorCamera().capture(), "B1001", "order/SO-1", then=event_fails)
    assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0


def test_photo_and_inspect_are_on_the_command_sheet():
    from station.commands import sheet_entries

    entries = dict(sheet_entries())
    assert entries["CMD:PHOTO"] == "Photograph damage [Shift+F1]"
    assert entries["CMD:INSPECT"].endswith("[Shift+F2]")
