"""ESC/POS slips: rendering byte-exact, reading back, driver against the emulator."""

from __future__ import annotations

import os

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import PrinterState, SlipDocument, SlipLine
from drivers.errors import DeliveryFailed, DeliveryUncertain, DeviceUnreachable, PrinterFault
from drivers.protocols.escpos import encode_paper_status, paper_status, render_slip
from drivers.protocols.escpos_reader import EscposReader, read_slip
from drivers.slip_escpos import EscposSlipPrinter
from drivers.urls import open_slip_printer

DOC = SlipDocument(
    lines=[
        SlipLine("PACKING SLIP", bold=True, align="center", double=True),
        SlipLine("Order ORD-1234"),
        SlipLine("2 x Blue mug 350 ml", align="left"),
    ],
    barcode="ORD-1234",
    qr="https://shop.example/o/1234",
)


def test_render_is_what_python_escpos_sends():
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True, double_width=True, normal_textsize=False)
    p.textln("HI")
    p.set(align="left", bold=False, normal_textsize=True)
    p.cut()
    assert render_slip(SlipDocument(lines=[SlipLine("HI", True, "center", True)])) == p.output


def test_render_code128_bytes():
    data = render_slip(SlipDocument(barcode="AB{1", cut=False))
    # GS k 73 (Code 128, function B), length, "{B" code set B, data with "{" escaped
    assert b"\x1dkI\x07{BAB{{1" in data


def test_read_back_text_barcode_qr_and_cut():
    slip = read_slip(render_slip(DOC))
    assert "PACKING SLIP\nOrder ORD-1234\n2 x Blue mug 350 ml\n" in slip.text
    assert slip.barcodes == [(73, "ORD-1234")]
    assert slip.qr_codes == ["https://shop.example/o/1234"]
    assert slip.cuts == 1


def test_reader_copes_with_one_byte_reads():
    data = b"\x10\x04\x04" + render_slip(DOC)
    reader = EscposReader()
    queries = [q for i in range(len(data)) for q in reader.feed(data[i : i + 1])]
    assert queries == [4]
    assert reader.slip == read_slip(data)


def test_non_ascii_text_uses_printer_code_pages():
    assert "Größe 5 €" in read_slip(render_slip(SlipDocument([SlipLine("Größe 5 €")]))).text


def test_bad_barcode_fails_before_sending():
    with pytest.raises(PrinterFault, match="Code 128") as info:
        render_slip(SlipDocument(barcode="Ünïcode"))
    assert info.value.conditions == ["bad_document"]


@pytest.mark.parametrize(
    ("byte", "state"),
    [(encode_paper_status(False), PrinterState.READY),
     (encode_paper_status(True), PrinterState.PAPER_OUT),
     (encode_paper_status(False, low=True), PrinterState.READY),
     (b"", PrinterState.UNKNOWN)],
)  # fmt: skip
def test_paper_status_bytes(byte, state):
    assert paper_status(byte).conditions == (state,)


@pytest.fixture
def slip(escpos_emu):
    printer = open_slip_printer(escpos_emu.url + "?timeout=3")
    yield printer
    printer.close()


def test_slip_is_received_with_text_and_barcode(escpos_emu, slip):
    assert slip.status().ready
    slip.print_document(DOC)
    (job,) = escpos_emu.wait_for_jobs(1)
    assert "Order ORD-1234" in job.text
    assert job.barcodes == ["ORD-1234"]
    assert job.qr_codes == ["https://shop.example/o/1234"]


def test_paper_out_refuses_the_slip(escpos_emu, slip):
    escpos_emu.paper_out()
    assert slip.status().conditions == (PrinterState.PAPER_OUT,)
    with pytest.raises(PrinterFault, match="out of paper") as info:
        slip.print_document(DOC)
    assert info.value.conditions == ["paper_out"]
    escpos_emu.paper_out(False)
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1


def test_paper_low_still_prints(escpos_emu, slip):
    escpos_emu.paper_low()
    status = slip.status()
    assert status.ready and "nearly empty" in status.detail
    slip.print_document(DOC)
    escpos_emu.wait_for_jobs(1)


def test_unchecked_slip_waits_in_printer_until_paper_is_back(escpos_emu):
    printer = open_slip_printer(escpos_emu.url + "?check=0")
    escpos_emu.paper_out()
    printer.print_document(DOC)
    escpos_emu.wait_for_held(1)
    escpos_emu.paper_out(False)
    assert "ORD-1234" in escpos_emu.wait_for_jobs(1)[0].text


def test_offline_and_back(escpos_emu, slip):
    escpos_emu.go_offline()
    assert slip.status().conditions == (PrinterState.UNREACHABLE,)
    with pytest.raises(DeviceUnreachable, match="check power and cable"):
        slip.print_document(DOC)
    escpos_emu.come_back()
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1


def test_status_query_alone_is_not_a_job(escpos_emu, slip):
    slip.status()
    slip.print_document(DOC)
    assert len(escpos_emu.wait_for_jobs(1)) == 1
    # DLE EOT 4 (paper) and DLE EOT 1 (online), for status() and the check before printing,
    # then GS r 1 after the slip, which confirms it
    assert escpos_emu.status_queries == 5


def test_file_slip_printer(tmp_path):
    path = tmp_path / "usb-lp1"
    printer = open_slip_printer(f"escpos+file://{path}")
    assert printer.CAN_STATUS is False
    assert printer.status().conditions == (PrinterState.UNKNOWN,)
    printer.print_document(DOC)
    assert read_slip(path.read_bytes()).barcodes == [(73, "ORD-1234")]


def test_file_slip_printer_missing_device(tmp_path):
    printer = open_slip_printer(f"escpos+file://{tmp_path}/no/such/lp1")
    with pytest.raises(DeviceUnreachable):
        printer.print_document(DOC)


def test_offline_is_not_uncertain(escpos_emu, slip):
    escpos_emu.go_offline()
    with pytest.raises(DeviceUnreachable) as info:
        slip.print_document(DOC)
    assert not isinstance(info.value, DeliveryUncertain)  # nothing sent: safe to retry


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_write_failing_part_way_is_a_failed_delivery_to_retry():
    with pytest.raises(DeliveryFailed, match="printed again whole") as info:
        open_slip_printer("escpos+file:///dev/full").print_document(DOC)
    assert not isinstance(info.value, DeliveryUncertain)  # the queue retries it by itself


def test_serial_url_builds_python_escpos_serial():
    printer = open_slip_printer("escpos+serial:///dev/ttyS0?baud=19200&parity=E&profile=TM-T88V")
    assert isinstance(printer, EscposSlipPrinter)
    dev = printer.printer
    assert (dev.devfile, dev.baudrate, dev.parity) == ("/dev/ttyS0", 19200, "E")
    assert printer.CAN_STATUS


def test_emulator_url_slip_printer():
    printer = open_slip_printer("emulator://slip-printer")
    try:
        printer.print_document(DOC)
        assert "PACKING SLIP" in printer.emulator.wait_for_jobs(1)[0].text
    finally:
        printer.close()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 50))
def test_reader_never_crashes_on_random_bytes(data, step):
    reader = EscposReader()
    for i in range(0, len(data), step):
        reader.feed(data[i : i + step])
