"""A USB scanner in keyboard mode, read through Linux evdev and grabbed for ourselves.

A keyboard-wedge scanner types into whatever widget has focus. Read through evdev and
grabbed (``EVIOCGRAB``), its keys reach only us: a scan never lands in a search box or a
note field, and the station knows which scanner it came from. evdev is Linux-only and is
imported when the scanner first runs.
"""

from __future__ import annotations

import contextlib
import errno
import select
import sys
import time
from collections.abc import Callable
from typing import Any

from drivers.base import Scan, Scanner
from drivers.errors import DeviceUnreachable
from drivers.protocols.keymap import KeyDecoder

PERMISSION_HINT = (
    "add the station user to the 'input' group (`sudo usermod -aG input USER`, then log in "
    'again), or add a udev rule such as SUBSYSTEM=="input", ATTRS{idVendor}=="VID", '
    'MODE="0660", GROUP="plugdev" to /etc/udev/rules.d/60-doms-scanner.rules'
)


def _open_evdev(path: str) -> Any:
    if not sys.platform.startswith("linux"):
        raise DeviceUnreachable("evdev scanners work on Linux only: use the keyboard wedge.")
    try:
        import evdev
    except ImportError:
        raise DeviceUnreachable(
            "evdev scanners need the evdev package: run `pip install 'doms[evdev]'` "
            "(it compiles: gcc and the kernel headers are needed)."
        ) from None
    return evdev.InputDevice(path)


class EvdevScanner(Scanner):
    """Scans from ``/dev/input/by-id/usb-...-event-kbd``, decoded with ``layout``.

    ``grab``: take the device for ourselves (the default; other programs, the desktop
    included, stop seeing its keys). ``max_gap``: keys left without Enter for longer are a
    cut-off scan and are dropped. ``opener`` builds the device (tests pass a fake).
    """

    def __init__(
        self,
        path: str,
        layout: str = "us",
        grab: bool = True,
        max_gap: float = 0.5,
        opener: Callable[[str], Any] = _open_evdev,
    ) -> None:
        KeyDecoder(layout)  # unknown layout: fail now, not at the first scan
        self.path = path
        self.layout = layout
        self.grab = grab
        self.max_gap = max_gap
        self.opener = opener
        self.source = f"evdev:{path}"
        self._dev: Any = None

    def run(self, on_scan: Callable[[Scan], None], stop: Callable[[], bool]) -> None:
        """Block, calling ``on_scan`` for each complete scan until ``stop()`` is true.

        Raises DeviceUnreachable if the device is missing, not permitted, grabbed by
        another program, or unplugged (the caller reconnects).
        """
        dev = self._open()
        decoder = KeyDecoder(self.layout)
        last = time.monotonic()
        while not stop():
            try:
                ready, _, _ = select.select([dev.fd], [], [], 0.1)
                events = list(dev.read()) if ready else []
            except BlockingIOError:
                continue
            except OSError as exc:
                self.close()
                raise DeviceUnreachable(
                    f"Lost the scanner {self.path} ({exc.strerror or exc}): check the cable."
                ) from None
            if not events:
                continue
            now = time.monotonic()
            if now - last > self.max_gap and decoder.pending:
                decoder.clear()
            last = now
            for ev in events:
                text = decoder.feed(ev.type, ev.code, ev.value)
                if text:
                    on_scan(Scan(raw=text, source=self.source, at=time.perf_counter()))

    def close(self) -> None:
        """Release (and ungrab) the device. Never raises."""
        dev, self._dev = self._dev, None
        if dev is not None:
            with contextlib.suppress(Exception):  # the device may be gone already
                if self.grab:
                    dev.ungrab()
            with contextlib.suppress(Exception):
                dev.close()

    def _open(self) -> Any:
        if self._dev is not None:
            return self._dev
        try:
            dev = self.opener(self.path)
        except FileNotFoundError:
            raise DeviceUnreachable(
                f"No scanner at {self.path}: check it is plugged in; its name is listed "
                "under /dev/input/by-id/ (or run `doms devices list`)."
            ) from None
        except PermissionError:
            raise DeviceUnreachable(
                f"Not allowed to read the scanner {self.path}: {PERMISSION_HINT}."
            ) from None
        except OSError as exc:
            raise DeviceUnreachable(f"Cannot open the scanner {self.path}: {exc}.") from None
        if self.grab:
            try:
                dev.grab()
            except OSError as exc:
                with contextlib.suppress(Exception):
                    dev.close()
                if exc.errno == errno.EBUSY:
                    raise DeviceUnreachable(
                        f"Another program has grabbed the scanner {self.path}: close it "
                        "(another station window?) and try again."
                    ) from None
                raise DeviceUnreachable(f"Cannot grab the scanner {self.path}: {exc}.") from None
        self._dev = dev
        return dev
