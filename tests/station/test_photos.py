"""The photo store: content-addressed files, thumbnails, one row per picture."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from drivers.camera import Photo
from drivers.emulators.camera import EmulatorCamera
from station.photos import PhotoStore
from station.store.db import open_db
from station.store.schema import pending


def make_store(tmp_path):
    db_path = tmp_path / "var" / "station.db"
    db = open_db(db_path)
    return db, PhotoStore.beside(db, db_path)


def test_migration_adds_the_photos_table(tmp_path):
    db, _ = make_store(tmp_path)
    assert "photos" in db.table_names() and pending(db) == []


def test_photo_is_stored_by_its_sha256_beside_the_database(tmp_path):
    db, store = make_store(tmp_path)
    photo = EmulatorCamera(640, 480).capture()
    stored = store.add(photo, operator="B042", subject="receipt/RCV-1001", note="torn box")
    assert stored.created
    assert stored.path == tmp_path / "var" / "photos" / stored.sha256[:2] / f"{stored.sha256}.jpg"
    assert stored.path.read_bytes() == photo.jpeg
    row = db["photos"].get(stored.sha256)
    assert (row["operator"], row["subject"], row["note"]) == (
        "B042",
        "receipt/RCV-1001",
        "torn box",
    )
    assert (row["width"], row["height"], row["size"]) == (640, 480, len(photo.jpeg))
    assert row["taken_at"].endswith("Z")


def test_thumbnail_is_160_wide_keeping_the_aspect(tmp_path):
    _, store = make_store(tmp_path)
    stored = store.add(EmulatorCamera(640, 480).capture(), "B042", "line/7")
    with Image.open(stored.thumb_path) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (160, 120)


def test_small_picture_is_not_enlarged(tmp_path):
    _, store = make_store(tmp_path)
    out = io.BytesIO()
    Image.new("RGB", (100, 50), "green").save(out, format="JPEG")
    photo = Photo(out.getvalue(), 100, 50, datetime.now(UTC))
    with Image.open(store.add(photo, "B042", "line/8").thumb_path) as thumb:
        assert thumb.size == (100, 50)


def test_same_photo_twice_is_stored_once(tmp_path):
    db, store = make_store(tmp_path)
    photo = EmulatorCamera(320, 240).capture()
    first = store.add(photo, "B042", "receipt/RCV-1001")
    again = store.add(photo, "B077", "line/3", note="second try")
    assert not again.created and again.sha256 == first.sha256
    assert (again.operator, again.subject) == ("B042", "receipt/RCV-1001")
    assert db["photos"].count == 1
    files = sorted(p.name for p in (tmp_path / "var" / "photos").rglob("*") if p.is_file())
    assert files == [f"{first.sha256}.jpg", f"{first.sha256}.thumb.jpg"]


def test_photos_of_a_subject_in_order(tmp_path):
    _, store = make_store(tmp_path)
    camera = EmulatorCamera(160, 120)
    a = store.add(camera.capture(), "B042", "receipt/RCV-1")
    store.add(camera.capture(), "B042", "receipt/RCV-2")
    b = store.add(camera.capture(), "B042", "receipt/RCV-1")
    assert [p.sha256 for p in store.for_subject("receipt/RCV-1")] == [a.sha256, b.sha256]
