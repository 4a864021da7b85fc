"""evdev scanners. This kernel has no /dev/uinput (CONFIG_INPUT_UINPUT is off), so no
virtual keyboard can be made here: the decoder is fed real ``evdev.InputEvent`` sequences
as a keyboard sends them (MSC_SCAN, key down/up, SYN_REPORT), and the scanner's read loop
runs against a fake device that hands out the same events through a real pipe fd."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

evdev = pytest.importorskip("evdev", reason="evdev scanners need the evdev package (Linux)")
from evdev import InputEvent, ecodes  # noqa: E402

from drivers.errors import BadDeviceURL, DeviceUnreachable  # noqa: E402
from drivers.protocols.keymap import KEY, LAYOUTS, KeyDecoder  # noqa: E402
from drivers.scanner_evdev import EvdevScanner  # noqa: E402
from drivers.urls import open_scanner  # noqa: E402

SHIFT, ALTGR, CTRL, ALT = (
    ecodes.KEY_LEFTSHIFT,
    ecodes.KEY_RIGHTALT,
    ecodes.KEY_LEFTCTRL,
    ecodes.KEY_LEFTALT,
)


def _press(code: int, t: list[float]) -> list[InputEvent]:
    out = []
    for value in (1, 0):
        t[0] += 0.002
        sec, usec = int(t[0]), int((t[0] % 1) * 1e6)
        out += [
            InputEvent(sec, usec, ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code),
            InputEvent(sec, usec, ecodes.EV_KEY, code, value),
            InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
        ]
    return out


def _hold(mod: int, value: int, t: list[float]) -> list[InputEvent]:
    sec, usec = int(t[0]), int((t[0] % 1) * 1e6)
    return [
        InputEvent(sec, usec, ecodes.EV_KEY, mod, value),
        InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
    ]


def typed(text: str, layout: str = "us", end: int = ecodes.KEY_ENTER) -> list[InputEvent]:
    """The events a scanner emulating ``layout`` sends for ``text`` + Enter."""
    keys = LAYOUTS[layout]
    t = [1000.0]
    events: list[InputEvent] = []
    for ch in text:
        found = [(c, e) for c, e in sorted(keys.items()) if ch in e[:3]]
        assert found, f"{ch!r} not on the {layout} layout"
        code, (normal, shifted, _, _) = found[0]
        mod = None if ch == normal else SHIFT if ch == shifted else ALTGR
        if mod:
            events += _hold(mod, 1, t)
        events += _press(code, t)
        if mod:
            events += _hold(mod, 0, t)
    return events + _press(end, t)


def scans(events: list[InputEvent], layout: str = "us") -> list[str]:
    decoder = KeyDecoder(layout)
    return [s for e in events if (s := decoder.feed(e.type, e.code, e.value))]


def test_our_key_codes_are_linux_key_codes():
    assert all(getattr(ecodes, name) == code for name, code in KEY.items())


def test_us_digits_and_shifted_symbols():
    assert scans(typed("09506000134352")) == ["09506000134352"]
    assert scans(typed("ABC-123/x?")) == ["ABC-123/x?"]


def test_de_layout_swaps_y_and_z_and_moves_symbols():
    text = 'Zylinder/7-Öl"#'
    events = typed(text, "de")
    assert scans(events, "de") == [text]
    assert scans(events, "us") != [text]  # the same keys read as US are something else


def test_de_altgr():
    assert scans(typed("a@b{1}\\~|", "de"), "de") == ["a@b{1}\\~|"]


def test_tab_and_keypad_enter_end_a_scan():
    assert scans(typed("A1", end=ecodes.KEY_TAB) + typed("B2", end=ecodes.KEY_KPENTER)) == [
        "A1",
        "B2",
    ]


def test_caps_lock_inverts_letters_only():
    t = [0.0]
    events = _press(ecodes.KEY_CAPSLOCK, t) + typed("ab1")
    assert scans(events) == ["AB1"]


def test_enter_alone_is_no_scan_and_repeats_are_ignored():
    t = [0.0]
    events = _press(ecodes.KEY_ENTER, t) + [InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_A, 2)]
    assert scans(events + typed("Z")) == ["Z"]


def test_alt_keypad_code_gives_gs():
    t = [0.0]
    gs = _hold(ALT, 1, t)
    for digit in "0029":
        gs += _press(getattr(ecodes, f"KEY_KP{digit}"), t)
    gs += _hold(ALT, 0, t)
    events = typed("01")[:-6] + gs + typed("10ABC")
    assert scans(events) == ["01\x1d10ABC"]


def test_ctrl_bracket_gives_gs():
    t = [0.0]
    ctrl = _hold(CTRL, 1, t) + _press(ecodes.KEY_RIGHTBRACE, t) + _hold(CTRL, 0, t)
    assert scans(typed("01")[:-6] + ctrl + typed("21X")) == ["01\x1d21X"]


def test_unknown_layout_is_a_bad_url():
    with pytest.raises(BadDeviceURL, match="unknown keyboard layout 'fr'"):
        open_scanner("evdev:///dev/input/event3?layout=fr")


def test_evdev_url():
    s = open_scanner("evdev:///dev/input/by-id/usb-HID_Scanner-event-kbd?layout=DE&grab=0")
    assert (s.path, s.layout, s.grab) == ("/dev/input/by-id/usb-HID_Scanner-event-kbd", "de", False)


# -- the read loop, against a fake device with a real fd -----------------------------------


class FakeDevice:
    """Stands in for evdev.InputDevice: ``fd`` is a pipe, ``read()`` hands out events."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.fd = self._r
        self.batches: list[list[InputEvent]] = []
        self.grabbed = False
        self.closed = False
        self.gone = False
        self.lock = threading.Lock()

    def send(self, events: list[InputEvent]) -> None:
        with self.lock:
            self.batches.append(events)
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def read(self):
        os.read(self._r, 64)
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        with self.lock:
            batches, self.batches = self.batches, []
        if not batches:
            raise BlockingIOError
        for batch in batches:
            yield from batch

    def grab(self) -> None:
        if self.grabbed:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True


