"""What every serial scale driver does the same way, whatever its protocol: each test runs
against the MT-SICS, Toledo 8217, NCI, CAS and CAS stream emulators over a real pty (issue 5: these
were repeated in each protocol's test file). Protocol quirks stay in test_scale_<x>.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from drivers.base import Scale, Unit
from drivers.emulators.cas_scale import CasScaleEmulator
from drivers.emulators.cas_stream_scale import CasStreamScaleEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.emulators.serial_scale import SerialScaleEmulator
from drivers.emulators.toledo_scale import ToledoScaleEmulator
from drivers.errors import DeviceUnreachable, ScaleError
from drivers.scale_cas import CasScale
from drivers.scale_cas_stream import CasStreamScale
from drivers.scale_mt_sics import MtSicsScale
from drivers.scale_nci import NciScale
from drivers.scale_toledo import ToledoScale
from drivers.urls import open_scale


@dataclass(frozen=True)
class Kind:
    emulator: type[SerialScaleEmulator]
    driver: type[Scale]
    unit: Unit
    value_of_1234_g: float  # 1234 g as the scale sends it in ``unit``


MT_SICS = Kind(MtSicsScaleEmulator, MtSicsScale, Unit.G, 1234.0)
TOLEDO = Kind(ToledoScaleEmulator, ToledoScale, Unit.KG, 1.234)
NCI = Kind(NciScaleEmulator, NciScale, Unit.KG, 1.234)
CAS = Kind(CasScaleEmulator, CasScale, Unit.KG, 1.234)
CAS_STREAM = Kind(CasStreamScaleEmulator, CasStreamScale, Unit.KG, 1.234)

ALL = [
    pytest.param(MT_SICS, id="mt-sics"),
    pytest.param(TOLEDO, id="toledo"),
    pytest.param(NCI, id="nci"),
    pytest.param(CAS, id="cas"),
    pytest.param(CAS_STREAM, id="cas-stream"),
]
# CAS frames have no underload flag (they send the negative weight) and no zero command.
WITH_UNDERLOAD_AND_ZERO = [p for p in ALL if p.id not in ("cas", "cas-stream")]
# The 8217 sends no weight while the pan moves, so it cannot read one at once.
READS_MOTION = [p for p in ALL if p.id != "toledo"]
# An emptied pan swings around zero (Toledo and NCI flag "below zero" meanwhile): every
# driver waits it out.
SETTLE_THROUGH_ZERO = ALL


@pytest.fixture
def kind(request) -> Kind:
    return request.param


@pytest.fixture
def emu(kind: Kind) -> Iterator[SerialScaleEmulator]:
    with kind.emulator(weight=0.0, unit=kind.unit.value, settle=0.3) as e:
        yield e


@pytest.fixture
def scale(kind: Kind, emu: SerialScaleEmulator) -> Iterator[Scale]:
    driver = open_scale(emu.url)
    assert isinstance(driver, kind.driver)
    yield driver
    driver.close()


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_stable_reading(kind, emu, scale):
    emu.set_weight(1234.0)
    w = scale.read()
    assert (w.grams, w.stable, w.unit, w.value) == (1234.0, True, kind.unit, kind.value_of_1234_g)


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_motion_then_stable(emu, scale):
    started = time.monotonic()
    emu.place(812.0, settle=0.4)
    w = scale.read(timeout=5)
    assert (w.grams, w.stable) == (812.0, True)
    assert time.monotonic() - started >= 0.35  # no stable weight was given while it moved


@pytest.mark.parametrize("kind", READS_MOTION, indirect=True)
def test_moving_weight_read_at_once_is_not_stable(emu, scale):
    emu.place(812.0, settle=5.0)
    assert not scale.read(stable=False).stable


@pytest.mark.parametrize("kind", SETTLE_THROUGH_ZERO, indirect=True)
def test_remove(emu, scale):
    emu.set_weight(500)
    assert scale.read().grams == 500
    emu.remove()
    assert scale.read().grams == 0


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_never_stable_is_unstable_not_unreachable(emu, scale):
    emu.set_weight(300, stable=False)
    with pytest.raises(ScaleError, match="not settling") as info:
        scale.read(timeout=0.4)
    assert info.value.condition == "unstable"


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_overload_in_plain_words(emu, scale):
    emu.overload()
    with pytest.raises(ScaleError, match="Scale overloaded: take the parcel off") as info:
        scale.read()
    assert info.value.condition == "overload"


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_weight_above_capacity_is_overload(emu, scale):
    emu.set_weight(emu.capacity + 1000)
    with pytest.raises(ScaleError, match="overloaded"):
        scale.read(stable=False)


@pytest.mark.parametrize("kind", WITH_UNDERLOAD_AND_ZERO, indirect=True)
def test_underload_in_plain_words(emu, scale):
    emu.underload()
    with pytest.raises(ScaleError, match="below zero") as info:
        scale.read()
    assert info.value.condition == "underload"


@pytest.mark.parametrize("kind", WITH_UNDERLOAD_AND_ZERO, indirect=True)
def test_zero_refused_with_a_parcel_on(emu, scale):
    emu.set_weight(5000)
    with pytest.raises(ScaleError, match="clear the pan"):
        scale.zero()


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_no_answer_is_unreachable(emu, scale):
    emu.stop_answering()
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable, match="Scale not answering"):
        scale.read(timeout=0.3)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_recovers_when_scale_answers_again(emu, scale):
    emu.stop_answering()
    with pytest.raises(DeviceUnreachable):
        scale.read(stable=False, timeout=0.2)
    emu.start_answering()
    emu.set_weight(77)
    assert scale.read().grams == 77


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_slow_answers_within_timeout(emu, scale):
    emu.set_weight(42)
    emu.slow(0.3)
    assert scale.read(timeout=5).grams == 42


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_noise_and_split_frames(emu, scale):
    emu.noise()
    emu.split_frames()
    emu.slow(0.1)
    emu.set_weight(250.0)
    assert [scale.read().grams for _ in range(3)] == [250.0] * 3
    assert scale.read(stable=False).grams == 250.0


@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_unplugged_is_unreachable(emu, scale):
    emu.set_weight(10)
    assert scale.read().grams == 10
    emu.unplug()
    with pytest.raises(DeviceUnreachable):
        for _ in range(3):  # the first read may still find the last bytes in flight
            scale.read(timeout=0.5)
