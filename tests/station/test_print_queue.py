"""The print queue's lead operations (cancel, move), backoff and restarts; workers against
real emulators over TCP; ``doms station jobs`` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from drivers.base import SlipDocument, SlipLine
from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from drivers.urls import open_label_printer
from station.printing import queue, worker
from station.printing.queue import QueueError
from station.printing.worker import PrintWorker
from station.store.db import open_db

LABEL = b"^XA^FO50,50^FDORDER 1^FS^XZ"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "station.db"


@pytest.fixture
def db(path):
    db = open_db(path)
    queue.set_printers(db, {"pack2": ("label", "tcp://x"), "spare-slip": ("slip", "")})
    yield db
    db.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(worker, "BACKOFF_S", (0.2, 0.4))


def label(db, n: int = 1) -> int:
    return queue.enqueue(db, "label", "shipping_label", LABEL.replace(b"1", str(n).encode()))


def test_move_changes_printer_and_resets_backoff(db):
    job = label(db)
    assert queue.mark_sending(db, job)
    queue.mark_waiting(db, job, "out of paper", retry_in=60)
    before = queue.get(db, job)
    assert before.attempts == 1 and before.retry_at > time.time() + 50
    moved = queue.move(db, job, "pack2")
    assert (moved.printer, moved.status, moved.attempts, moved.last_error, moved.retry_at) == (
        "pack2", "queued", 0, None, None,
    )  # fmt: skip
    assert queue.next_queued(db, "label") is None
    assert queue.next_queued(db, "pack2").job_id == job


def test_a_job_being_sent_cannot_be_moved_or_cancelled(db):
    job = label(db)
    queue.mark_sending(db, job)
    with pytest.raises(QueueError, match="being sent"):
        queue.move(db, job, "pack2")
    with pytest.raises(QueueError, match="being sent"):
        queue.cancel_job(db, job)
    assert queue.get(db, job).printer == "label"


@pytest.mark.parametrize(
    ("to", "words"),
    [("slip", "choose a label printer"), ("spare-slip", "prints slips"),
     ("nowhere", "no printer 'nowhere'"), ("label", "already on printer")],
)  # fmt: skip
def test_move_refuses_wrong_targets(db, to, words):
    job = label(db)
    with pytest.raises(QueueError, match=words):
        queue.move(db, job, to)
    assert queue.get(db, job).printer == "label"


def test_printed_or_cancelled_jobs_stay_put(db):
    done, gone = label(db, 1), label(db, 2)
    queue.mark_sending(db, done)
    queue.mark_printed(db, done)
    queue.cancel_job(db, gone)
    for job in (done, gone):
        with pytest.raises(QueueError, match="already"):
            queue.move(db, job, "pack2")
    with pytest.raises(QueueError, match="no print job 999"):
        queue.cancel_job(db, 999)


def test_move_all_takes_waiting_jobs_and_leaves_the_one_being_sent(db):
    sending, waiting, uncertain = label(db, 1), label(db, 2), label(db, 3)
    queue.mark_sending(db, sending)
    queue.mark_sending(db, uncertain)
    queue.mark_uncertain(db, uncertain, "cable pulled")
    assert queue.move_all(db, "label", "pack2") == [waiting, uncertain]
    assert [(j.job_id, j.printer, j.status) for j in queue.open_jobs(db)] == [
        (sending, "label", "sending"),
        (waiting, "pack2", "queued"),
        (uncertain, "pack2", "uncertain"),  # moved, still waits for a person's resend
    ]


def test_move_all_is_all_or_nothing(db):
    label(db, 1)
    slip = queue.enqueue(db, "slip", "packing_slip", b"{}")
    db.execute("UPDATE print_jobs SET printer = 'label' WHERE job_id = ?", [slip])  # stray slip
    with pytest.raises(QueueError, match="is a slip"):
        queue.move_all(db, "label", "pack2")
    assert {j.printer for j in queue.open_jobs(db)} == {"label"}


def start(path, name: str, url: str) -> PrintWorker:
    opener = open_label_printer
    if url.startswith("escpos"):
        from drivers.urls import open_slip_printer as opener
    w = PrintWorker(path, name, lambda: opener(url))
    w.start()
    return w


def stop(*workers: PrintWorker) -> None:
    for w in workers:
        w.stop()
    for w in workers:
        w.join(5)


def wait_status(db, job: int, status: str, timeout: float = 5.0) -> queue.Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = queue.get(db, job)
        if found.status == status:
            return found
        time.sleep(0.02)
    raise AssertionError(f"job {job} is {queue.get(db, job)}, expected {status}")


def test_moved_job_is_printed_by_the_other_printers_worker(db, path):
    with ZplPrinterEmulator() as here, ZplPrinterEmulator() as there:
        queue.set_printers(db, {"pack2": ("label", there.url)})
        here.paper_out()
        workers = start(path, "label", here.url), start(path, "pack2", there.url)
        try:
            job = label(db)
            workers[0].wake()
            deadline = time.monotonic() + 5
            while not (queue.get(db, job).last_error or "").startswith("Label printer out of"):
                assert time.monotonic() < deadline, queue.get(db, job)
                time.sleep(0.02)
            queue.move(db, job, "pack2")
            workers[1].wake()
            assert there.wait_for_labels(1) == [LABEL]
            wait_status(db, job, "printed")
        finally:
            stop(*workers)
        here.paper_out(False)
        assert here.labels == [] and here.held == []  # never sent to the first printer


def test_cancelled_job_is_never_printed(db, path):
    with ZplPrinterEmulator() as emu:
        cancelled, kept = label(db, 1), label(db, 2)
        queue.cancel_job(db, cancelled)
        w = start(path, "label", emu.url)
        try:
            wait_status(db, kept, "printed")
        finally:
            stop(w)
        assert emu.labels == [LABEL.replace(b"1", b"2")]
        assert queue.get(db, cancelled).status == "cancelled"


def test_waiting_job_survives_a_restart_with_its_backoff_and_then_prints(db, path):
    with ZplPrinterEmulator() as emu:
        emu.go_offline()
        job = label(db)
        w = start(path, "label", emu.url)
        try:
            first = wait_status(db, job, "queued")
            deadline = time.monotonic() + 5
            while queue.get(db, job).attempts < 2:  # retried after its backoff
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            stop(w)
        assert first.job_id == job
        # "Restart": a fresh connection and worker find the job, its tries and its error.
        again = open_db(path)
        kept = queue.get(again, job)
        assert (
            kept.status == "queued" and kept.attempts >= 2 and "Cannot connect" in kept.last_error
        )
        assert kept.retry_at is not None
        emu.come_back()
        w = start(path, "label", emu.url)
        try:
            assert emu.wait_for_labels(1) == [LABEL]
            wait_status(again, job, "printed")
        finally:
            stop(w)
            again.close()


def test_slip_job_moved_to_another_slip_printer(db, path):
    doc = SlipDocument([SlipLine("RETURN RMA-7")], barcode="RMA-7")
    with EscposPrinterEmulator() as spare:
        queue.set_printers(db, {"spare-slip": ("slip", spare.url)})
        job = queue.enqueue(db, "slip", "packing_slip", msgspec.json.encode(doc))
        queue.move(db, job, "spare-slip")
        w = start(path, "spare-slip", spare.url)
        try:
            printed = spare.wait_for_jobs(1)[0]
            wait_status(db, job, "printed")
        finally:
            stop(w)
        assert "RETURN RMA-7" in printed.text and printed.barcodes == ["RMA-7"]


def doms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doms", "station", "jobs", *args],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip


def test_cli_lists_moves_and_cancels(db, path):
    a, b, c = label(db, 1), label(db, 2), label(db, 3)
    listed = doms("--db", str(path), "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{a:>6}  label" in listed.stdout and "pack2 (label)" in listed.stdout
    assert doms("--db", str(path), "move", str(a), "--to", "pack2").returncode == 0
    assert doms("--db", str(path), "cancel", str(b)).returncode == 0
    refused = doms("--db", str(path), "move", str(c), "--to", "spare-slip")
    assert refused.returncode == 1 and "prints slips" in refused.stderr
    moved = doms("--db", str(path), "move", "--all", "--from", "label", "--to", "pack2")
    assert moved.stdout.strip() == "1 job(s) moved from label to pack2"
    assert [(j.job_id, j.printer) for j in queue.open_jobs(db)] == [(a, "pack2"), (c, "pack2")]
    assert queue.get(db, b).status == "cancelled"


def test_migration_keeps_old_jobs_and_their_medium(tmp_path):
    from doms.db import connect, transaction
    from station.store import schema

    db = connect(tmp_path / "old.db")
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, fn in schema.MIGRATIONS.items[:2]:  # a database from before m003_photos
        with transaction(db):
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, 'then')", [name])
    db.execute(
        "INSERT INTO print_jobs (printer, kind, payload, created_at, updated_at) "
        "VALUES ('slip', 'packing_slip', x'7b7d', 'then', 'then')"
    )
    db.conn.commit()
    assert schema.migrate(db)[:2] == ["m003_photos", "m004_print_targets"]  # and any later
    (job,) = queue.open_jobs(db)
    assert (job.printer, job.media, job.payload, job.retry_at) == ("slip", "slip", b"{}", None)
    db.close()


def test_printer_silent_while_head_open_keeps_the_job_and_says_so(db, path):
    errors: list[str | None] = []
    with ZplPrinterEmulator() as emu:
        w = PrintWorker(
            path, "label", lambda: open_label_printer(emu.url + "?timeout=0.3"),
            on_change=lambda role, error: errors.append(error),
        )  # fmt: skip
        w.start()
        try:
            first = label(db, 1)
            wait_status(db, first, "printed")  # it answered ~HS: it speaks it
            emu.silent_while_head_open()
            emu.head_open()
            second = label(db, 2)
            w.wake()
            deadline = time.monotonic() + 5
            while "not answering – check head/cover" not in (
                queue.get(db, second).last_error or ""
            ):
                assert time.monotonic() < deadline, queue.get(db, second)
                time.sleep(0.02)
            assert queue.get(db, second).status == "queued"
            assert any(e and "check head/cover" in e for e in errors)  # what the station shows
            assert emu.held == []  # not sent into the silent printer
            emu.head_open(False)
            wait_status(db, second, "printed")
        finally:
            stop(w)
        assert len(emu.labels) == 2
