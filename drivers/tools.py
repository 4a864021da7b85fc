"""Device tools behind ``doms devices list | watch-scale | test-print``: plain library calls.

Each source of :func:`list_devices` is optional: a package or program that is missing
(hidapi, evdev, lpstat) leaves a note saying what was not looked at, never an error.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TextIO

from drivers.base import PrinterStatus, SlipDocument, SlipLine, Weight
from drivers.errors import DeviceError, ScaleError

# USB vendor ids of postal-scale makers whose scales are HID devices.
SCALE_VIDS = {0x0922: "Dymo", 0x1446: "Stamps.com", 0x0EB8: "Mettler Toledo", 0x0B67: "Fairbanks"}
HID_USAGE_PAGE_SCALES = 0x8D  # "Weighing Devices" in the HID POS usage tables
# USB vendor ids of barcode-scanner makers, and words in their device names.
SCANNER_VIDS = {
    0x0C2E: "Honeywell", 0x05E0: "Zebra (Symbol)", 0x05F9: "Datalogic", 0x1EAB: "Newland",
    0x065A: "Opticon", 0x0536: "Hand Held Products", 0x2DD6: "Netum",
}  # fmt: skip
SCANNER_WORDS = ("scanner", "barcode", "bar code", "honeywell", "symbol", "datalogic",
                 "newland", "metrologic", "opticon", "zebex", "netum", "inateck", "qr")  # fmt: skip


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One device found on this machine: what it is and the URL to configure."""

    kind: str  # serial | scale | printer | scanner | camera
    url: str
    description: str
    usb_id: str = ""  # "0922:8003"

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def list_devices(by_id: str = "/dev/input/by-id") -> tuple[list[FoundDevice], list[str]]:
    """Every device we can see, and notes about sources that could not be looked at."""
    found: list[FoundDevice] = []
    notes: list[str] = []
    for source in (
        serial_ports,
        hid_scales,
        cups_printers,
        lambda: evdev_scanners(by_id),
        video_devices,
    ):
        try:
            found += source()
        except _Skipped as skip:
            notes.append(str(skip))
    return found, notes


class _Skipped(Exception):
    """A source that cannot be listed here; the message says why and what would fix it."""


def serial_ports() -> list[FoundDevice]:
    from serial.tools import list_ports

    out = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        usb = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None else ""
        desc = port.description if port.description not in ("", "n/a") else "serial port"
        out.append(FoundDevice("serial", f"serial://{port.device}", desc, usb))
    return out


def hid_scales() -> list[FoundDevice]:
    try:
        import hid
    except ImportError:
        raise _Skipped("USB HID scales not listed: `pip install hidapi`.") from None
    out, seen = [], set()
    for d in hid.enumerate():
        vid, pid = d.get("vendor_id", 0), d.get("product_id", 0)
        if vid not in SCALE_VIDS and d.get("usage_page") != HID_USAGE_PAGE_SCALES:
            continue
        if (vid, pid, d.get("serial_number")) in seen:
            continue  # one entry per interface/collection: the scale once
        seen.add((vid, pid, d.get("serial_number")))
        maker = d.get("manufacturer_string") or SCALE_VIDS.get(vid, "")
        desc = " ".join(x for x in (maker, d.get("product_string") or "scale") if x)
        out.append(FoundDevice("scale", f"hid://{vid:04x}:{pid:04x}", desc, f"{vid:04x}:{pid:04x}"))
    return out


def cups_printers() -> list[FoundDevice]:
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        raise _Skipped("CUPS printers not listed: lpstat not found (install cups-client).")
    try:
        done = subprocess.run([lpstat, "-e"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Skipped(f"CUPS printers not listed: lpstat failed ({exc}).") from None
    if done.returncode != 0:
        why = done.stderr.strip() or f"exit {done.returncode}"
        raise _Skipped(f"CUPS printers not listed: {why}.")
    queues = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    return [FoundDevice("printer", f"cups://{q}", "CUPS queue (ZPL raw)") for q in queues]


def evdev_scanners(by_id: str = "/dev/input/by-id") -> list[FoundDevice]:
    """Keyboards under ``by_id`` whose vendor or name says barcode scanner."""
    if not sys.platform.startswith("linux"):
        return []
    paths = sorted(glob.glob(os.path.join(by_id, "*-event-kbd")))
    try:
        import evdev
    except ImportError:
        evdev = None
    out = []
    for path in paths:
        name, vid, pid = os.path.basename(path), None, None
        if evdev is not None:
            try:
                dev = evdev.InputDevice(path)
                name, vid, pid = dev.name, dev.info.vendor, dev.info.product
                dev.close()
            except OSError:
                pass  # not allowed to open it: judge by the by-id name alone
        if vid not in SCANNER_VIDS and not any(w in name.lower() for w in SCANNER_WORDS):
            continue
        usb = f"{vid:04x}:{pid:04x}" if vid is not None else ""
        out.append(FoundDevice("scanner", f"evdev://{path}?layout=us", name, usb))
    return out


def video_devices() -> list[FoundDevice]:
    return [
        FoundDevice("camera", f"v4l2://{p}", "video device")
        for p in sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))
    ]