def run_in_thread(scanner: EvdevScanner):
    got: list = []
    errors: list = []
    done = threading.Event()

    def target() -> None:
        try:
            scanner.run(got.append, done.is_set)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return got, errors, done, thread


def wait_for(cond, timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)


def test_scanner_grabs_and_reports_scans():
    dev = FakeDevice()
    scanner = EvdevScanner("/dev/input/event9", layout="de", opener=lambda p: dev)
    got, errors, done, thread = run_in_thread(scanner)
    dev.send(typed("4006381333931", "de"))
    dev.send(typed("Zo", "de"))
    wait_for(lambda: len(got) == 2)
    done.set()
    thread.join(2)
    assert [s.raw for s in got] == ["4006381333931", "Zo"] and not errors
    assert got[0].source == "evdev:/dev/input/event9" and dev.grabbed
    scanner.close()
    assert dev.closed and not dev.grabbed


def test_a_cut_off_scan_is_not_glued_to_the_next():
    dev = FakeDevice()
    scanner = EvdevScanner("/dev/input/event9", max_gap=0.1, opener=lambda p: dev)
    got, _, done, thread = run_in_thread(scanner)
    dev.send(typed("123")[:-6])  # no Enter
    time.sleep(0.25)
    dev.send(typed("456"))
    wait_for(lambda: got)
    done.set()
    thread.join(2)
    assert [s.raw for s in got] == ["456"]


def test_unplugged_scanner_is_unreachable():
    dev = FakeDevice()
    scanner = EvdevScanner("/dev/input/event9", opener=lambda p: dev)
    got, errors, done, thread = run_in_thread(scanner)
    dev.unplug()
    thread.join(2)
    assert isinstance(errors[0], DeviceUnreachable) and "Lost the scanner" in str(errors[0])
    assert dev.closed


def test_grabbed_by_another_program():
    dev = FakeDevice()
    dev.grabbed = True
    scanner = EvdevScanner("/dev/input/event9", opener=lambda p: dev)
    with pytest.raises(DeviceUnreachable, match="Another program has grabbed"):
        scanner.run(lambda s: None, lambda: True)


def test_permission_denied_names_the_fix():
    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    scanner = EvdevScanner("/dev/input/event9", opener=refuse)
    with pytest.raises(DeviceUnreachable, match="'input' group"):
        scanner.run(lambda s: None, lambda: True)


def test_missing_device_through_real_evdev():
    scanner = open_scanner("evdev:///dev/input/by-id/usb-none-event-kbd")
    with pytest.raises(DeviceUnreachable, match="No scanner at"):
        scanner.run(lambda s: None, lambda: True)
