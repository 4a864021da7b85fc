"""ESC/POS wire faults (slow, noise, a reset mid-job or instead of a status answer) through
the slip driver over a real socket, and through the station's print queue."""

from __future__ import annotations

import time

import msgspec
import pytest

from drivers.base import PrinterState, SlipDocument, SlipLine
from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.errors import DeliveryFailed, DeliveryUncertain, DeviceUnreachable, PrinterFault
from drivers.urls import open_slip_printer
from station.printing import queue, worker
from station.printing.worker import PrintWorker
from station.store.db import open_db

DOC = SlipDocument([SlipLine("PACKING SLIP"), SlipLine("Order ORD-77")], barcode="ORD-77")


@pytest.fixture
def slip(escpos_emu):
    p = open_slip_printer(escpos_emu.url + "?timeout=2")
    p.status_timeout = 0.3
    yield p
    p.close()


def test_slow_answers_within_the_timeout_still_print(escpos_emu, slip):
    escpos_emu.slow(0.1)
    assert slip.status().ready
    slip.print_document(DOC)
    assert "ORD-77" in escpos_emu.wait_for_jobs(1)[0].text


def test_too_slow_after_answering_is_not_answering_and_nothing_is_sent(escpos_emu, slip):
    assert slip.status().ready  # it speaks DLE EOT
    escpos_emu.slow(1.0)
    assert slip.status().conditions == (PrinterState.NOT_ANSWERING,)
    with pytest.raises(PrinterFault, match="not answering") as info:
        slip.print_document(DOC)
    assert info.value.conditions == ["not_answering"]
    time.sleep(1.2)  # the late answers arrive on closed connections
    assert escpos_emu.jobs == [] and escpos_emu.held == []
    escpos_emu.slow(0)
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("paper_out", (PrinterState.PAPER_OUT,)), ("cover_open", (PrinterState.COVER_OPEN,)),
     (None, (PrinterState.READY,))],
)  # fmt: skip
def test_noise_before_a_late_answer_is_never_taken_for_it(escpos_emu, slip, fault, expected):
    # the junk arrives at once, the status byte 0.1 s later: two separate reads
    escpos_emu.noise()
    escpos_emu.slow(0.1)
    if fault:
        getattr(escpos_emu, fault)()
    assert slip.status().conditions == expected


def test_noise_with_a_printer_answering_only_gs_r(escpos_emu, slip):
    escpos_emu.no_status(dle_eot=True, gs_r=False)
    escpos_emu.noise()
    escpos_emu.slow(0.1)
    escpos_emu.paper_out()
    assert slip.status().conditions == (PrinterState.PAPER_OUT,)
    escpos_emu.paper_out(False)
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1


def test_disconnect_mid_job_is_a_failed_delivery_then_prints_once(escpos_emu, slip):
    escpos_emu.disconnect_mid_job()
    with pytest.raises(DeliveryFailed, match="printed again whole") as info:
        slip.print_document(DOC)
    assert not isinstance(info.value, DeliveryUncertain)  # the queue may resend it
    assert escpos_emu.hangups == 1 and escpos_emu.jobs == []
    slip.print_document(DOC)  # the printer is back: the slip prints whole, once
    (job,) = escpos_emu.wait_for_jobs(1)
    assert job.barcodes == ["ORD-77"] and job.slip.cuts == 1
    time.sleep(0.2)
    assert len(escpos_emu.jobs) == 1


def test_disconnect_instead_of_a_status_answer_sends_nothing(escpos_emu, slip):
    escpos_emu.disconnect_on_status()
    with pytest.raises(DeviceUnreachable, match="went away") as info:
        slip.print_document(DOC)
    assert not isinstance(info.value, DeliveryFailed | DeliveryUncertain)  # nothing sent
    assert escpos_emu.hangups == 1 and escpos_emu.jobs == [] and escpos_emu.held == []
    escpos_emu.disconnect_on_status()
    assert slip.status().conditions == (PrinterState.UNREACHABLE,)
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1


def test_printer_without_gs_r_is_asked_to_confirm_once_only(escpos_emu, slip):
    # DLE EOT answered, GS r not: the first slip waits confirm_timeout, later ones do not
    slip.confirm_timeout = 0.3
    escpos_emu._answers_gs_r = False  # no public switch for this rare printer
    slip.print_document(DOC)
    assert slip.answers_gs_r is False
    started = time.monotonic()
    slip.print_document(DOC)
    assert time.monotonic() - started < 0.25
    assert len(escpos_emu.wait_for_jobs(2)) == 2


# -- through the station's print queue ------------------------------------------------------


def wait_for(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


@pytest.mark.parametrize("fault", ["disconnect_mid_job", "disconnect_on_status"])
def test_queued_slip_survives_a_disconnect_and_prints_once_when_back(tmp_path, monkeypatch, fault):
    monkeypatch.setattr(worker, "BACKOFF_S", (0.5,))
    path = tmp_path / "station.db"
    db = open_db(path)
    errors: list[str | None] = []
    with EscposPrinterEmulator() as emu:
        queue.set_printers(db, {"slip": ("slip", emu.url)})
        getattr(emu, fault)()
        w = PrintWorker(
            path, "slip", lambda: open_slip_printer(emu.url),
            on_change=lambda role, error: errors.append(error),
        )  # fmt: skip
        job = queue.enqueue(db, "slip", "packing_slip", msgspec.json.encode(DOC))
        w.start()
        try:
            waiting = wait_for(lambda: (j := queue.get(db, job)).last_error and j)
            assert waiting.status == "queued" and emu.hangups == 1
            emu.go_offline()  # and the printer stays away a while: the job keeps waiting
            time.sleep(1.0)
            assert queue.get(db, job).status == "queued" and emu.jobs == []
            emu.come_back()
            wait_for(lambda: queue.get(db, job).status == "printed")
        finally:
            w.stop()
            w.join(5)
        time.sleep(0.2)
        (printed,) = emu.jobs
        assert printed.barcodes == ["ORD-77"]
    assert errors[-1] is None and any(e and "retried" in e for e in errors)
    db.close()
