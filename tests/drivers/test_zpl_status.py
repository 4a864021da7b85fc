"""The ~HS answer parser and the ZPL stream splitter, byte-exact, plus properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import PrinterState
from drivers.errors import BadFrame, DeviceError
from drivers.protocols.zpl import split_stream
from drivers.protocols.zpl_status import (
    HostStatus,
    HsFramer,
    encode_hs,
    parse_host_status,
    parse_hs,
)

# A real ZD420 answer, ready: paper in, head closed, not paused.
READY = (
    b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n"
    b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n"
    b"\x021234,0\x03\r\n"
)


def test_ready():
    status = parse_hs(READY)
    assert status.conditions == (PrinterState.READY,) and status.ready


@pytest.mark.parametrize(
    ("field", "state"),
    [
        (dict(paper_out=True), PrinterState.PAPER_OUT),
        (dict(paused=True), PrinterState.PAUSED),
        (dict(buffer_full=True), PrinterState.BUFFER_FULL),
        (dict(head_open=True), PrinterState.HEAD_OPEN),
        (dict(ribbon_out=True), PrinterState.RIBBON_OUT),
        (dict(over_temperature=True), PrinterState.OTHER_ERROR),
        (dict(corrupt_ram=True), PrinterState.OTHER_ERROR),
    ],
)
def test_each_flag(field, state):
    status = parse_hs(encode_hs(HostStatus(**field)))
    assert status.conditions == (state,) and not status.ready


def test_flag_positions_byte_exact():
    assert encode_hs(HostStatus(paper_out=True, paused=True, head_open=True)) == (
        b"\x02030,1,1,1218,000,0,0,0,000,0,0,0\x03\r\n"
        b"\x02001,0,1,0,0,2,6,0,00000000,1,000\x03\r\n"
        b"\x021234,0\x03\r\n"
    )


def test_several_conditions_and_buffered_labels():
    status = parse_hs(encode_hs(HostStatus(paper_out=True, head_open=True, formats_in_buffer=3)))
    assert status.conditions == (PrinterState.PAPER_OUT, PrinterState.HEAD_OPEN)
    assert "3 label(s) waiting" in status.detail
    assert (
        status.describe() == "out of labels/paper: load a new roll; print head open: close the head"
    )


def test_split_reads_and_garbage_between_frames():
    framer = HsFramer()
    one, two, three = (f + b"\r\n" for f in READY.split(b"\r\n")[:3])
    data = b"junk\r\n" + one + b"\x03stray" + two + b"\xff\x00" + three
    for i in range(0, len(data), 7):
        framer.feed(data[i : i + 7])
    assert framer.complete()


def test_frames_in_any_order():
    frames = READY.split(b"\r\n")[:3]
    assert parse_hs(b"\r\n".join(reversed(frames))).ready


def test_string_three_is_optional():
    assert parse_hs(READY.rsplit(b"\x02", 1)[0]).ready


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", READY[:30], READY.replace(b"030,0,0", b"030,X,0"),
     READY.replace(b"030,0,0", b"030,7,0")],
)  # fmt: skip
def test_unreadable_answers_raise_bad_frame(data):
    with pytest.raises(BadFrame):
        parse_hs(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_our_errors(data):
    with contextlib.suppress(DeviceError):
        parse_hs(data)


flags = st.builds(
    HostStatus,
    paper_out=st.booleans(),
    paused=st.booleans(),
    head_open=st.booleans(),
    ribbon_out=st.booleans(),
    buffer_full=st.booleans(),
    formats_in_buffer=st.integers(0, 999),
)
GARBAGE = st.binary(max_size=10).map(lambda b: b.replace(b"\x02", b"").replace(b"\x03", b""))


@settings(max_examples=200, deadline=None)
@given(flags, st.lists(GARBAGE, min_size=4, max_size=4), st.integers(1, 20))
def test_status_survives_garbage_and_any_split(status, garbage, step):
    frames = encode_hs(status).split(b"\r\n")[:3]
    data = garbage[0] + b"".join(f + g for f, g in zip(frames, garbage[1:], strict=True))
    framer = HsFramer()
    for i in range(0, len(data), step):
        framer.feed(data[i : i + step])
    assert parse_host_status(framer.frames).to_status() == status.to_status()


def test_split_stream_labels_and_tilde_commands():
    items, rest = split_stream(b"~HS\r\n^XA^FO50,50^FDhello^FS^XZ\r\n^XA^FDpart")
    assert items == [("tilde", b"~HS"), ("label", b"^XA^FO50,50^FDhello^FS^XZ")]
    assert rest == b"^XA^FDpart"


@pytest.mark.parametrize("tail", [b"^", b"^X", b"~", b"~H"])
def test_split_stream_keeps_a_command_cut_in_two(tail):
    assert split_stream(b"^XA^XZ" + tail) == ([("label", b"^XA^XZ")], tail)
