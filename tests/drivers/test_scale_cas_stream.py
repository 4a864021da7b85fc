"""CAS continuous output ("CAS 22 bytes"): frames byte-exact and on random streams;
CasStreamScale against its emulator over a real pty. What every serial scale shares is in
test_serial_scales_common.py, the stream in test_scale_stream_polled.py."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Unit
from drivers.emulators.cas_stream_scale import CasStreamScaleEmulator
from drivers.errors import BadFrame, DeviceUnreachable
from drivers.probe import probe
from drivers.protocols import cas_stream
from drivers.scale_cas_stream import CasStreamScale
from drivers.transports.memory import MemoryTransport
from drivers.urls import open_scale

from .chunks import chunked

# CI-600D manual 10-1: ST , GS , id lamp , 8 data bytes, blank, unit, CR LF = 22 bytes.
FRAME = b"ST,GS,1\xc4,000013.5 kg\r\n"


def test_frame_layout_from_the_manual():
    assert len(FRAME) == 22
    assert cas_stream.encode_frame(True, 13.5, "kg", decimals=1) == FRAME
    r = cas_stream.parse_line(FRAME[:-1])
    assert (r.stable, r.overload, r.net, r.value, r.unit) == (True, False, False, 13.5, Unit.KG)
    assert (r.device_id, r.lamp) == (0x31, 0xC4)  # lamp: bit 7, 6 stable, 2 gross


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"US,NT,1\x86,-001.250 kg\r", (False, False, True, -1.25, Unit.KG)),
        (b"OL,GS,1\x84,  OL     kg\r", (False, True, False, None, Unit.KG)),
        (b"ST,GS,0012.50 lb\r", (True, False, False, 12.5, Unit.LB)),  # 18-byte variant
        (b"\x00#~ST,GS,2\xc4,   250.0  g\r", (True, False, False, 250.0, Unit.G)),  # noise
    ],
)
def test_stable_net_negative_overload_and_the_18_byte_variant(line, expected):
    r = cas_stream.parse_line(line)
    assert (r.stable, r.overload, r.net, r.value, r.unit) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"ST,GS,1\xc4,0000x3.5 kg\r",  # a digit garbled
        b"ST,GS,1\xc4,000013.5kg\r",  # the blank lost: a byte missing
        b"XX,GS,1\xc4,000013.5 kg\r",
        b"ST,GS,1\xc4,00.0.3.5 kg\r",
        b"ST,GS,1\xc4,        kg\r",  # no digits
    ],
)
def test_damaged_frames_are_garbage_not_weights(line):
    assert cas_stream.parse_line(line) is None


def test_parser_counts_garbage_and_joins_split_frames():
    p = cas_stream.Parser()
    assert p.feed(b"junk\r\nST,GS,1\xc4,00") == [] and p.garbage == 1
    (r,) = p.feed(b"0013.5 kg\r\n")
    assert r.value == 13.5
    p.feed(b"x" * 500)  # no LF: noise, not a growing buffer
    assert len(p._buf) <= cas_stream.MAX_LINE


def test_unknown_unit_is_a_plain_bad_frame():
    t = MemoryTransport()
    # fed after read() has thrown away what was buffered, as a scale's next frame is
    threading.Timer(0.05, t.feed, args=(b"ST,GS,1\xc4,00012.50  t\r\n",)).start()
    with pytest.raises(BadFrame, match="set its unit"):
        CasStreamScale(t).read(timeout=1)


NOISE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if c != 0x0A))
WEIGHTS = st.decimals(min_value=-999, max_value=9999, places=3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_never_raise(data, cuts):
    p = cas_stream.Parser()
    for chunk in chunked(data, cuts):
        for r in p.feed(chunk):
            assert r.overload or r.value is not None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(WEIGHTS, st.booleans(), st.booleans(), NOISE), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_never_makes_up_a_weight_and_frames_survive_splitting(items, cuts):
    stream = b"".join(
        noise + cas_stream.encode_frame(s, float(w), "kg", net=n) for w, s, n, noise in items
    )
    p = cas_stream.Parser()
    got = [r for chunk in chunked(stream, cuts) for r in p.feed(chunk)]
    sent = [(float(w), s, n) for w, s, n, _ in items]
    readings = [(r.value, r.stable, r.net) for r in got]
    assert set(readings) <= set(sent)
    if not any(b"\r" in n or b"," in n for *_, n in items):  # noise that cannot cut a frame
        assert readings == sent


# -- the driver against the emulator ------------------------------------------------------


def test_read_takes_a_fresh_frame_not_one_buffered_long_ago():
    with CasStreamScaleEmulator(weight=100.0) as emu:
        scale = open_scale(emu.url)
        try:
            assert scale.read().grams == 100.0
            emu.set_weight(900.0)
            time.sleep(0.5)  # frames of 900 g pile up unread; then the parcel changes
            emu.set_weight(400.0)
            time.sleep(0.15)
            assert scale.read().grams == 400.0
        finally:
            scale.close()


def test_sends_nothing_and_reads_from_another_thread_while_streaming():
    with CasStreamScaleEmulator(weight=250.0) as emu:
        scale = open_scale(emu.url)
        seen, stop = [], threading.Event()
        thread = threading.Thread(target=scale.stream, args=(seen.append, stop.is_set))
        thread.start()
        try:
            time.sleep(0.3)
            emu.set_weight(610.0)
            assert scale.read(timeout=2).grams == 610.0  # the weigh button
            time.sleep(0.3)
            assert seen and seen[-1].grams == 610.0  # the stream went on
        finally:
            stop.set()
            thread.join(timeout=2)
            scale.close()
        assert emu.received == []  # continuous mode: the driver never writes


def test_wrong_baud_rate_is_bad_frame_not_silence():
    with CasStreamScaleEmulator(weight=500.0, baud=4800) as emu:
        scale = open_scale(emu.url.replace("baud=4800", "baud=9600"))
        try:
            with pytest.raises(BadFrame, match="serial settings"):
                scale.read(timeout=0.5)
        finally:
            scale.close()


def test_hung_scale_is_not_answering():
    with CasStreamScaleEmulator(weight=500.0) as emu:
        emu.stop_answering()
        scale = open_scale(emu.url)
        try:
            with pytest.raises(DeviceUnreachable, match="not answering"):
                scale.read(timeout=0.3)
        finally:
            scale.close()


def test_probe_finds_it_by_listening():
    with CasStreamScaleEmulator(weight=500.0) as emu:
        report = probe(emu.port, timeout=0.15)
        assert (report.found.protocol, report.found.settings) == ("cas-stream", "9600 8N1")
        assert "0.5 kg gross, stable" in report.found.detail
        assert [a.protocol for a in report.attempts] == ["toledo-8217", "nci", "cas-stream"]
        assert b"".join(emu.received) == b"EhelloFW\rW\rS\r"  # Toledo's and NCI's, ignored
        scale = open_scale(report.url)
        try:
            assert scale.read(timeout=2).grams == 500.0
        finally:
            scale.close()


def test_emulator_url_and_aliases():
    scale = open_scale("emulator://scale?protocol=cas-22&weight=1500&unit=lb")
    try:
        w = scale.read(timeout=2)
        assert isinstance(scale, CasStreamScale)
        assert (w.unit, w.value) == (Unit.LB, 3.31)
    finally:
        scale.close()
