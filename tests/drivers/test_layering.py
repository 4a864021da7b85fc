"""drivers/ never imports Textual or station/, and protocols/ does no I/O (checked in a fresh
interpreter, over every module found on disk, and in the protocols' source)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DRIVERS = Path(__file__).resolve().parents[2] / "drivers"

# Every module under drivers/, found on disk so a new one is covered without editing this.
MODULES = sorted(
    ".".join(path.relative_to(DRIVERS.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in DRIVERS.rglob("*.py")
)
PROTOCOLS = sorted(m for m in MODULES if m.startswith("drivers.protocols."))
# python-escpos's `escpos.printer` package imports every printer class (pyserial, socket)
# when our protocols/escpos.py takes its Dummy from it; our module itself does no I/O,
# which the source check below holds it to.
LOADS_IO_THROUGH_A_LIBRARY = {"drivers.protocols.escpos"}
IO_MODULES = {"serial", "socket", "selectors", "select", "termios", "subprocess", "usb", "hid"}


def test_every_module_is_listed():
    assert len(MODULES) > 50 and "drivers.emulators.controls" in MODULES
    assert "drivers.protocols.zpl_hqes" in PROTOCOLS


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
    pure = [m for m in PROTOCOLS if m not in LOADS_IO_THROUGH_A_LIBRARY] + ["drivers.wedge"]
    code = (
        "import importlib, sys\n"
        f"for m in {pure!r}: importlib.import_module(m)\n"
        f"print(','.join(m for m in {sorted(IO_MODULES)!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_protocol_sources_import_no_io_and_open_nothing():
    for path in sorted((DRIVERS / "protocols").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open":
                    raise AssertionError(f"{path.name} calls open()")
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in IO_MODULES | {"os"}, (path.name, name)
                assert not name.startswith("drivers.transports"), (path.name, name)


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
