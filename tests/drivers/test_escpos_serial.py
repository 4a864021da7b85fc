"""ESC/POS over a serial line (issue 5: ``escpos+serial://``): python-escpos ``Serial``
through the slip driver against the serial emulator on a real pty, faults included, and
through the station's print queue."""

from __future__ import annotations

import threading
import time

import msgspec
import pytest
import serial

from drivers.base import PrinterState, SlipDocument, SlipLine
from drivers.emulators.escpos_serial import SerialEscposPrinterEmulator
from drivers.errors import PrinterFault
from drivers.protocols.escpos import render_slip
from drivers.urls import open_slip_printer
from station.labels.shipping import Address
from station.labels.slip import packing_slip, return_slip
from station.printing import queue, worker
from station.printing.worker import PrintWorker
from station.store.db import open_db

SHIP_TO = Address("Ana Lopez", "Calle Mayor 5", "Madrid", "28013", "ES")
PACKING = packing_slip(
    "WEB-1001",
    SHIP_TO,
    [("MUG-WHT", "White mug 350 ml", 2, 2), ("TSH-M", "T-shirt M", 1, 0)],
    returns_url="https://shop.example/r/WEB-1001",
)
RETURN = return_slip(
    "WEB-1001", "RMA-42", [("MUG-WHT", "White mug 350 ml", 1, "broken")], "https://r.example/42"
)
DOC = SlipDocument([SlipLine("Order ORD-9")], barcode="ORD-9")


@pytest.fixture
def emu():
    with SerialEscposPrinterEmulator(baud=19200) as e:
        yield e


@pytest.fixture
def slip(emu):
    p = open_slip_printer(emu.url + "&timeout=2")
    p.status_timeout = 0.3
    yield p
    p.close()


