"""ZPL label printers: TCP driver against the emulator, CUPS through zebra, device file."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from drivers.base import PrinterState
from drivers.errors import DeliveryUncertain, DeviceUnreachable, PrinterFault
from drivers.label_zpl import ZplCupsPrinter, ZplFilePrinter, ZplPrinter, ZplTcpPrinter
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_label_printer

LABEL = b"^XA^FO50,50^A0N,40,40^FDORDER 1234^FS^XZ"


@pytest.fixture
def printer(zpl_emu):
    p = open_label_printer(zpl_emu.url + "?timeout=3")
    yield p
    p.close()


def test_ready_printer_prints(zpl_emu, printer, tmp_path):
    assert printer.status().ready
    printer.send(LABEL + b"\r\n" + LABEL.replace(b"1234", b"5678"))
    labels = zpl_emu.wait_for_labels(2)
    assert labels == [LABEL, LABEL.replace(b"1234", b"5678")]
    assert (tmp_path / "labels" / "0001.zpl").read_bytes() == LABEL


def test_status_reports_paper_out(zpl_emu, printer):
    zpl_emu.paper_out()
    status = printer.status()
    assert status.conditions == (PrinterState.PAPER_OUT,)
    assert "load a new roll" in status.describe()


@pytest.mark.parametrize(
    ("fault", "state"),
    [("paper_out", PrinterState.PAPER_OUT), ("head_open", PrinterState.HEAD_OPEN),
     ("pause", PrinterState.PAUSED), ("ribbon_out", PrinterState.RIBBON_OUT)],
)  # fmt: skip
def test_send_refuses_a_faulty_printer(zpl_emu, printer, fault, state):
    getattr(zpl_emu, fault)()
    with pytest.raises(PrinterFault) as info:
        printer.send(LABEL)
    assert info.value.conditions == [str(state)]
    assert zpl_emu.labels == [] and zpl_emu.held == []  # nothing was sent


def test_faulty_printer_buffers_then_prints_when_fixed(zpl_emu):
    # Without the ~HS check a real printer takes the job and prints it later: so do we.
    printer = open_label_printer(zpl_emu.url + "?check=0")
    zpl_emu.head_open()
    printer.send(LABEL)
    zpl_emu.wait_for_held(1)
    status = open_label_printer(zpl_emu.url).status()
    assert PrinterState.HEAD_OPEN in status.conditions and "1 label(s) waiting" in status.detail
    assert zpl_emu.labels == []
    zpl_emu.head_open(False)
    assert zpl_emu.wait_for_labels(1) == [LABEL]


def test_offline_and_back(zpl_emu, printer):
    zpl_emu.go_offline()
    assert printer.status().conditions == (PrinterState.UNREACHABLE,)
    with pytest.raises(DeviceUnreachable, match="Cannot connect"):
        printer.send(LABEL)
    zpl_emu.come_back()
    assert printer.status().ready
    printer.send(LABEL)
    assert zpl_emu.wait_for_labels(1) == [LABEL]


def test_status_of_silent_printer_is_a_state_without_raising():
    # It took the connection, so it is switched on: silence is a state (head/cover open
    # on some models), not "check power and cable".
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        p = ZplTcpPrinter("127.0.0.1", silent.getsockname()[1], timeout=0.3)
        status = p.status()
    assert status.conditions == (PrinterState.NOT_ANSWERING,)
    assert status.describe() == "not answering – check head/cover"


def test_status_never_raises_on_garbage():
    t = MemoryTransport.replying({b"~HS": b"\x02what,is,this\x03\r\n"})
    status = ZplPrinter(t, status_timeout=0.2).status()
    assert status.conditions == (PrinterState.UNKNOWN,)


def test_send_is_byte_exact_on_memory_transport():
    ready = (
        b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n"
        b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n"
    )
    t = MemoryTransport.replying({b"~HS": [ready[:30], ready[30:]]})
    ZplPrinter(t).send(LABEL)
    assert t.writes == [b"~HS", LABEL]
    assert t.closed  # one connection per job


def test_printer_without_hs_support_still_gets_the_job():
    t = MemoryTransport()  # never answers ~HS
    ZplPrinter(t, status_timeout=0.1).send(LABEL)
    assert t.writes == [b"~HS", LABEL]


def test_unreachable_host():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        p = ZplTcpPrinter("127.0.0.1", port, timeout=1)
        assert p.status().conditions == (PrinterState.UNREACHABLE,)
        with pytest.raises(DeviceUnreachable):
            p.send(LABEL)


def test_file_printer_appends(tmp_path):
    path = tmp_path / "lp0"
    p = open_label_printer(f"file://{path}")
    assert isinstance(p, ZplFilePrinter)
    p.send(LABEL)
    p.send(LABEL)
    assert path.read_bytes() == LABEL * 2
    assert p.status().conditions == (PrinterState.UNKNOWN,)


def test_file_printer_missing_device(tmp_path):
    p = ZplFilePrinter(str(tmp_path / "no" / "such" / "lp0"))
    assert p.status().conditions == (PrinterState.UNREACHABLE,)
    with pytest.raises(DeviceUnreachable, match="Check it is plugged in"):
        p.send(LABEL)


@pytest.fixture
def fake_lpr(tmp_path, monkeypatch):
    """A stand-in for lpr: saves stdin and its arguments, fails for queue 'broken'."""
    out = tmp_path / "lpr-out"
    script = (
        "import sys, pathlib\n"
        "if '-Pbroken' in sys.argv: sys.exit('lpr: The printer or class does not exist.')\n"
        f"pathlib.Path({str(out)!r}).write_bytes(sys.stdin.buffer.read())\n"
        f"pathlib.Path({str(out)!r} + '.args').write_text(' '.join(sys.argv[1:]))\n"
    )
    from drivers import label_zpl

    monkeypatch.setattr(label_zpl._CheckedZebra, "LPR", [sys.executable, "-c", script])
    return out


def test_cups_sends_raw_bytes(fake_lpr):
    p = open_label_printer("cups://Zebra_ZD621")
    assert isinstance(p, ZplCupsPrinter)
    data = LABEL.replace(b"ORDER", "Größe €".encode())  # must not be re-encoded as cp437
    p.send(data)
    assert fake_lpr.read_bytes() == data
    assert (fake_lpr.parent / "lpr-out.args").read_text() == "-PZebra_ZD621 -oraw"


def test_cups_failure_is_reported(fake_lpr):
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        ZplCupsPrinter("broken").send(LABEL)


def test_cups_status_without_cups_is_unknown(monkeypatch):
    monkeypatch.setattr(ZplCupsPrinter, "LPSTAT", ["/nonexistent/lpstat"])
    assert ZplCupsPrinter("Q").status().conditions == (PrinterState.UNKNOWN,)


def test_emulator_url_label_printer():
    p = open_label_printer("emulator://label-printer")
    try:
        p.send(LABEL)
        assert p.emulator.wait_for_labels(1) == [LABEL]
    finally:
        p.close()


# -- sent or not: a retry must never print a label twice ---------------------------------


class _BreaksMidWrite(MemoryTransport):
    def write(self, data: bytes) -> None:
        if data != b"~HS":
            raise DeviceUnreachable("connection reset")
        super().write(data)


def test_connection_breaking_mid_job_is_uncertain():
    t = _BreaksMidWrite()
    with pytest.raises(DeliveryUncertain, match="may or may not have printed"):
        ZplPrinter(t, status_timeout=0.05).send(LABEL)


def test_printer_that_stops_reading_is_uncertain():
    with socket.create_server(("127.0.0.1", 0)) as server:
        p = ZplTcpPrinter("127.0.0.1", server.getsockname()[1], timeout=0.5, check_status=False)
        # accepted by the kernel but never read: the send buffers fill, then time out
        with pytest.raises(DeliveryUncertain):
            p.send(b"^XA" + b"x" * 64_000_000 + b"^XZ")


def test_refused_connection_is_not_uncertain(zpl_emu):
    printer = open_label_printer(zpl_emu.url + "?check=0")
    zpl_emu.go_offline()
    with pytest.raises(DeviceUnreachable) as info:
        printer.send(LABEL)
    assert not isinstance(info.value, DeliveryUncertain)  # nothing sent: safe to retry


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_file_write_failing_part_way_is_uncertain():
    with pytest.raises(DeliveryUncertain):
        ZplFilePrinter("/dev/full").send(LABEL)
