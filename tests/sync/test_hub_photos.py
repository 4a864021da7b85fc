"""The hub's photo store without a broker: chunks assembled, checked against their hash,
kept beside the hub database; rows from events; the two ``doms hub`` commands."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from routing import store
from sync import hub_photos
from sync.hub_photos import PhotoAssembler, Refused
from sync.messages import CHUNK_BYTES, Event, PhotoChunk
from sync.photo_files import photo_path, root_beside
from tests.sync.e2e_helpers import ROOT

STATION = "WH1-PACK-01"


def chunks(data: bytes, station: str = STATION, sha: str | None = None) -> list[PhotoChunk]:
    sha = sha or hashlib.sha256(data).hexdigest()
    count = -(-len(data) // CHUNK_BYTES)
    return [
        PhotoChunk(station=station, sha256=sha, size=len(data), index=i, count=count,
                   data=data[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES],
                   subject="receipt/RCV-1", taken_at="2025-03-01T10:00:00.000Z")
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hub" / "hub.db"
    db = store.open_db(path, synchronous="OFF")
    hub_photos.migrate(db)
    db.close()
    return path


@pytest.fixture
def db(db_path):
    db = store.open_db(db_path, synchronous="OFF")
    yield db
    db.close()


@pytest.fixture
def assembler(db_path):
    return PhotoAssembler(root_beside(db_path))


def photo_row(db, sha):
    return db.execute(
        "SELECT station, subject, taken_at, size, received_at FROM photos WHERE sha256 = ?", [sha]
    ).fetchone()


def test_chunks_in_any_order_and_twice_make_the_file_once(db, assembler):
    data = os.urandom(3 * CHUNK_BYTES + 1000)
    parts = chunks(data)
    acks = [assembler.receive(db, STATION, c) for c in [parts[2], parts[0], parts[2], parts[3]]]
    assert acks == [None, None, None, None]
    ack = assembler.receive(db, STATION, parts[1])
    assert ack is not None and ack.stored and ack.sha256 == parts[0].sha256
    assert photo_path(assembler.root, ack.sha256).read_bytes() == data
    station, subject, taken_at, size, received_at = photo_row(db, ack.sha256)
    assert (station, subject, taken_at, size) == (STATION, "receipt/RCV-1",
                                                  "2025-03-01T10:00:00.000Z", len(data))  # fmt: skip
    assert received_at and assembler.stored == 1
    assert list(assembler.partial_dir.iterdir()) == []
    # A chunk of a photo already here (its ack was lost): answered stored at once.
    again = assembler.receive(db, STATION, parts[3])
    assert again is not None and again.stored and assembler.stored == 1


def test_a_file_that_does_not_match_its_hash_is_refused_and_not_kept(db, assembler):
    data = os.urandom(2 * CHUNK_BYTES)
    parts = chunks(data)
    bad = bytearray(parts[1].data)
    bad[100] ^= 0xFF
    assert assembler.receive(db, STATION, parts[0]) is None
    ack = assembler.receive(db, STATION, PhotoChunk(**{**_fields(parts[1]), "data": bytes(bad)}))
    assert ack is not None and not ack.stored and "SHA-256" in ack.reason
    assert not photo_path(assembler.root, parts[0].sha256).exists()
    assert photo_row(db, parts[0].sha256) is None and assembler.refused == 1
    # Sent again, right this time: kept.
    acks = [assembler.receive(db, STATION, c) for c in parts]
    assert acks[-1].stored and photo_path(assembler.root, parts[0].sha256).read_bytes() == data


def _fields(chunk: PhotoChunk) -> dict:
    return {f: getattr(chunk, f) for f in chunk.__struct_fields__}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"sha256": "ABC"}, "not a lowercase hex SHA-256"),
        ({"size": 0}, "outside"),
        ({"count": 5}, "cannot carry"),
        ({"index": 2}, "chunk 2 of 2"),
        ({"data": b"short"}, "has 5 bytes"),
    ],
)
def test_a_chunk_that_contradicts_itself_is_refused(db, assembler, change, reason):
    first = chunks(os.urandom(CHUNK_BYTES + 10))[0]
    with pytest.raises(Refused, match=reason):
        assembler.receive(db, STATION, PhotoChunk(**{**_fields(first), **change}))


def test_a_station_starting_another_photo_drops_the_half_received_one(db, assembler):
    a, b = chunks(os.urandom(2 * CHUNK_BYTES)), chunks(os.urandom(CHUNK_BYTES))
    assembler.receive(db, STATION, a[0])
    assert len(list(assembler.partial_dir.iterdir())) == 1
    assert assembler.receive(db, STATION, b[0]).stored
    assert list(assembler.partial_dir.iterdir()) == []
    # The dropped photo starts over: its second chunk alone completes nothing.
    assert assembler.receive(db, STATION, a[1]) is None


def test_partials_of_an_earlier_run_are_deleted_at_start(db, db_path, assembler):
    assembler.receive(db, STATION, chunks(os.urandom(2 * CHUNK_BYTES))[0])
    assert len(list(assembler.partial_dir.iterdir())) == 1
    PhotoAssembler(root_beside(db_path))
    assert list(assembler.partial_dir.iterdir()) == []


def event(seq: int, type_: str, data: dict) -> Event:
    return Event(seq, f"id-{seq}", type_, "2025-03-01T10:00:00.000Z", data)


def test_events_name_photos_and_missing_lists_those_not_received(db, assembler):
    data = os.urandom(100)
    got, missing = hashlib.sha256(data).hexdigest(), "b" * 64
    with store.transaction(db):
        named = hub_photos.record_refs(db, STATION, [
            event(1, "photo_taken", {"sha256": got, "subject": "receipt/RCV-1",
                                     "taken_at": "2025-03-01T10:00:00Z", "operator": "Q5001"}),
            event(2, "photo_taken", {"sha256": "not-a-hash", "subject": "x"}),
            event(3, "inbound_inspected", {"ref": "RCV-1", "photos": [got, missing]}),
            event(4, "item_scanned", {"sha256": "c" * 64}),
        ])  # fmt: skip
    assert named == 3
    assembler.receive(db, STATION, chunks(data)[0])
    everything = hub_photos.list_photos(db)
    assert [(p.sha256, p.subject, p.operator, p.size is not None) for p in everything] == [
        (got, "receipt/RCV-1", "Q5001", True),
        (missing, "receipt/RCV-1", None, False),
    ]
    assert [p.sha256 for p in hub_photos.list_photos(db, missing=True)] == [missing]
    assert {p.sha256 for p in hub_photos.list_photos(db, subject="receipt/RCV-1")} == {
        got,
        missing,
    }
    assert hub_photos.list_photos(db, subject="receipt/RCV-2") == []


def doms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doms", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_doms_hub_photos_and_photo(db, db_path, assembler, tmp_path):
    data = os.urandom(CHUNK_BYTES + 5)
    for c in chunks(data):
        assembler.receive(db, STATION, c)
    sha = hashlib.sha256(data).hexdigest()
    with store.transaction(db):
        hub_photos.record_refs(
            db, STATION, [event(1, "photo_taken", {"sha256": "d" * 64, "subject": "line/SO-1/1"})]
        )
    listed = doms("hub", "photos", "--db", str(db_path))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and any(line.startswith(sha) and "receipt/RCV-1" in line
                                   for line in lines)  # fmt: skip
    missing = doms("hub", "photos", "--db", str(db_path), "--missing")
    assert missing.stdout.split()[0] == "d" * 64 and missing.stdout.rstrip().endswith("missing")
    only = doms("hub", "photos", "--db", str(db_path), "--subject", "line/SO-1/1")
    assert [line.split()[0] for line in only.stdout.splitlines()] == ["d" * 64]

    out = tmp_path / "out" / "claim.jpg"
    copied = doms("hub", "photo", sha[:8], "--db", str(db_path), "--out", str(out))
    assert copied.returncode == 0, copied.stderr
    assert out.read_bytes() == data
    not_here = doms("hub", "photo", "d" * 10, "--db", str(db_path), "--out", str(out))
    assert not_here.returncode == 1 and "not received yet" in not_here.stderr
    unknown = doms("hub", "photo", "e" * 10, "--db", str(db_path), "--out", str(out))
    assert unknown.returncode == 1 and "no photo" in unknown.stderr
    # The hub's copy damaged on disk: refused rather than handed out.
    photo_path(assembler.root, sha).write_bytes(b"rot" + data[3:])
    damaged = doms("hub", "photo", sha, "--db", str(db_path), "--out", str(out))
    assert damaged.returncode == 1 and "damaged" in damaged.stderr


def test_a_chunk_marked_ask_is_answered_with_the_chunks_missing(db, assembler):
    data = os.urandom(5 * CHUNK_BYTES + 7)
    parts = chunks(data)
    # Chunks 1 and 3 never came (the broker lost them); the station's pass ends with 5.
    for c in (parts[0], parts[2], parts[4]):
        assert assembler.receive(db, STATION, c) is None
    ask = PhotoChunk(**{**_fields(parts[5]), "ask": True})
    report = assembler.receive(db, STATION, ask)
    assert report is not None and not report.stored and report.missing == [1, 3]
    assert assembler.refused == 0 and assembler.missing_reports == 1
    # Only those two are sent again: the photo is complete and checked.
    assert assembler.receive(db, STATION, parts[1]) is None
    done = assembler.receive(db, STATION, PhotoChunk(**{**_fields(parts[3]), "ask": True}))
    assert done is not None and done.stored and done.missing is None
    assert photo_path(assembler.root, done.sha256).read_bytes() == data
