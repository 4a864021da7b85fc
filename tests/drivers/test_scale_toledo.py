"""Toledo 8217: parser byte-exact and on random streams; ToledoScale against its emulator
over a real pty.

Behaviour every serial scale shares is tested once, in test_serial_scales_common.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Scale, Unit, Weight
from drivers.emulators.toledo_scale import ToledoScaleEmulator
from drivers.errors import BadFrame
from drivers.protocols import toledo
from drivers.scale_toledo import ToledoScale
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_scale

from .chunks import chunked

# -- the parser -----------------------------------------------------------------------------


def test_parses_weight_status_and_echo_frames():
    p = toledo.Parser()
    assert p.feed(b"\x0201.234\r\x02?A\r\x02E\r\x02001.20N\r") == [
        toledo.WeightFrame(1.234, 3, False),
        toledo.StatusFrame(0x41),
        toledo.EchoFrame(),
        toledo.WeightFrame(1.2, 2, True),
    ]
    assert p.garbage == 0


def test_frames_split_across_reads_and_noise_before_them():
    p = toledo.Parser()
    assert p.feed(b"\x00#\x02\x0201.") == []
    assert p.feed(b"234") == []
    assert p.feed(b"\r") == [toledo.WeightFrame(1.234, 3, False)]
    assert p.garbage == 3  # NUL, '#' and the lone STX before the frame's own


def test_status_byte_parity_bit_is_ignored_and_bits_are_words():
    (frame,) = toledo.Parser().feed(b"\x02?\xe1\r")  # 0x61 with bit 7 (even parity) set
    assert frame == toledo.StatusFrame(0x61)
    assert frame.describe() == "in motion, showing net weight"
    assert toledo.StatusFrame(0x5E).describe() == (
        "over capacity, below zero, outside the zero capture range, at centre of zero"
    )


def test_garbage_never_makes_a_frame():
    p = toledo.Parser()
    assert p.feed(b"\x02?\x01\r\x02 1x\r\x02" + b"9" * 100) == []  # bit 6 clear; letters
    assert p.feed(b"\r") == []
    assert p.garbage > 0


def test_encoders_match_the_manual():
    assert toledo.encode_weight(1.234) == b"\x0201.234\r"
    assert toledo.encode_weight(1.2, decimals=2, net=True, width=5) == b"\x0201.20N\r"
    assert toledo.encode_status(toledo.MOTION) == b"\x02?A\r"


NOISE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39))
WEIGHTS = st.decimals(min_value=0, max_value=999, places=3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_never_raise(data, cuts):
    p = toledo.Parser()
    for chunk in chunked(data, cuts):
        for frame in p.feed(chunk):
            if isinstance(frame, toledo.StatusFrame):
                frame.describe()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(WEIGHTS, NOISE), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_never_makes_up_a_weight_and_frames_survive_splitting(items, cuts):
    stream = b"".join(noise + toledo.encode_weight(float(w)) for w, noise in items)
    p = toledo.Parser()
    got = [f for chunk in chunked(stream, cuts) for f in p.feed(chunk)]
    sent = [float(w) for w, _ in items]
    weights = [f.value for f in got if isinstance(f, toledo.WeightFrame)]
    assert set(weights) <= set(sent)
    if not any(b"\x02" in n or b"\r" in n for _, n in items):
        assert weights == sent  # noise without STX/CR cannot hide a frame


# -- the driver on a memory transport -----------------------------------------------------


def test_driver_sends_single_letters_and_uses_the_configured_unit():
    t = MemoryTransport.replying({b"W": b"\x0201.00\r"})
    w = ToledoScale(t, unit="lb").read()
    assert t.writes == [b"W"]
    assert (w.unit, w.grams, w.stable) == (Unit.LB, 453.592, True)


# -- the driver against the emulator over a pty -----------------------------------------


@pytest.fixture
def emu() -> Iterator[ToledoScaleEmulator]:
    with ToledoScaleEmulator(weight=0.0, settle=0.3) as e:
        yield e


@pytest.fixture
def scale(emu: ToledoScaleEmulator) -> Iterator[ToledoScale]:
    driver = open_scale(emu.url)
    assert isinstance(driver, ToledoScale)
    yield driver
    driver.close()


def test_tare_zero_and_clear_tare(emu, scale):
    emu.set_weight(200)
    assert scale.tare().grams == 200
    assert scale.read().grams == 0
    emu.set_weight(1200)
    assert scale.read().grams == 1000
    scale.clear_tare()
    assert scale.read().grams == 1200
    emu.set_weight(100)
    scale.zero()
    assert scale.read().grams == 0
    assert [c for chunk in emu.received for c in chunk.decode()] == list("WTWWCWZW")


def test_garbage_answer_is_bad_frame():
    t = MemoryTransport.replying({b"W": b"\x02kg?\r#"})
    with pytest.raises(BadFrame, match="Toledo 8217"):
        ToledoScale(t).read(timeout=0.2)


def test_echo_test_as_odoo_probes_it(emu):
    from drivers.transports.serial_port import SerialTransport

    port = SerialTransport(emu.port, bytesize=7, parity="E")
    try:
        port.write(toledo.ECHO_PROBE)
        data, deadline = b"", time.monotonic() + 3
        while len(data) < 8 and time.monotonic() < deadline:
            data += port.read(0.2)
        port.write(toledo.END_ECHO + toledo.WEIGHT)
        after = b""
        while not after.endswith(b"\r") and time.monotonic() < deadline:
            after += port.read(0.2)
    finally:
        port.close()
    assert data == toledo.ECHO_ANSWER
    assert after == b"\x0200.000\r"


def test_pounds_scale():
    with ToledoScaleEmulator(weight=907.18474, unit="lb") as e:
        scale = open_scale(e.url)
        try:
            w = scale.read()
        finally:
            scale.close()
    assert w.unit == Unit.LB and w.value == 2.0 and w.grams == pytest.approx(907.185)


def test_emulator_url():
    scale = open_scale("emulator://scale?protocol=toledo-8217&weight=321")
    try:
        assert isinstance(scale, ToledoScale)
        assert scale.read().grams == 321
    finally:
        scale.close()


def test_stream_is_real_and_reported():
    # Issue 5: ToledoScale had a working stream() but did not say so (CAN_STREAM).
    assert ToledoScale.CAN_STREAM
    assert ToledoScale.stream is not Scale.stream


def test_stream_skips_motion_instead_of_raising():
    answers = iter([b"\x02?A\r", b"\x02?A\r", b"\x0201.000\r"])
    t = MemoryTransport(responder=lambda data: [next(answers, b"\x0201.000\r")])
    got: list[Weight] = []
    ToledoScale(t, poll=0.0).stream(got.append, stop=lambda: bool(got))
    assert [w.grams for w in got] == [1000.0]
    assert t.writes == [b"W"] * 3