# -- watch-scale --------------------------------------------------------------------------


def format_reading(w: Weight) -> str:
    """``  1200.0 g  stable`` (and the scale's own unit when it is not grams)."""
    line = f"{w.grams:10.1f} g  {'stable' if w.stable else 'motion'}"
    if w.value is not None and w.unit != "g":
        line += f"  ({w.value:g} {w.unit})"
    return line


def watch_scale(
    url: str,
    out: TextIO,
    count: int | None = None,
    every: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print readings from the scale at ``url`` line by line until ``stop()`` (or ``count``
    lines). A reading is printed when it changes, and at most every ``every`` s when it
    does not. Scale conditions (overload ...) are printed as lines and watching goes on.
    So does a scale that stops answering (too slow, hung, cable pulled) after it has given
    a reading: the line says so, and readings resume when it answers again.

    Raises DeviceError (other than ScaleError) when the scale cannot be read at first.
    """
    from drivers.urls import open_scale

    printed = 0
    last: tuple[str, float] = ("", 0.0)

    def emit(line: str) -> None:
        nonlocal printed, last
        now = time.monotonic()
        if line == last[0] and now - last[1] < every:
            return
        print(line, file=out, flush=True)
        printed += 1
        last = (line, now)

    def done() -> bool:
        return stop() or (count is not None and printed >= count)

    scale = open_scale(url)
    try:
        while not done():
            try:
                if scale.CAN_STREAM:
                    scale.stream(lambda w: emit(format_reading(w)), done)
                else:
                    emit(format_reading(scale.read(stable=False, timeout=2.0)))
            except ScaleError as exc:
                emit(f"{'':>12}  {exc}")
                time.sleep(0.2)  # the condition lasts; do not spin on it
            except DeviceError as exc:
                if not printed:
                    raise  # never read: wrong URL, port or protocol; say so and stop
                emit(f"{'':>12}  {exc}")
                _pause(1.0, done)  # transports reopen on the next call
    finally:
        scale.close()


def _pause(seconds: float, stop: Callable[[], bool]) -> None:
    until = time.monotonic() + seconds
    while not stop() and time.monotonic() < until:
        time.sleep(0.05)


# -- test-print ---------------------------------------------------------------------------


def is_slip_url(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    return scheme.lower().startswith("escpos") or (
        scheme.lower() == "emulator" and rest.lower().startswith("slip")
    )


def sample_label_zpl(when: datetime | None = None) -> bytes:
    """A ZPL test label: title, host and time, a Code 128 barcode, a frame."""
    when = when or datetime.now().astimezone()
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    return (
        "^XA^CI28^PW812\n"
        "^FO20,20^GB772,560,4^FS\n"
        "^FO50,50^A0N,60,60^FDdoms test label^FS\n"
        f"^FO50,130^A0N,30,30^FD{socket.gethostname()[:40]}  {stamp}^FS\n"
        "^FO50,200^BY3^BCN,150,Y,N,N^FDDOMS-TEST-0001^FS\n"
        "^FO50,440^A0N,28,28^FDIf you can read this, the printer works.^FS\n"
        "^XZ\n"
    ).encode()


def sample_slip(when: datetime | None = None) -> SlipDocument:
    when = when or datetime.now().astimezone()
    return SlipDocument(
        lines=[
            SlipLine("doms test slip", bold=True, align="center", double=True),
            SlipLine(socket.gethostname()[:32], align="center"),
            SlipLine(when.strftime("%Y-%m-%d %H:%M:%S"), align="center"),
            SlipLine(""),
            SlipLine("If you can read this, the printer works."),
        ],
        barcode="DOMS-TEST-0001",
        qr="doms test slip",
    )


def print_test(url: str) -> tuple[bool, list[str]]:
    """Print a test label (ZPL URLs) or test slip (escpos URLs) at ``url``.

    Returns (printed, report lines): the status before, what was sent, the status after.
    Raises BadDeviceURL for a URL that cannot be used.
    """
    from drivers.urls import open_label_printer, open_slip_printer

    slip = is_slip_url(url)
    printer = open_slip_printer(url) if slip else open_label_printer(url)
    lines = []
    try:
        before = printer.status()
        lines.append(f"status: {_status_words(before, printer.CAN_STATUS)}")
        try:
            if slip:
                printer.print_document(sample_slip())
                lines.append("sent a test slip")
            else:
                data = sample_label_zpl()
                printer.send(data)
                lines.append(f"sent a test label ({len(data)} bytes of ZPL)")
        except DeviceError as exc:
            lines.append(f"not printed: {exc}")
            return False, lines
        after = printer.status()
        lines.append(f"status after: {_status_words(after, printer.CAN_STATUS)}")
        return True, lines
    finally:
        printer.close()


def _status_words(status: PrinterStatus, can_status: bool) -> str:
    if not can_status:
        return "this connection cannot report status"
    return status.describe_all()