def wait_for(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


def test_url_names_the_pty_and_its_baud_rate(emu):
    assert emu.url == f"escpos+serial://{emu.port}?baud=19200"
    assert emu.port.startswith("/dev/pts/")


def test_packing_and_return_slip_print_with_barcode_and_qr(emu, slip):
    slip.print_document(PACKING)
    slip.print_document(RETURN)
    packed, returned = emu.wait_for_jobs(2)
    assert "PACKING SLIP" in packed.text and "28013 MADRID" in packed.text
    assert packed.barcodes == ["WEB-1001"] and packed.qr_codes == [
        "https://shop.example/r/WEB-1001"
    ]
    assert "RETURN SLIP" in returned.text and "Reason: broken" in returned.text
    assert returned.barcodes == ["RMA-42"] and returned.qr_codes == ["https://r.example/42"]
    for job in (packed, returned):
        assert b"\x1dkI" in job.data and b"\x1d(k" in job.data  # Code 128, QR commands
        assert job.slip.cuts == 1
    assert slip.answers_gs_r is True  # each slip was confirmed over the line
    assert emu.pending.text == "" and emu.misheard == 0


def test_a_line_that_is_never_closed_splits_jobs_at_the_cut(emu):
    # No driver here: one write carrying a whole slip, a status query and half the next,
    # as a program that keeps the port open would send them.
    first, second = render_slip(DOC), render_slip(SlipDocument([SlipLine("SECOND")]))
    with serial.Serial(emu.port, 19200, timeout=2) as line:
        line.write(first + b"\x10\x04\x04" + second[:-4])
        assert line.read(1) == b"\x12"  # DLE EOT 4: paper fine, answered inline
        (job,) = emu.wait_for_jobs(1)
        assert job.barcodes == ["ORD-9"] and "SECOND" not in job.text
        assert job.data == first  # the job ends at its cut
        assert "SECOND" in emu.pending.text
        line.write(second[-4:])
        assert "SECOND" in emu.wait_for_jobs(2)[1].text
    assert emu.status_queries == 1


@pytest.mark.parametrize(
    ("fault", "expected", "detail"),
    [("paper_low", (PrinterState.READY,), "nearly"),
     ("paper_out", (PrinterState.PAPER_OUT,), ""),
     ("cover_open", (PrinterState.COVER_OPEN,), "")],
)  # fmt: skip
def test_status_over_the_line(emu, slip, fault, expected, detail):
    getattr(emu, fault)()
    status = slip.status()
    assert status.conditions == expected and detail in status.detail


@pytest.mark.parametrize("fault", ["paper_out", "cover_open"])
def test_a_stopped_printer_is_sent_nothing(emu, slip, fault):
    getattr(emu, fault)()
    with pytest.raises(PrinterFault):
        slip.print_document(DOC)
    time.sleep(0.1)
    assert emu.jobs == [] and emu.held == [] and emu.pending.text == ""
    getattr(emu, fault)(False)
    slip.print_document(DOC)
    assert emu.wait_for_jobs(1)[0].barcodes == ["ORD-9"]


@pytest.mark.parametrize("slow", [0.0, 0.1])
@pytest.mark.parametrize(
    ("fault", "expected"),
    [("paper_out", (PrinterState.PAPER_OUT,)), ("cover_open", (PrinterState.COVER_OPEN,)),
     (None, (PrinterState.READY,))],
)  # fmt: skip
def test_noise_before_a_status_byte_is_skipped(emu, slip, fault, expected, slow):
    # slow 0: junk and answer in one read; 0.1: the answer in a later read
    emu.noise()
    emu.slow(slow)
    if fault:
        getattr(emu, fault)()
    assert slip.status().conditions == expected


def test_unplugged_printer_is_not_answering_and_gets_the_slip_when_back(emu, slip):
    assert slip.status().ready
    emu.go_offline()
    assert slip.status().conditions == (PrinterState.NOT_ANSWERING,)
    with pytest.raises(PrinterFault, match="not answering"):
        slip.print_document(DOC)
    assert emu.lost > 0  # the status queries went down the line, to nobody
    emu.come_back()
    slip.print_document(DOC)
    (job,) = emu.wait_for_jobs(1)
    assert job.barcodes == ["ORD-9"]


def test_writing_to_an_unplugged_line_never_blocks(emu):
    # A pty nobody reads fills after a few KB and blocks the writer; a real line drains.
    emu.go_offline()
    blind = open_slip_printer(emu.url + "&check=0")
    big = SlipDocument([SlipLine(f"line {n} " + "x" * 30) for n in range(3000)])
    done = threading.Event()
    threading.Thread(target=lambda: (blind.print_document(big), done.set()), daemon=True).start()
    assert done.wait(10)
    blind.close()
    assert emu.lost > 100_000 and emu.jobs == [] and emu.pending.text == ""


def test_a_port_at_another_baud_rate_is_not_understood(emu):
    wrong = open_slip_printer(emu.url.replace("19200", "9600"))
    wrong.status_timeout = 0.3
    try:
        assert wrong.status().conditions == (PrinterState.UNKNOWN,)
    finally:
        wrong.close()
    assert emu.misheard > 0 and emu.status_queries == 0


def test_slow_printer_keeps_the_queued_slip_until_it_answers_then_prints_it_once(
    tmp_path, monkeypatch, emu
):
    monkeypatch.setattr(worker, "BACKOFF_S", (0.3,))
    path = tmp_path / "station.db"
    db = open_db(path)

    def printer():
        p = open_slip_printer(emu.url)
        p.status_timeout = 0.3
        return p

    w = PrintWorker(path, "slip", printer)
    first = queue.enqueue(db, "slip", "packing_slip", msgspec.json.encode(DOC))
    w.start()
    try:
        wait_for(lambda: queue.get(db, first).status == "printed")  # it answered
        # Late answers come 3 s after each question, so none can land in a later
        # question's 0.3 s window before this test lets the printer answer again.
        emu.slow(3.0)
        second = queue.enqueue(db, "slip", "return_slip", msgspec.json.encode(RETURN))
        w.wake()
        waiting = wait_for(lambda: (j := queue.get(db, second)).last_error and j)
        assert "not answering" in waiting.last_error and waiting.status == "queued"
        time.sleep(1.0)  # a few retries, all refused by the driver before sending
        assert queue.get(db, second).status in ("queued", "sending") and len(emu.jobs) == 1
        emu.slow(0)
        wait_for(lambda: queue.get(db, second).status == "printed")
    finally:
        w.stop()
        w.join(5)
    time.sleep(0.3)
    jobs = emu.jobs
    assert [j.barcodes for j in jobs] == [["ORD-9"], ["RMA-42"]]  # the return slip once
    db.close()
