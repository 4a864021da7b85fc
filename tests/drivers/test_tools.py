"""`doms devices list | watch-scale | test-print` against emulators (and fake enumerations:
no USB devices are attached here)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivers import tools
from drivers.emulators.cas_scale import CasScaleEmulator
from drivers.emulators.hid_scale import HidScaleEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.emulators.toledo_scale import ToledoScaleEmulator
from drivers.protocols.hid_scale import Status

ROOT = Path(__file__).resolve().parents[2]


def doms(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doms", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


# -- devices list -------------------------------------------------------------------------


class Port:
    def __init__(self, device, vid, pid, description):
        self.device, self.vid, self.pid, self.description = device, vid, pid, description


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine with a USB-serial scale cable, two HID scales, a mouse, CUPS queues and a
    scanner plus a keyboard under /dev/input/by-id."""
    hid = pytest.importorskip("hid", reason="hidapi lists USB HID scales")
    from serial.tools import list_ports

    monkeypatch.setattr(
        list_ports,
        "comports",
        lambda: [Port("/dev/ttyUSB0", 0x0403, 0x6001, "FT232R USB UART"), Port("/dev/ttyS0", None, None, "n/a")],
    )  # fmt: skip
    dymo = {"vendor_id": 0x0922, "product_id": 0x8003, "serial_number": "",
            "manufacturer_string": "DYMO", "product_string": "M10 10 Kg Digital Postal Scale",
            "usage_page": 0x8D}  # fmt: skip
    monkeypatch.setattr(
        hid,
        "enumerate",
        lambda *a: [
            dymo,
            {**dymo, "usage_page": 0xFF00},  # a second collection of the same scale
            {"vendor_id": 0x1446, "product_id": 0x6A73, "serial_number": "", "usage_page": 1},
            {"vendor_id": 0x046D, "product_id": 0xC077, "product_string": "Mouse", "usage_page": 1},
            {"vendor_id": 0x1234, "product_id": 0x0001, "product_string": "Bench scale",
             "usage_page": 0x8D},
        ],
    )  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lpstat = bin_dir / "lpstat"
    lpstat.write_text('#!/bin/sh\n[ "$1" = "-e" ] && printf "Zebra_ZD621\\nEpson_TM\\n"\n')
    lpstat.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    for name in ("usb-Honeywell_Imaging_1900-event-kbd", "usb-Logitech_K120-event-kbd"):
        (by_id / name).symlink_to("/dev/null")
    return by_id


def test_list_finds_each_kind(machine):
    found, notes = tools.list_devices(by_id=str(machine))
    urls = [(d.kind, d.url, d.usb_id) for d in found]
    assert ("serial", "serial:///dev/ttyUSB0", "0403:6001") in urls
    assert ("serial", "serial:///dev/ttyS0", "") in urls
    scales = [(u, i) for k, u, i in urls if k == "scale"]
    assert scales == [
        ("hid://0922:8003", "0922:8003"),
        ("hid://1446:6a73", "1446:6a73"),
        ("hid://1234:0001", "1234:0001"),  # unknown maker, but a HID weighing device
    ]
    assert [u for k, u, _ in urls if k == "printer"] == ["cups://Zebra_ZD621", "cups://Epson_TM"]
    assert [u for k, u, _ in urls if k == "scanner"] == [
        f"evdev://{machine}/usb-Honeywell_Imaging_1900-event-kbd?layout=us"
    ]
    assert next(d for d in found if d.url == "hid://0922:8003").description == (
        "DYMO M10 10 Kg Digital Postal Scale"
    )
    assert notes == []


