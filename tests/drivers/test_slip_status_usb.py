"""ESC/POS paper/cover/offline status against the emulator over TCP, GS r 1 fallback, and
escpos+usb:// URLs (pyusb is stood in for: no USB printer on a test machine)."""

from __future__ import annotations

import types

import pytest
from escpos.printer import usb as escpos_usb

from drivers.base import PrinterState, SlipDocument, SlipLine
from drivers.errors import BadDeviceURL, DeviceUnreachable, PrinterFault
from drivers.protocols.escpos import (
    encode_paper_sensor,
    offline_status,
    paper_sensor_status,
)
from drivers.protocols.escpos_reader import EscposReader
from drivers.slip_escpos import EscposSlipPrinter, InterfaceUsb
from drivers.urls import open_slip_printer

DOC = SlipDocument([SlipLine("Order ORD-1")], barcode="ORD-1")


@pytest.fixture
def slip(escpos_emu):
    p = open_slip_printer(escpos_emu.url + "?timeout=2")
    p.status_timeout = 0.2
    yield p
    p.close()


def test_gs_r_and_dle_eot_bytes():
    assert paper_sensor_status(encode_paper_sensor(True)).conditions == (PrinterState.PAPER_OUT,)
    low = paper_sensor_status(encode_paper_sensor(False, low=True))
    assert low.ready and "nearly empty" in low.detail
    assert paper_sensor_status(b"\x12").conditions == (PrinterState.UNKNOWN,)  # not a GS r byte
    assert offline_status(b"\x12", b"") is None  # online
    cover = offline_status(b"\x1a", b"\x16")
    assert cover.conditions == (PrinterState.COVER_OPEN,)


def test_reader_reports_gs_r_queries_in_order():
    reader = EscposReader()
    assert reader.feed_queries(b"\x10\x04\x04ab\x1dr\x01\x10\x04") == [
        b"\x10\x04\x04",
        b"\x1dr\x01",
    ]
    assert reader.feed(b"\x01") == [1]
    assert reader.slip.text == "ab"


@pytest.mark.parametrize(
    ("fault", "states", "words"),
    [("cover_open", ["cover_open"], "cover open: close the cover"),
     ("offline", ["error"], "printer offline"),
     ("paper_out", ["paper_out"], "out of paper")],
)  # fmt: skip
def test_fault_refuses_the_slip_and_nothing_is_sent(escpos_emu, slip, fault, states, words):
    getattr(escpos_emu, fault)()
    assert [str(c) for c in slip.status().conditions] == states
    with pytest.raises(PrinterFault, match=words) as info:
        slip.print_document(DOC)
    assert info.value.conditions == states
    getattr(escpos_emu, fault)(False)
    assert escpos_emu.jobs == [] and escpos_emu.held == []
    slip.print_document(DOC)
    assert escpos_emu.wait_for_jobs(1)[0].barcodes == ["ORD-1"]


def test_near_end_is_ready_with_a_note(escpos_emu, slip):
    escpos_emu.paper_low()
    status = slip.status()
    assert status.ready and "nearly empty" in status.detail


def test_printer_without_dle_eot_is_asked_gs_r(escpos_emu, slip):
    escpos_emu.no_status(dle_eot=True, gs_r=False)
    escpos_emu.paper_out()
    assert slip.status().conditions == (PrinterState.PAPER_OUT,)
    escpos_emu.paper_out(False)
    escpos_emu.paper_low()
    assert "nearly empty" in slip.status().detail


def test_printer_with_no_status_at_all_still_prints(escpos_emu, slip):
    escpos_emu.no_status()
    assert slip.status().conditions == (PrinterState.UNKNOWN,)
    slip.print_document(DOC)
    escpos_emu.wait_for_jobs(1)


# -- USB ---------------------------------------------------------------------------------

USB_URL = "escpos+usb://04b8:0202?profile=TM-T88V&interface=1&in_ep=0x81&out_ep=2"


def test_usb_without_pyusb_is_a_clear_bad_url(monkeypatch):
    monkeypatch.setattr(escpos_usb, "_DEP_USB", False)
    with pytest.raises(BadDeviceURL, match="pip install pyusb"):
        open_slip_printer(USB_URL)


@pytest.mark.parametrize(
    "url", ["escpos+usb://04b8", "escpos+usb://xyz:0202", "escpos+usb://04b8:0202?in_ep=ep1"]
)
def test_usb_url_errors(url, monkeypatch):
    monkeypatch.setattr(escpos_usb, "_DEP_USB", True)
    with pytest.raises(BadDeviceURL, match="VID:PID"):
        open_slip_printer(url)


class FakeUsbError(OSError):
    pass


def fake_pyusb(monkeypatch, find):
    core = types.SimpleNamespace(find=find, USBError=FakeUsbError)
    monkeypatch.setattr(escpos_usb, "_DEP_USB", True)
    monkeypatch.setattr(escpos_usb, "usb", types.SimpleNamespace(core=core), raising=False)


def test_usb_url_options_reach_python_escpos(monkeypatch):
    fake_pyusb(monkeypatch, lambda **kw: None)
    p = open_slip_printer(USB_URL)
    assert isinstance(p, EscposSlipPrinter) and isinstance(p.printer, InterfaceUsb)
    dev = p.printer
    assert dev.usb_args == {"idVendor": 0x04B8, "idProduct": 0x0202}
    assert (dev.interface, dev.in_ep, dev.out_ep) == (1, 0x81, 2)
    assert p.CAN_STATUS and p.profile == "TM-T88V"


def test_usb_permission_denied_names_the_udev_rule(monkeypatch):
    def find(**kw):
        raise FakeUsbError(13, "Access denied (insufficient permissions)")

    fake_pyusb(monkeypatch, find)
    p = open_slip_printer(USB_URL)
    with pytest.raises(DeviceUnreachable) as info:
        p.print_document(DOC)
    words = str(info.value)
    assert "permission denied" in words and 'ATTRS{idVendor}=="04b8"' in words
    assert "udevadm" in words
    assert p.status().conditions == (PrinterState.UNREACHABLE,)


def test_usb_missing_libusb_and_unplugged(monkeypatch):
    class NoBackendError(ValueError):
        pass

    def no_backend(**kw):
        raise NoBackendError("No backend available")

    fake_pyusb(monkeypatch, no_backend)
    with pytest.raises(DeviceUnreachable, match="libusb is not installed"):
        open_slip_printer(USB_URL).print_document(DOC)
    fake_pyusb(monkeypatch, lambda **kw: None)
    with pytest.raises(DeviceUnreachable, match="not found: check it is switched on"):
        open_slip_printer(USB_URL).print_document(DOC)
