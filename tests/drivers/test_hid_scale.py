"""USB HID postal scales: the report decoder (byte-exact, properties) and HidScale against
the report-stream emulator (this kernel has no /dev/uhid, see drivers/README.md)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import Unit
from drivers.emulators.hid_scale import HidScaleEmulator
from drivers.errors import BadDeviceURL, BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import hid_scale
from drivers.protocols.hid_scale import Status, decode, encode
from drivers.scale_hid import HidapiReports, HidScale
from drivers.urls import open_scale

# -- decoder, byte-exact -----------------------------------------------------------------


def test_dymo_grams_stable():
    r = decode(bytes([3, 4, 2, 0, 0xB0, 0x04]))  # 0x04B0 = 1200 g
    assert r.state == "stable" and r.weight.grams == 1200.0 and r.weight.stable


def test_dymo_ounces_tenths():
    r = decode(bytes([3, 4, 11, 0xFF, 35, 0]))  # 3.5 oz, exponent -1
    assert r.weight.value == 3.5 and r.weight.unit is Unit.OZ
    assert r.weight.grams == pytest.approx(99.223, abs=0.001)


def test_pounds_unit_12():
    r = decode(bytes([3, 4, 12, 0xFE, 0xFA, 0]))  # 2.50 lb
    assert r.weight.value == 2.5 and r.weight.grams == pytest.approx(1133.981, abs=0.001)


def test_in_motion_is_a_weight_not_stable():
    r = decode(bytes([3, 3, 2, 0, 100, 0]))
    assert r.state == "motion" and r.weight.grams == 100 and not r.weight.stable


def test_stable_zero_even_with_unit_zero():
    r = decode(bytes([3, 2, 0, 0, 0, 0]))
    assert r.state == "zero" and r.weight.grams == 0 and r.weight.stable


@pytest.mark.parametrize(
    ("status", "state", "condition"),
    [
        (1, "fault", "refused"),
        (5, "under_zero", "underload"),
        (6, "overweight", "overload"),
        (7, "calibrate", "refused"),
        (8, "rezero", "refused"),
    ],
)
def test_conditions_in_plain_words(status, state, condition):
    r = decode(bytes([3, status, 2, 0, 0, 0]))
    assert r.weight is None and r.state == state and r.condition == condition
    assert r.message.endswith(".") and "HID" not in r.message


def test_unknown_unit_says_what_to_set():
    r = decode(bytes([3, 4, 4, 0, 1, 0]))  # carats
    assert r.state == "bad_unit" and "set it to g, kg, oz or lb" in r.message


@pytest.mark.parametrize(
    "report", [b"", b"\x03\x04\x02\x00\x01", bytes([1, 4, 2, 0, 1, 0]), bytes([3, 9, 2, 0, 1, 0])]
)
def test_garbage(report):
    assert decode(report).state == "garbage"


@given(st.binary(max_size=20))
def test_decode_never_raises(data):
    r = decode(data)
    assert (r.weight is None) == (r.state not in ("stable", "motion", "zero"))


@given(st.binary(min_size=6, max_size=6))
def test_never_a_weight_from_a_problem_report(data):
    r = decode(data)
    if r.weight is not None:
        assert data[0] == 3 and data[1] in (2, 3, 4)
        assert r.weight.grams >= 0


@given(st.integers(0, 30000), st.booleans(), st.sampled_from(["g", "oz", "lb"]))
def test_encode_decode_round_trip(grams, stable, unit):
    r = decode(hid_scale.encode_grams(grams, stable=stable, unit=unit))
    assert r.weight is not None
    # the scale rounds to its resolution: 1 g, 0.1 oz (2.8 g), 0.01 lb (4.5 g)
    assert r.weight.grams == pytest.approx(grams, abs={"g": 0.5, "oz": 1.5, "lb": 2.3}[unit])
    assert r.weight.stable == (stable or r.state == "zero")


def test_encode_is_the_wire_format():
    assert encode(Status.STABLE, 2, 0, 1200) == bytes([3, 4, 2, 0, 0xB0, 0x04])
    assert encode(Status.STABLE, 11, -1, 35) == bytes([3, 4, 11, 0xFF, 35, 0])


# -- the driver against the emulator -----------------------------------------------------


@pytest.fixture
def hid_emu():
    with HidScaleEmulator(weight=0.0, interval=0.02) as emu:
        yield emu


@pytest.fixture
def hid(hid_emu):
    scale = open_scale(hid_emu.url)
    assert isinstance(scale, HidScale)
    yield scale
    scale.close()


def test_reads_stable_weight(hid, hid_emu):
    hid_emu.set_weight(750)
    w = hid.read(timeout=2)
    assert w.grams == 750 and w.stable


def test_waits_for_stable_after_placing(hid, hid_emu):
    hid_emu.place(1234, settle=0.3)
    assert hid.read(stable=False, timeout=2).stable is False
    start = time.monotonic()
    w = hid.read(timeout=3)
    assert w.grams == 1234 and w.stable and time.monotonic() - start < 1.0


def test_old_queued_reports_are_not_taken_for_the_current_weight(hid, hid_emu):
    hid_emu.set_weight(100)
    assert hid.read(timeout=2).grams == 100
    time.sleep(0.3)  # ~15 reports of 100 g queue up unread
    hid_emu.set_weight(2500)
    time.sleep(0.05)
    assert hid.read(timeout=2).grams == 2500


def test_never_settling_is_unstable_not_unreachable(hid, hid_emu):
    hid_emu.set_weight(400, stable=False)
    with pytest.raises(ScaleError) as err:
        hid.read(timeout=0.5)
    assert err.value.condition == "unstable"


def test_overweight_raises_scale_error(hid, hid_emu):
    hid_emu.status(Status.OVERWEIGHT)
    with pytest.raises(ScaleError, match="overloaded") as err:
        hid.read(timeout=1)
    assert err.value.condition == "overload"


def test_silent_scale_is_unreachable(hid, hid_emu):
    hid_emu.set_weight(10)
    hid.read(timeout=1)
    hid_emu.stop_answering()
    time.sleep(0.1)
    hid.silence = 0.4
    with pytest.raises(DeviceUnreachable, match="not answering"):
        hid.read(timeout=2)


def test_only_garbage_is_bad_frame(hid, hid_emu):
    hid_emu.send_raw(bytes([1, 2, 3, 4, 5, 6]))
    with pytest.raises(BadFrame, match="postal scale"):
        hid.read(timeout=0.4)


def test_stream_reports_every_reading(hid, hid_emu):
    hid_emu.place(300, settle=0.1)
    seen = []
    hid.stream(seen.append, stop=lambda: len(seen) >= 10)
    assert {w.grams for w in seen} == {300} and seen[0].stable is False and seen[-1].stable


def test_emulator_url_owns_the_emulator():
    scale = open_scale("emulator://scale?protocol=hid&weight=420&unit=oz")
    try:
        w = scale.read(timeout=2)
        assert w.unit is Unit.OZ and w.value == 14.8 and w.grams == pytest.approx(419.6, abs=0.1)
    finally:
        scale.close()
    assert scale.emulator._thread is None


def test_no_emulator_listening_is_unreachable():
    with HidScaleEmulator() as emu:
        url = emu.url
    scale = open_scale(url)
    with pytest.raises(DeviceUnreachable):
        scale.read(timeout=0.5)


# -- the hidapi side: what can be checked without a scale --------------------------------


@pytest.mark.parametrize(
    ("url", "ids"),
    [
        ("hid://0922:8003", (0x0922, 0x8003, None)),
        ("hid://1446:6A73", (0x1446, 0x6A73, None)),
        ("hid://0922:80ff/SN123", (0x0922, 0x80FF, "SN123")),
    ],
)
def test_hid_urls(url, ids):
    scale = open_scale(url)
    assert isinstance(scale.source, HidapiReports)
    assert (scale.source.vid, scale.source.pid, scale.source.serial) == ids


@pytest.mark.parametrize("url", ["hid://0922", "hid://zz:01", "hid://12345:1", "hid://"])
def test_bad_hid_urls(url):
    with pytest.raises(BadDeviceURL, match="VID:PID"):
        open_scale(url)


def test_absent_scale_says_check_the_cable():
    pytest.importorskip("hid", reason="hidapi (pip install hidapi) opens USB HID scales")
    scale = open_scale("hid://0922:8003")
    with pytest.raises(DeviceUnreachable, match="No USB scale 0922:8003 found"):
        scale.read(timeout=0.2)


def test_present_but_not_permitted_names_the_udev_rule(monkeypatch):
    hid = pytest.importorskip("hid", reason="hidapi (pip install hidapi) opens USB HID scales")

    class Refusing:
        def open(self, *args):
            raise OSError("open failed")

    monkeypatch.setattr(hid, "device", Refusing)
    monkeypatch.setattr(hid, "enumerate", lambda vid, pid: [{"vendor_id": vid}])
    with pytest.raises(DeviceUnreachable, match='SUBSYSTEM=="hidraw".*0922'):
        HidScale(HidapiReports(0x0922, 0x8003)).read(timeout=0.2)


def test_hidapi_missing_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hid", None)
    with pytest.raises(DeviceUnreachable, match="pip install hidapi"):
        HidScale(HidapiReports(0x0922, 0x8003)).read(timeout=0.2)


def test_read_while_streaming_shares_the_stream(hid, hid_emu):
    hid_emu.set_weight(90)
    seen, done = [], threading.Event()
    streamer = threading.Thread(target=hid.stream, args=(seen.append, done.is_set), daemon=True)
    streamer.start()
    try:
        time.sleep(0.1)
        hid_emu.place(640, settle=0.2)
        w = hid.read(timeout=2)  # would wait for the stream to end if it took the port
        assert w.grams == 640 and w.stable
    finally:
        done.set()
        streamer.join(2)
    assert any(r.grams == 90 for r in seen) and seen[-1].grams == 640
