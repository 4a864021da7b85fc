"""stream() of the polled protocols, NCI, CAS and Toledo 8217 (issue 5), against their
emulators over a real pty: readings arrive, stop() ends it, a pulled cable or a hung scale
raises."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.emulators.cas_scale import CasScaleEmulator
from drivers.emulators.cas_stream_scale import CasStreamScaleEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.emulators.toledo_scale import ToledoScaleEmulator
from drivers.errors import DeviceUnreachable, ScaleError
from drivers.urls import open_scale

# CAS stream is not polled (the scale sends unasked) but its stream() must behave the same.
EMULATORS = [NciScaleEmulator, CasScaleEmulator, ToledoScaleEmulator, CasStreamScaleEmulator]


class Streaming:
    """Runs ``scale.stream`` in a thread; keeps readings and what it raised."""

    def __init__(self, scale) -> None:
        self.scale, self.readings, self.error = scale, [], None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.scale.stream(self.readings.append, self.stop.is_set)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc

    def wait_for(self, n: int, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.readings) < n and self.thread.is_alive():
            assert time.monotonic() < deadline, f"{len(self.readings)} readings, wanted {n}"
            time.sleep(0.01)


@pytest.fixture(params=EMULATORS, ids=["nci", "cas", "toledo", "cas-stream"])
def emu(request):
    with request.param(weight=500.0, settle=0.2) as emu:
        yield emu


@pytest.fixture
def scale(emu):
    driver = open_scale(emu.url)
    yield driver
    driver.close()


def test_readings_arrive_about_ten_a_second_on_one_open_port(emu, scale):
    assert scale.CAN_STREAM
    s = Streaming(scale)
    s.wait_for(1)
    port = scale.transport._ser
    started = time.monotonic()
    s.wait_for(6)
    assert time.monotonic() - started < 1.0  # 5 more at poll=0.1
    assert scale.transport._ser is port  # kept open between readings
    emu.place(800.0)
    s.wait_for(len(s.readings) + 6)
    s.stop.set()
    s.thread.join(timeout=1)
    assert not s.thread.is_alive() and s.error is None
    grams = [w.grams for w in s.readings]
    assert grams[0] == pytest.approx(500.0, abs=2.5)
    if emu.protocol == "toledo-8217":  # no weight while moving: the 8217 sends none
        assert all(w.stable for w in s.readings)
    else:
        assert any(not w.stable for w in s.readings)  # the parcel settling was shown
    assert s.readings[-1].stable and grams[-1] == pytest.approx(800.0, abs=2.5)


def test_stop_ends_it_at_once(scale):
    s = Streaming(scale)
    s.wait_for(1)
    s.stop.set()
    s.thread.join(timeout=0.5)
    assert not s.thread.is_alive() and s.error is None


def test_unplugged_scale_raises_device_unreachable(emu, scale):
    s = Streaming(scale)
    s.wait_for(2)
    emu.unplug()
    s.thread.join(timeout=3)
    assert not s.thread.is_alive()
    assert isinstance(s.error, DeviceUnreachable)


def test_hung_scale_raises_after_silence(emu, scale):
    scale.silence, scale.answer_timeout = 0.3, 0.2
    s = Streaming(scale)
    s.wait_for(2)
    emu.stop_answering()
    s.thread.join(timeout=3)
    assert isinstance(s.error, DeviceUnreachable) and "not answering" in str(s.error)


def test_overload_ends_the_stream_with_scale_error(emu, scale):
    s = Streaming(scale)
    s.wait_for(1)
    emu.overload()
    s.thread.join(timeout=2)
    assert isinstance(s.error, ScaleError) and s.error.condition == "overload"


def test_nci_zero_from_another_thread_runs_between_readings():
    with NciScaleEmulator(weight=0.0) as emu:
        scale = open_scale(emu.url)
        try:
            s = Streaming(scale)
            s.wait_for(2)
            emu.set_weight(100.0)  # within +-2 % of capacity: zero accepts it
            scale.zero()
            s.wait_for(len(s.readings) + 3)
            s.stop.set()
            s.thread.join(timeout=1)
            assert s.error is None and s.readings[-1].grams == pytest.approx(0.0, abs=1)
        finally:
            scale.close()
