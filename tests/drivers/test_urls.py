"""Device URLs -> drivers, and clear errors for the ones we cannot use."""

from __future__ import annotations

import pytest

from drivers.errors import BadDeviceURL
from drivers.label_zpl import ZplCupsPrinter, ZplFilePrinter, ZplPrinter, ZplTcpPrinter
from drivers.scale_mt_sics import MtSicsScale
from drivers.scanner_serial import SerialScanner
from drivers.slip_escpos import EscposSlipPrinter
from drivers.urls import (
    open_device,
    open_label_printer,
    open_scale,
    open_scanner,
    open_slip_printer,
)


def test_serial_scale_with_all_settings():
    scale = open_scale(
        "serial:///dev/pts/5?protocol=mt-sics&baud=19200&bytesize=7&parity=E&stopbits=2"
    )
    assert isinstance(scale, MtSicsScale)
    t = scale.transport
    assert t.port == "/dev/pts/5"
    assert t._settings["baudrate"] == 19200 and t._settings["bytesize"] == 7
    assert (t._settings["parity"], t._settings["stopbits"]) == ("E", 2)


def test_scale_defaults_and_windows_port():
    assert open_scale("serial://COM3").transport.port == "COM3"


def test_tcp_scale():
    assert open_scale("tcp://10.0.0.9:4001?protocol=mt-sics").transport.name == "10.0.0.9:4001"


def test_label_printer_forms():
    assert isinstance(open_label_printer("tcp://10.0.0.5:9100"), ZplTcpPrinter)
    assert open_label_printer("tcp://10.0.0.5").transport.port == 9100
    assert open_label_printer("tcp://h?check=0").check_status is False
    assert open_label_printer("cups://Zebra_ZD621").queue == "Zebra_ZD621"
    assert isinstance(open_label_printer("file:///dev/usb/lp0"), ZplFilePrinter)
    serial_zpl = open_label_printer("serial:///dev/ttyUSB1?protocol=zpl&baud=115200")
    assert type(serial_zpl) is ZplPrinter and serial_zpl.close_after is False


def test_label_printers_were_not_contacted():
    # opening must not touch the device: a station starts with the printer switched off
    assert isinstance(open_label_printer("tcp://192.0.2.1:9100"), ZplTcpPrinter)
    assert isinstance(open_label_printer("cups://NoSuchQueue"), ZplCupsPrinter)


def test_slip_printer_forms(tmp_path):
    for url in (
        "escpos+tcp://10.0.0.6:9100",
        "escpos+serial:///dev/ttyS0?baud=38400",
        f"escpos+file://{tmp_path}/lp1",
    ):
        assert isinstance(open_slip_printer(url), EscposSlipPrinter)


def test_scanner_suffixes():
    assert open_scanner("serial:///dev/ttyACM0").framer.suffix == b"\r"
    assert open_scanner("serial:///dev/ttyACM0?suffix=lf").framer.suffix == b"\n"
    assert open_scanner("serial:///dev/ttyACM0?suffix=crlf").framer.suffix == b"\r\n"
    hexed = open_scanner("serial:///dev/ttyACM0?suffix=03&prefix=5d4331")
    assert isinstance(hexed, SerialScanner)
    assert (hexed.framer.suffix, hexed.framer.prefix) == (b"\x03", b"]C1")


def test_open_device():
    assert isinstance(open_device("scale", "serial:///dev/ttyUSB0"), MtSicsScale)
    assert isinstance(open_device("label-printer", "tcp://h:9100"), ZplTcpPrinter)
    with pytest.raises(BadDeviceURL, match="Unknown kind of device"):
        open_device("toaster", "tcp://h:1")


@pytest.mark.parametrize(
    ("opener", "url", "words"),
    [
        (open_scale, "http://scale", "unknown scheme 'http'"),
        (open_scale, "serial:///dev/ttyUSB0?protocol=dibal", "unknown scale protocol 'dibal'"),
        (open_scale, "serial:///dev/ttyUSB0?baud=fast", "baud='fast' is not a valid int"),
        (open_scale, "serial:///dev/ttyUSB0?parity=X", "unknown serial parity 'X'"),
        (open_scale, "serial://", "no port or path given"),
        (open_scale, "tcp://:4001", "expected HOST:PORT"),
        (open_scale, "tcp://h:99999", "Port out of range"),
        (open_label_printer, "cups://", "no CUPS queue name"),
        (open_label_printer, "serial:///dev/ttyS0?protocol=epl", "protocol=zpl"),
        (open_label_printer, "lpd://queue", "unknown scheme 'lpd'"),
        (open_slip_printer, "tcp://h:9100", "unknown scheme 'tcp'"),
        (open_slip_printer, "escpos+tcp://h?profile=NoSuchModel", "python-escpos rejected"),
        (open_slip_printer, "escpos+serial:///dev/ttyS0?stopbits=3", "stop bits"),
        (open_scanner, "serial:///dev/ttyACM0?suffix=zz", "suffix must be"),
        (open_scanner, "usb://scanner", "unknown scheme 'usb'"),
    ],
)
def test_bad_urls_say_what_is_wrong(opener, url, words):
    with pytest.raises(BadDeviceURL, match=words) as info:
        opener(url)
    assert "Expected one of:" in str(info.value) or "Unknown kind" in str(info.value)
