"""Serial scanner framing, the driver over a pty, and the keyboard-wedge burst detector."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.errors import DeviceUnreachable
from drivers.protocols.scanner import ScanFramer
from drivers.scanner_serial import SerialScanner
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_scanner
from drivers.wedge import GS, WedgeDetector


@pytest.mark.parametrize("suffix", [b"\r", b"\n", b"\r\n"])
def test_framer_line_endings(suffix):
    f = ScanFramer(suffix=suffix)
    assert f.feed(b"0123" + suffix + b"45") == ["0123"]
    assert f.feed(b"67" + suffix) == ["4567"]


def test_framer_tolerates_crlf_when_set_to_cr():
    assert ScanFramer(suffix=b"\r").feed(b"A1\r\nB2\r\n") == ["A1", "B2"]


def test_framer_prefix_custom_suffix_and_noise():
    f = ScanFramer(prefix=b"]C1", suffix=b"\x03")
    assert f.feed(b"\x00\x11]C1010950600013435\x1d10ABC\x03") == ["010950600013435\x1d10ABC"]


def test_framer_drops_empty_scans():
    assert ScanFramer().feed(b"\r\r\x00\r") == []


def test_driver_on_memory_transport_stamps_time():
    t = MemoryTransport()
    t.feed(b"0950", b"6000134352\r")
    got = []
    before = time.perf_counter()
    SerialScanner(t, source="test").run(got.append, stop=lambda: bool(got))
    assert [s.raw for s in got] == ["09506000134352"]
    assert got[0].source == "test" and got[0].at >= before


def _collect(scanner, n, timeout=10.0):
    """Run the scanner in a thread until n scans arrived; return them."""
    got, done = [], threading.Event()

    def on_scan(scan):
        got.append(scan)
        if len(got) >= n:
            done.set()

    errors = []

    def run():
        try:
            scanner.run(on_scan, stop=lambda: done.is_set() or len(errors) > 0)
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    return got, done, errors, thread


def test_serial_scanner_over_pty(scanner_emu):
    scanner = open_scanner(scanner_emu.url)
    got, done, errors, thread = _collect(scanner, 3)
    scanner.transport.read(0.01)  # open the port before the scans are sent
    thread.start()
    scanner_emu.scan("09506000134352")
    scanner_emu.scan("ORD-1234", split=True)
    scanner_emu.scan("0109506000134352\x1d10LOT7", noise=b"\x00\x11\x13")
    assert done.wait(10)
    thread.join(5)
    scanner.close()
    assert not errors
    assert [s.raw for s in got] == ["09506000134352", "ORD-1234", "0109506000134352\x1d10LOT7"]
    assert all(s.source.startswith("serial:/dev/") for s in got)
    assert got[0].at <= got[1].at <= got[2].at


def test_serial_scanner_crlf_suffix():
    from drivers.emulators.serial_scanner import SerialScannerEmulator

    with SerialScannerEmulator(suffix=b"\r\n") as emu:
        scanner = open_scanner(emu.url)
        assert scanner.framer.suffix == b"\r\n"
        got, done, errors, thread = _collect(scanner, 2)
        scanner.transport.read(0.01)
        thread.start()
        emu.scan("A1")
        emu.scan("B2", split=True)
        assert done.wait(10)
        thread.join(5)
        scanner.close()
    assert [s.raw for s in got] == ["A1", "B2"]


def test_unplugged_scanner_raises(scanner_emu):
    scanner = open_scanner(scanner_emu.url)
    scanner.transport.read(0.01)
    scanner_emu.unplug()
    with pytest.raises(DeviceUnreachable):
        scanner.run(lambda s: None, stop=lambda: False)


def test_stale_partial_scan_is_dropped():
    t = MemoryTransport()
    scanner = SerialScanner(t, max_gap=0.05)
    t.feed(b"\x00garbage")
    got = []

    def stop():
        if not t.queued and not got:
            time.sleep(0.1)  # the gap the scanner must notice
            t.feed(b"ORD-1\r")
        return bool(got)

    scanner.run(got.append, stop)
    assert [s.raw for s in got] == ["ORD-1"]


# -- keyboard wedge ----------------------------------------------------------------------


def feed(detector, keys, start, gap):
    t, result = start, None
    for key in keys:
        result = detector.feed(key, t)
        t += gap
    return result, t


def test_wedge_burst_is_a_scan():
    burst, _ = feed(WedgeDetector(), [*"09506000134352", "enter"], 0.0, 0.008)
    assert burst.is_scan and burst.scan == "09506000134352" and burst.typed == ""


def test_wedge_person_typing_is_not_a_scan():
    burst, _ = feed(WedgeDetector(), [*"1234", "\r"], 0.0, 0.15)
    assert not burst.is_scan and burst.typed == "1234"


def test_wedge_short_burst_is_not_a_scan():
    burst, _ = feed(WedgeDetector(min_length=4), [*"12", "\n"], 0.0, 0.005)
    assert not burst.is_scan and burst.typed == "12"


def test_wedge_typing_then_scan_are_told_apart():
    w = WedgeDetector()
    _, t = feed(w, "qt", 0.0, 0.3)
    burst, _ = feed(w, [*"ORD-1234", "enter"], t + 0.3, 0.01)
    assert (burst.typed, burst.scan) == ("qt", "ORD-1234")


def test_wedge_slow_enter_is_not_a_scan():
    w = WedgeDetector()
    _, t = feed(w, "ORD-1234", 0.0, 0.01)
    assert not w.feed("enter", t + 0.5).is_scan


def test_wedge_gs_substitute():
    w = WedgeDetector(gs_substitute="|")
    burst, _ = feed(w, [*"0109506000134352|10LOT7", "enter"], 0.0, 0.005)
    assert burst.scan == f"0109506000134352{GS}10LOT7"


def test_wedge_starts_fresh_after_enter():
    w = WedgeDetector()
    feed(w, [*"ABCD", "enter"], 0.0, 0.01)
    burst, _ = feed(w, [*"EFGH", "enter"], 5.0, 0.01)
    assert burst.scan == "EFGH"
