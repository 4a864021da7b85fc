"""NCI SCP-01: parser byte-exact and on random streams; NciScale against its emulator over a
real pty.

Behaviour every serial scale shares is tested once, in test_serial_scales_common.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Unit
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.errors import BadFrame, ScaleError
from drivers.protocols import nci
from drivers.scale_nci import NciScale
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_scale

from .chunks import chunked

# -- the parser -----------------------------------------------------------------------------


def test_parses_the_example_weight_answer():
    (reply,) = nci.Parser().feed(b"\n  1.234lb\r\n00\r\x03")
    assert (reply.kind, reply.value, reply.unit) == ("weight", 1.234, Unit.LB)
    assert reply.status.describe() == "no condition" and not reply.status.motion


def test_status_unknown_units_and_s_prefix_forms():
    p = nci.Parser()
    got = p.feed(b"\n22\r\x03\n?\r\x03\n kg\r\n00\r\x03\n01.500KG\r\nS20\r\x03")
    assert [r.kind for r in got] == ["status", "unknown", "units", "weight"]
    assert got[0].status.describe() == "at zero, over capacity"
    assert got[2].unit == Unit.KG
    assert (got[3].value, got[3].unit) == (1.5, Unit.KG)
    assert got[3].status.at_zero and not got[3].status.under_capacity


def test_three_status_bytes_and_parity_bit():
    (reply,) = nci.Parser().feed(b"\n  2.50lb\r\n\xb1p4\r\x03")  # '1' with parity, 'p', '4'
    s = reply.status
    assert s.motion and s.net and not s.high_range
    assert s.describe() == "in motion, net weight"


@pytest.mark.parametrize(
    ("field", "out"), [("^^^^^^", "over"), ("______", "under"), ("------", "zero_error")]
)
def test_out_of_range_fields(field, out):
    (reply,) = nci.Parser().feed(nci.encode_weight(field, "lb", b"00"))
    assert (reply.out_of_range, reply.value) == (out, None)


def test_lb_oz_weight_is_ounces():
    (reply,) = nci.Parser().feed(b"\n 2lb  3.5oz\r\n00\r\x03")
    assert (reply.value, reply.unit) == (35.5, Unit.OZ)


def test_split_reads_noise_and_bad_status_bytes():
    p = nci.Parser()
    assert p.feed(b"\x00\n#\n  1.2") == []
    assert p.feed(b"34lb\r\n0") == []
    assert [r.value for r in p.feed(b"0\r\x03")] == [1.234]
    assert p.feed(b"\n  9.999lb\r\n0p\r\x03") == []  # last byte says "more follow"
    assert p.feed(b"\n  9.999lb\r\nA0\r\x03") == []  # bits 4/5 not set
    assert p.garbage > 0


NOISE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39))
WEIGHTS = st.decimals(min_value=0, max_value=9999, places=3, allow_nan=False)
STATUS = st.sampled_from([b"00", b"01", b"10", b"1p0", b"S00"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_never_raise(data, cuts):
    p = nci.Parser()
    for chunk in chunked(data, cuts):
        for reply in p.feed(chunk):
            if reply.status is not None:
                reply.status.describe()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(WEIGHTS, STATUS, NOISE), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_never_makes_up_a_weight_and_answers_survive_splitting(items, cuts):
    stream = b"".join(noise + nci.encode_weight(f"{w:>8}", "kg", s) for w, s, noise in items)
    p = nci.Parser()
    got = [r for chunk in chunked(stream, cuts) for r in p.feed(chunk)]
    sent = [float(w) for w, _, _ in items]
    weights = [r.value for r in got if r.value is not None]
    assert set(weights) <= set(sent)
    if not any(set(n) & {0x0A, 0x0D, 0x03} for _, _, n in items):
        assert weights == sent


# -- the driver ------------------------------------------------------------------------------


def test_driver_sends_w_cr_and_refuses_unknown_units():
    t = MemoryTransport.replying({b"W\r": b"\n  12.0pcs\r\n00\r\x03"})
    with pytest.raises(BadFrame, match="'pcs'"):
        NciScale(t).read()
    assert t.writes == [b"W\r"]


@pytest.fixture
def emu() -> Iterator[NciScaleEmulator]:
    with NciScaleEmulator(weight=0.0, unit="kg", settle=0.3) as e:
        yield e


@pytest.fixture
def scale(emu: NciScaleEmulator) -> Iterator[NciScale]:
    driver = open_scale(emu.url)
    assert isinstance(driver, NciScale)
    yield driver
    driver.close()


def test_scale_fault_in_plain_words(emu, scale):
    # overload and underload: test_serial_scales_common.py
    emu.set_weight(100)
    emu.fault("eeprom")
    with pytest.raises(ScaleError, match=r"fault \(EEPROM error\).*service"):
        scale.read()


def test_zero(emu, scale):
    emu.set_weight(100)
    assert scale.read().grams == 100
    scale.zero()
    assert scale.read().grams == 0
    assert scale.status().at_zero
    emu.set_weight(5000)
    with pytest.raises(ScaleError, match="clear the pan"):
        scale.zero()
    assert emu.received[0] == b"W\r"


def test_three_status_bytes_and_pounds():
    with NciScaleEmulator(weight=907.18474, three_status_bytes=True) as e:
        scale = open_scale(e.url)
        try:
            w = scale.read()
        finally:
            scale.close()
    assert (w.unit, w.value) == (Unit.LB, 2.0)


def test_unknown_command_answers_question_mark(emu):
    from drivers.transports.serial_port import SerialTransport

    port = SerialTransport(emu.port, bytesize=7, parity="E")
    try:
        port.write(b"X\r")
        data, deadline = b"", time.monotonic() + 3
        while not data.endswith(b"\x03") and time.monotonic() < deadline:
            data += port.read(0.2)
    finally:
        port.close()
    assert data == b"\n?\r\x03"


def test_emulator_url():
    scale = open_scale("emulator://scale?protocol=nci&weight=907.18474")
    try:
        assert isinstance(scale, NciScale)
        assert (scale.read().value, scale.read().unit) == (2.0, Unit.LB)
    finally:
        scale.close()
