"""Property tests: random byte streams never crash the MT-SICS framer/parser, and noise
between frames never makes up a weight."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceError
from drivers.protocols import mt_sics

from .chunks import chunked

UNITS = ["g", "kg", "lb", "oz"]
ENDINGS = [b"\r\n", b"\n", b"\r"]
# Noise without digits cannot form a number, so any weight we report came from a frame.
NOISE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39))

weights = st.tuples(
    st.sampled_from(["S", "T"]),
    st.sampled_from(["S", "D"]),
    st.decimals(min_value=-99999, max_value=99999, places=2, allow_nan=False),
    st.sampled_from(UNITS),
).filter(lambda w: not (w[0] == "T" and w[1] == "D"))


def frame(w) -> bytes:
    ident, status, value, unit = w
    return f"{ident} {status} {value:>10} {unit}".encode()


def parse_all(chunks: list[bytes]) -> list[mt_sics.Reply]:
    framer, replies = mt_sics.LineFramer(), []
    for chunk in chunks:
        for line in framer.feed(chunk):
            with contextlib.suppress(DeviceError):
                replies.append(mt_sics.parse_line(line))
    return replies


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_raise_only_our_errors(data, cuts):
    framer = mt_sics.LineFramer()
    for chunk in chunked(data, cuts):
        for line in framer.feed(chunk):
            try:
                reply = mt_sics.parse_line(line)
            except DeviceError:
                continue
            with contextlib.suppress(DeviceError):
                mt_sics.raise_for(reply)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(weights, NOISE, st.sampled_from(ENDINGS)), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_never_makes_up_a_weight(items, cuts):
    stream = b"".join(noise + frame(w) + end for w, noise, end in items)
    sent = {(w[0], w[1] == "S", float(w[2]), w[3]) for w, _, _ in items}
    for reply in parse_all(chunked(stream, cuts)):
        if reply.weight is None:
            continue  # noise may well spell "Z +": no weight, no harm
        got = (reply.ident, reply.weight.stable, reply.weight.value, str(reply.weight.unit))
        assert got in sent


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(weights, st.sampled_from(ENDINGS)), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_clean_stream_is_read_completely_however_split(items, cuts):
    stream = b"".join(frame(w) + end for w, end in items)
    got = [
        (r.ident, r.status, r.weight.value, str(r.weight.unit))
        for r in parse_all(chunked(stream, cuts))
    ]
    assert got == [(w[0], w[1], float(w[2]), w[3]) for w, _ in items]


# -- multi-line B ... A replies (issue 5) ------------------------------------------------

NAMES = st.sampled_from(["@", "I0", "I2", "I3", "I4", "S", "SI", "SIR", "Z", "T", "M21", "C1"])
I0_LINES = st.lists(st.tuples(st.integers(min_value=0, max_value=3), NAMES), min_size=1)


def i0_lines(listed: list[tuple[int, str]]) -> list[bytes]:
    last = len(listed) - 1
    return [
        f'I0 {"A" if i == last else "B"} {level} "{name}"'.encode()
        for i, (level, name) in enumerate(listed)
    ]


def read_all(chunks: list[bytes]) -> list[mt_sics.Reply]:
    replies = mt_sics.Replies()
    return [r for chunk in chunks for r in replies.feed(chunk)]


@settings(max_examples=300, deadline=None)
@given(
    I0_LINES.flatmap(
        lambda listed: st.tuples(
            st.just(listed),
            st.lists(
                st.tuples(NOISE, st.none() | weights, st.sampled_from(ENDINGS)),
                min_size=len(listed),
                max_size=len(listed),
            ),
        )
    ),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_noise_between_b_lines_never_yields_a_reply_that_was_not_sent(case, cuts):
    listed, between = case
    stream = b""
    for line, (noise, weight, end) in zip(i0_lines(listed), between, strict=True):
        # a stream line (SIR) may come between two B lines, noise before any line
        stream += (frame(weight) + end if weight else b"") + noise + line + end
    sent = tuple(f"{level} {name}" for level, name in listed)
    weights_sent = {(w[0], w[1] == "S", float(w[2]), w[3]) for _, w, _ in between if w}
    for reply in read_all(chunked(stream, cuts)):
        if reply.ident.startswith("I"):
            assert (reply.ident, reply.status, reply.lines) == ("I0", "A", sent)
        elif reply.weight is not None:
            got = (reply.ident, reply.weight.stable, reply.weight.value, str(reply.weight.unit))
            assert got in weights_sent


@settings(max_examples=200, deadline=None)
@given(
    I0_LINES,
    st.lists(st.none() | weights, max_size=8),
    st.lists(st.integers(min_value=0), max_size=12),
)
def test_b_lines_with_stream_lines_between_make_one_reply_however_split(listed, ws, cuts):
    lines = i0_lines(listed)
    stream = b""
    for i, line in enumerate(lines):
        w = ws[i] if i < len(ws) else None
        stream += (frame(w) + b"\r\n" if w else b"") + line + b"\r\n"
    replies = read_all(chunked(stream, cuts))
    (i0,) = [r for r in replies if r.ident == "I0"]
    assert i0.lines == tuple(f"{level} {name}" for level, name in listed)
    assert mt_sics.command_list(i0) == tuple(name for _, name in listed)
    assert len(replies) == 1 + sum(1 for w in ws[: len(lines)] if w)