def test_missing_sources_are_notes_not_errors(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "hid", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    found, notes = tools.list_devices(by_id=str(tmp_path))
    assert "pip install hidapi" in notes[0] and "lpstat not found" in notes[1]


def test_list_json_from_the_shell():
    done = doms("devices", "list", "--json")
    assert done.returncode == 0, done.stderr
    for item in json.loads(done.stdout):
        assert set(item) == {"kind", "url", "description", "usb_id"}


# -- devices watch-scale ------------------------------------------------------------------


def test_watch_scale_from_the_shell():
    done = doms("devices", "watch-scale", "emulator://scale?protocol=hid&weight=500", "--count", "3",
                "--every", "0")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["     500.0 g  stable"] * 3


def test_watch_scale_shows_motion_then_stable_and_conditions():
    with HidScaleEmulator(weight=0, interval=0.02) as emu:
        out = io.StringIO()

        def parcel() -> None:
            time.sleep(0.15)
            emu.place(1200, settle=0.2)
            time.sleep(0.5)
            emu.status(Status.OVERWEIGHT)

        threading.Thread(target=parcel, daemon=True).start()
        tools.watch_scale(emu.url, out, count=4, every=5)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["       0.0 g  stable", "    1200.0 g  motion", "    1200.0 g  stable"]
    assert "overloaded" in lines[3]


def test_watch_mt_sics_scale(scale_emu):
    scale_emu.set_weight(250)
    out = io.StringIO()
    tools.watch_scale(scale_emu.url, out, count=2, every=0)
    assert out.getvalue().splitlines() == ["     250.0 g  stable"] * 2


def test_watch_scale_shows_the_scales_unit():
    out = io.StringIO()
    tools.watch_scale("emulator://scale?protocol=hid&weight=99.2&unit=oz", out, count=1)
    assert out.getvalue() == "      99.2 g  stable  (3.5 oz)\n"


POLLED = {"nci": NciScaleEmulator, "cas": CasScaleEmulator, "toledo": ToledoScaleEmulator}


@pytest.mark.parametrize("name", POLLED)
def test_watch_a_slow_polled_scale_keeps_reading(name):
    # Each answer 0.5 s late (within the drivers' 1 s answer timeout): fewer readings, all
    # right, none lost to the previous answer arriving late.
    with POLLED[name](weight=700.0, unit="kg") as emu:
        emu.slow(0.5)
        out = io.StringIO()
        started = time.monotonic()
        tools.watch_scale(emu.url, out, count=3, every=0)
    assert [line.split()[:2] for line in out.getvalue().splitlines()] == [["700.0", "g"]] * 3
    assert time.monotonic() - started >= 1.0  # really answered late


@pytest.mark.parametrize("name", POLLED)
def test_watch_goes_on_when_a_scale_hangs_after_reading(name):
    with POLLED[name](weight=300.0, unit="kg") as emu:
        out = io.StringIO()

        def hang_then_recover() -> None:
            time.sleep(0.3)
            emu.stop_answering()
            time.sleep(3.0)  # longer than the stream's 2 s silence
            emu.set_weight(450.0)
            emu.start_answering()

        threading.Thread(target=hang_then_recover, daemon=True).start()
        tools.watch_scale(emu.url, out, every=5, stop=lambda: "450.0 g" in out.getvalue())
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:2] == ["300.0", "g"]
    assert any("not answering" in line for line in lines)
    assert lines[-1].split()[:2] == ["450.0", "g"]


def test_watch_unreachable_scale_exits_1():
    with HidScaleEmulator() as emu:
        url = emu.url
    done = doms("devices", "watch-scale", url, "--count", "1")
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1


# -- devices test-print -------------------------------------------------------------------


def test_test_print_label(zpl_emu):
    done = doms("devices", "test-print", zpl_emu.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "status: ready",
        f"sent a test label ({len(tools.sample_label_zpl())} bytes of ZPL)",
        "status after: ready",
    ]
    (label,) = zpl_emu.wait_for_labels(1)
    assert b"^FDdoms test label^FS" in label and b"^BCN,150,Y,N,N^FDDOMS-TEST-0001" in label


def test_test_print_slip(escpos_emu):
    done = doms("devices", "test-print", escpos_emu.url)
    assert done.returncode == 0, done.stderr
    assert "sent a test slip" in done.stdout
    (job,) = escpos_emu.wait_for_jobs(1)
    assert "doms test slip" in job.text and job.barcodes == ["DOMS-TEST-0001"]


def test_test_print_paper_out_reports_and_exits_1(zpl_emu):
    zpl_emu.paper_out()
    done = doms("devices", "test-print", zpl_emu.url)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "status: out of labels/paper: load a new roll",
        "not printed: Label printer out of labels/paper: load a new roll.",
    ]
    assert zpl_emu.labels == [] and zpl_emu.held == []


def test_file_printer_says_it_cannot_report_status(tmp_path):
    ok, lines = tools.print_test(f"file://{tmp_path}/lp0")
    assert ok and lines[0] == "status: this connection cannot report status"
    assert (tmp_path / "lp0").read_bytes().startswith(b"^XA")


def test_tool_commands_are_listed_in_help():
    text = doms("devices", "--help").stdout
    for name in ("list", "watch-scale", "test-print"):
        assert name in text
