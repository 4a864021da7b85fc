"""Property tests: random byte streams never crash the MT-SICS framer/parser, and noise
between frames never makes up a weight."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceError
from drivers.protocols import mt_sics

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


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


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
