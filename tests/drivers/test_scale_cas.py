"""CAS ENQ/ACK: frames and BCC byte-exact and on random streams; CasScale against its
emulator over a real pty.

Behaviour every serial scale shares is tested once, in test_serial_scales_common.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Unit
from drivers.emulators.cas_scale import CasScaleEmulator
from drivers.errors import BadFrame, ScaleError
from drivers.protocols import cas
from drivers.scale_cas import CasScale
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_scale

from .chunks import chunked

FRAME = (
    b"\x01\x02S 01.234kg"
    + bytes([0x53 ^ 0x20 ^ 0x30 ^ 0x31 ^ 0x2E ^ 0x32 ^ 0x33 ^ 0x34 ^ 0x6B ^ 0x67])
    + b"\x03\x04"
)


def test_frame_and_bcc_over_sta_to_unit():
    assert cas.encode_frame(True, 1.234, "kg") == FRAME
    assert cas.parse_frame(FRAME) == cas.Reading(True, False, 1.234, Unit.KG, "kg")
    # XOR over SOH..ETX is the same number: SOH ^ STX ^ ETX == 0
    assert cas.bcc(FRAME[:12] + FRAME[13:14]) == FRAME[12]


def test_wrong_bcc_is_refused_not_read():
    bad = FRAME[:12] + bytes([FRAME[12] ^ 0x04]) + FRAME[13:]
    p = cas.Parser()
    assert p.feed(bad) == [] and p.garbage > 0


def test_unstable_negative_overload_and_grams():
    assert cas.parse_frame(cas.encode_frame(False, -0.5, "kg")) == cas.Reading(
        False, False, -0.5, Unit.KG, "kg"
    )
    assert cas.parse_frame(cas.encode_frame(True, None, "kg")).overload
    assert cas.parse_frame(cas.encode_frame(True, 250, " g", 0)).unit == Unit.G


def test_ack_nak_split_frames_and_noise():
    p = cas.Parser()
    # a false start (noise SOH STX) is dropped as soon as NAK contradicts it
    assert p.feed(b"\x00#\x06\x01\x02\x15") == [cas.Ack(True), cas.Ack(False)]
    p = cas.Parser()
    assert p.feed(b"\x01\x02" + FRAME[:7]) == []
    assert p.feed(FRAME[7:]) == [cas.Reading(True, False, 1.234, Unit.KG, "kg")]


NOISE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39))
WEIGHTS = st.decimals(min_value=-99, max_value=99, places=3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_never_raise(data, cuts):
    p = cas.Parser()
    for chunk in chunked(data, cuts):
        p.feed(chunk)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(WEIGHTS, st.booleans(), NOISE), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_never_makes_up_a_weight_and_frames_survive_splitting(items, cuts):
    stream = b"".join(noise + cas.encode_frame(s, float(w), "kg") for w, s, noise in items)
    p = cas.Parser()
    got = [e for chunk in chunked(stream, cuts) for e in p.feed(chunk)]
    sent = [(float(w), s) for w, s, _ in items]
    readings = [(e.value, e.stable) for e in got if isinstance(e, cas.Reading)]
    assert set(readings) <= set(sent)
    if not any(0x01 in n for _, _, n in items):
        assert readings == sent


# -- the driver ------------------------------------------------------------------------------


def test_driver_sends_enq_then_dc1():
    t = MemoryTransport.replying({b"\x05": b"\x06", b"\x11": FRAME})
    assert CasScale(t).read().grams == 1234.0
    assert t.writes == [b"\x05", b"\x11"]


def test_nak_means_not_ready():
    t = MemoryTransport.replying({b"\x05": b"\x15"})
    with pytest.raises(ScaleError, match="not ready") as info:
        CasScale(t).read(timeout=0.3)
    assert info.value.condition == "busy"


@pytest.fixture
def emu() -> Iterator[CasScaleEmulator]:
    with CasScaleEmulator(weight=0.0, settle=0.3) as e:
        yield e


@pytest.fixture
def scale(emu: CasScaleEmulator) -> Iterator[CasScale]:
    driver = open_scale(emu.url)
    assert isinstance(driver, CasScale)
    yield driver
    driver.close()


def test_underload_is_a_negative_reading(emu, scale):
    emu.underload()
    assert scale.read().grams == -30.0


def test_bad_checksum_is_bad_frame_not_a_weight(emu, scale):
    emu.set_weight(500)
    emu.bad_checksum()
    with pytest.raises(BadFrame, match="CAS"):
        scale.read(timeout=0.3)


def test_not_ready_then_ready(emu, scale):
    emu.set_weight(77)
    emu.not_ready()
    with pytest.raises(ScaleError, match="NAK"):
        scale.read(timeout=0.3)
    emu.not_ready(False)
    assert scale.read().grams == 77


def test_emulator_url_in_grams_unit():
    scale = open_scale("emulator://scale?protocol=cas&weight=250&unit=g")
    try:
        assert isinstance(scale, CasScale)
        w = scale.read()
        assert (w.grams, w.unit) == (250.0, Unit.G)
    finally:
        scale.close()
