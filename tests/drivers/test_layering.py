"""drivers/ never imports Textual or station/ (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "drivers.base", "drivers.errors", "drivers.urls", "drivers.cli", "drivers.wedge",
    "drivers.scale_mt_sics", "drivers.label_zpl", "drivers.slip_escpos",
    "drivers.scanner_serial", "drivers.protocols.mt_sics", "drivers.protocols.zpl",
    "drivers.protocols.zpl_status", "drivers.protocols.escpos",
    "drivers.protocols.escpos_reader", "drivers.protocols.scanner",
    "drivers.transports.serial_port", "drivers.transports.tcp",
    "drivers.transports.memory", "drivers.emulators.mt_sics_scale",
    "drivers.emulators.zpl_printer", "drivers.emulators.escpos_printer",
    "drivers.emulators.serial_scanner",
    "drivers.protocols.hid_scale", "drivers.protocols.keymap", "drivers.scale_hid",
    "drivers.scanner_evdev", "drivers.camera", "drivers.camera_folder", "drivers.camera_v4l2",
    "drivers.emulators.hid_scale", "drivers.emulators.camera", "drivers.tools",
    "drivers.protocols.toledo", "drivers.protocols.nci", "drivers.protocols.cas",
    "drivers.scale_toledo", "drivers.scale_nci", "drivers.scale_cas", "drivers.probe",
    "drivers.emulators.toledo_scale", "drivers.emulators.nci_scale",
    "drivers.emulators.cas_scale",
]  # fmt: skip


def test_drivers_do_not_import_textual_or_station():
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'station'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_protocols_do_no_io():
    code = (
        "import sys\n"
        "import drivers.protocols.mt_sics, drivers.protocols.zpl, drivers.protocols.zpl_status\n"
        "import drivers.protocols.scanner, drivers.wedge\n"
        "import drivers.protocols.hid_scale, drivers.protocols.keymap\n"
        "import drivers.protocols.toledo, drivers.protocols.nci, drivers.protocols.cas\n"
        "print(','.join(m for m in ('serial', 'socket', 'selectors') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_optional_device_packages_load_only_when_used():
    # hidapi, evdev and OpenCV are imported by the driver that needs them, when it first
    # talks to a device: `doms --help` and a station without those devices never load them.
    code = (
        "import sys\n"
        "import drivers.urls, drivers.cli, drivers.tools, drivers.scale_hid\n"
        "import drivers.scanner_evdev, drivers.camera_v4l2, drivers.camera_folder\n"
        "from drivers.urls import open_scale, open_scanner, open_camera\n"
        "open_scale('hid://0922:8003'); open_scanner('evdev:///dev/input/event0')\n"
        "open_camera('v4l2:///dev/video0')\n"
        "print(','.join(m for m in ('hid', 'evdev', 'cv2', 'PIL') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
