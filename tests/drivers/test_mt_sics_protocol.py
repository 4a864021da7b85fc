"""MT-SICS encoding, framing and parsing, byte-exact, and the driver on a memory transport."""

from __future__ import annotations

import pytest

from drivers.base import Unit
from drivers.errors import BadFrame, DeviceUnreachable, ScaleError
from drivers.protocols import mt_sics
from drivers.scale_mt_sics import MtSicsScale
from drivers.transports.memory import MemoryTransport


@pytest.mark.parametrize(
    ("command", "wire"),
    [("S", b"S\r\n"), ("SI", b"SI\r\n"), ("SIR", b"SIR\r\n"), ("Z", b"Z\r\n"),
     ("T", b"T\r\n"), ("@", b"@\r\n"), ("I0", b"I0\r\n"), ("I2", b"I2\r\n"),
     ("I3", b"I3\r\n"), ("I4", b"I4\r\n")],
)  # fmt: skip
def test_encode(command, wire):
    assert mt_sics.encode(command) == wire


def test_encode_refuses_other_commands():
    with pytest.raises(ValueError):
        mt_sics.encode("XYZ")


def test_framer_handles_split_frames_and_all_line_endings():
    f = mt_sics.LineFramer()
    assert f.feed(b"S S     12") == []
    assert f.feed(b"3.4 g\r") == [b"S S     123.4 g"]
    assert f.feed(b"\nS D 1 g\nS I\r") == [b"S D 1 g", b"S I"]
    assert f.feed(b"\r\n") == []


def test_framer_drops_endless_noise():
    f = mt_sics.LineFramer()
    f.feed(b"x" * 1000)
    assert f.feed(b"S S 1 g\r\n") == [b"S S 1 g"]


@pytest.mark.parametrize(
    ("line", "grams", "stable", "unit"),
    [
        (b"S S     1234.5 g", 1234.5, True, Unit.G),
        (b"S D      12.30 g", 12.3, False, Unit.G),
        (b"S S     1.2345 kg", 1234.5, True, Unit.KG),
        (b"S S     2.0000 lb", 907.185, True, Unit.LB),
        (b"S S      10.00 oz", 283.495, True, Unit.OZ),
        (b"S S      -5.0 g", -5.0, True, Unit.G),
        (b"\x00\xfe\x13S S   7.0 g", 7.0, True, Unit.G),  # noise before the frame
    ],
)
def test_parse_weight(line, grams, stable, unit):
    reply = mt_sics.parse_line(line)
    assert reply.weight is not None
    assert reply.weight.grams == pytest.approx(grams, abs=0.001)
    assert (reply.weight.stable, reply.weight.unit) == (stable, unit)


@pytest.mark.parametrize(
    ("line", "ident", "status"),
    [(b"S I", "S", "I"), (b"S +", "S", "+"), (b"S -", "S", "-"), (b"Z A", "Z", "A"),
     (b"Z I", "Z", "I"), (b"Z +", "Z", "+"), (b"Z -", "Z", "-"), (b"T I", "T", "I"),
     (b"T +", "T", "+"), (b"T -", "T", "-"), (b"ES", "ES", ""), (b"ET", "ET", ""),
     (b"EL", "EL", "")],
)  # fmt: skip
def test_parse_status_replies(line, ident, status):
    reply = mt_sics.parse_line(line)
    assert (reply.ident, reply.status, reply.weight) == (ident, status, None)


def test_parse_tare_reply():
    reply = mt_sics.parse_line(b"T S     100.00 g")
    assert reply.ident == "T" and reply.weight and reply.weight.grams == 100.0


def test_parse_reset_reply():
    assert mt_sics.parse_line(b'I4 A "B021002593"').text == "B021002593"


@pytest.mark.parametrize(
    ("line", "ident", "status", "text"),
    [
        (b'I0 B 0 "I0"', "I0", "B", "0 I0"),
        (b'I0 A 1 "T"', "I0", "A", "1 T"),
        (b'I2 A "T72XW Standard 50.00 kg"', "I2", "A", "T72XW Standard 50.00 kg"),
        (b'I2 A "PG5002-S" "5100.0 g"', "I2", "A", "PG5002-S 5100.0 g"),
        (b'I3 A "1.00"', "I3", "A", "1.00"),
        (b"I3 I", "I3", "I", ""),
        (b'\x00#I4 A "123"', "I4", "A", "123"),  # noise before the frame
    ],
)
def test_parse_text_replies(line, ident, status, text):
    reply = mt_sics.parse_line(line)
    assert (reply.ident, reply.status, reply.text) == (ident, status, text)


@pytest.mark.parametrize("line", [b'I4 A "B0\xf01"', b'xI4 A "1"', b'I4 A "open'])
def test_text_reply_garbled_on_the_line_is_garbage(line):
    with pytest.raises(BadFrame):
        mt_sics.parse_line(line)


def test_replies_join_b_lines_and_let_weights_through():
    r = mt_sics.Replies()
    assert r.feed(b'I0 B 0 "I0"\r\nS D  1.0 g\r\nI0 B 0 "S') == [mt_sics.parse_line(b"S D  1.0 g")]
    (i0,) = r.feed(b'"\r\nI0 A 1 "T"\r\n')
    assert (i0.ident, i0.status, i0.lines) == ("I0", "A", ("0 I0", "0 S", "1 T"))
    assert mt_sics.command_list(i0) == ("I0", "S", "T")


def test_i0_run_ended_by_a_bare_a_line():
    # The manual's last line is an item (I0 A 3 "SM4"); some devices send a bare "I0 A".
    r = mt_sics.Replies()
    (i0,) = r.feed(b'I0 B 0 "I0"\r\nI0 B 1 "D"\r\nI0 B 3 "CLR"\r\nI0 A\r\n')
    assert i0.lines == ("0 I0", "1 D", "3 CLR")
    assert mt_sics.command_list(i0) == ("I0", "D", "CLR")


def test_replies_drop_a_run_that_lost_a_line_to_noise():
    r = mt_sics.Replies()
    # noise glued to the first line hides it: the rest must not pass for the whole list
    assert r.feed(b'#xI0 B 0 "I0"\r\nI0 B 0 "S"\r\nI0 A 1 "T"\r\n') == []
    assert r.garbage == 2
    r.clear()
    assert [x.lines for x in r.feed(b'I0 A 0 "S"\r\n')] == [("0 S",)]


def test_model_and_capacity():
    assert mt_sics.model_and_capacity("XS205DU 220.0090 g") == ("XS205DU", "220.0090 g")
    assert mt_sics.model_and_capacity("EMU") == ("EMU", "")
    assert mt_sics.ScaleInfo(capacity="2.5 kg").capacity_grams == 2500.0
    assert mt_sics.ScaleInfo(capacity="100 ct").capacity_grams is None


@pytest.mark.parametrize(
    "line", [b"", b"hello", b"S X 12 g", b"S S 12 mg", b"xS S 12 g", b"S S twelve g", b"T D 1 g"]
)
def test_parse_rejects_garbage(line):
    with pytest.raises(BadFrame):
        mt_sics.parse_line(line)


@pytest.mark.parametrize(
    ("line", "condition", "words"),
    [
        (b"S +", "overload", "Scale overloaded: take the parcel off and weigh it again."),
        (b"S -", "underload", "below zero"),
        (b"S I", "unstable", "keep the parcel still"),
        (b"Z +", "overload", "clear the pan"),
        (b"T -", "underload", "put the box on the pan"),
        (b"ES", "refused", "MT-SICS"),
        (b"ET", "refused", "baud rate"),
    ],
)
def test_raise_for_plain_words(line, condition, words):
    with pytest.raises(ScaleError, match=words) as info:
        mt_sics.raise_for(mt_sics.parse_line(line))
    assert info.value.condition == condition


# -- the driver on a memory transport: exact bytes out, scripted bytes in ----------------

RESET = b"@\r\n"
SERIAL = b'I4 A "B021002593"\r\n'


def replying(script: dict[bytes, list[bytes] | bytes]) -> MemoryTransport:
    """A scale answering ``script``, and ``@`` with its serial number as every one does:
    the driver starts each fresh port with ``@``."""
    return MemoryTransport.replying({RESET: SERIAL, **script})


def test_read_stable_sends_s():
    t = replying({b"S\r\n": b"S S     1234.5 g\r\n"})
    w = MtSicsScale(t).read()
    assert t.writes == [RESET, b"S\r\n"]
    assert (w.grams, w.stable) == (1234.5, True)


def test_read_unstable_sends_si():
    t = replying({b"SI\r\n": b"S D      99.0 g\r\n"})
    w = MtSicsScale(t).read(stable=False)
    assert t.writes == [RESET, b"SI\r\n"]
    assert (w.grams, w.stable) == (99.0, False)


def test_reply_split_across_reads_with_noise():
    t = replying({b"S\r\n": [b"\x00\xff", b"\r\nS S  ", b"  42.0", b" g\r", b"\n"]})
    assert MtSicsScale(t).read().grams == 42.0


def test_s_i_is_asked_again_until_stable():
    answers = iter([SERIAL, b"S I\r\n", b"S I\r\n", b"S S  5.0 g\r\n"])
    t = MemoryTransport(responder=lambda data: [next(answers)])
    assert MtSicsScale(t).read(timeout=5).grams == 5.0
    assert t.writes == [RESET] + [b"S\r\n"] * 3


def test_overload_raises():
    t = replying({b"S\r\n": b"S +\r\n"})
    with pytest.raises(ScaleError, match="overloaded") as info:
        MtSicsScale(t).read()
    assert info.value.condition == "overload"


def test_silence_raises_unreachable_after_probe():
    t = replying({})
    with pytest.raises(DeviceUnreachable, match="Scale not answering"):
        MtSicsScale(t, probe_timeout=0.05).read(timeout=0.1)
    assert t.writes == [RESET, b"S\r\n", b"SI\r\n"]


def test_scale_not_answering_the_reset_is_unreachable_and_gets_nothing_else():
    t = MemoryTransport()
    with pytest.raises(DeviceUnreachable, match="Scale not answering"):
        MtSicsScale(t, probe_timeout=0.05).read(timeout=0.1)
    assert t.writes == [RESET]


def test_reset_once_then_again_only_after_a_timeout():
    answers = {RESET: [SERIAL], b"SI\r\n": [b"S S 1.0 g\r\n"]}
    t = MemoryTransport(responder=lambda data: answers.get(data, []))
    scale = MtSicsScale(t, probe_timeout=0.05)
    scale.read(stable=False)
    scale.read(stable=False)
    answers[b"SI\r\n"] = []  # the scale goes quiet mid-command ...
    with pytest.raises(DeviceUnreachable):
        scale.read(stable=False, timeout=0.05)
    answers[b"SI\r\n"] = [b"S S 2.0 g\r\n"]  # ... and is back
    assert scale.read(stable=False).grams == 2.0
    assert t.writes == [RESET, b"SI\r\n", b"SI\r\n", b"SI\r\n", RESET, b"SI\r\n"]


def test_reset_after_the_port_was_lost():
    t = replying({b"SI\r\n": b"S S 1.0 g\r\n"})
    scale = MtSicsScale(t)
    scale.read(stable=False)
    t.unplug()
    with pytest.raises(DeviceUnreachable):
        scale.read(stable=False)
    t.unplugged = False  # plugged in again: the transport reopens
    scale.read(stable=False)
    assert t.writes == [RESET, b"SI\r\n", RESET, b"SI\r\n"]


def test_reset_returns_the_serial_number():
    t = replying({})
    assert MtSicsScale(t).reset() == "B021002593"
    assert t.writes == [RESET]


def test_reset_refused_in_plain_words():
    t = MemoryTransport.replying({RESET: b"ES\r\n"})
    with pytest.raises(ScaleError, match="MT-SICS"):
        MtSicsScale(t).reset()


I0_LINES = [b'I0 B 0 "I0"\r\n', b'I0 B 0 "I2"\r\n', b'I0 B 0 "I4"\r\n', b'I0 A 0 "S"\r\n']


def test_identify_asks_only_for_what_i0_lists():
    t = replying(
        {
            b"I0\r\n": [b"".join(I0_LINES[:2]), b"S D 1.0 g\r\n", b"".join(I0_LINES[2:])],
            b"I2\r\n": b'I2 A "T72XW Standard 50.00 kg"\r\n',
            b"I4\r\n": SERIAL,
        }
    )
    info = MtSicsScale(t).identify()
    assert t.writes == [RESET, b"I0\r\n", b"I2\r\n", b"I4\r\n"]  # no I3: not listed
    assert info == mt_sics.ScaleInfo(
        model="T72XW Standard",
        capacity="50.00 kg",
        software="",
        serial="B021002593",
        commands=("I0", "I2", "I4", "S"),
    )
    assert info.capacity_grams == 50000.0
    assert info.describe() == "T72XW Standard (capacity 50.00 kg), serial B021002593"


def test_identify_without_i0_asks_everything_and_skips_refusals():
    t = replying(
        {
            b"I0\r\n": b"ES\r\n",
            b"I2\r\n": b"I2 I\r\n",
            b"I3\r\n": b'I3 A "1.00"\r\n',
            b"I4\r\n": SERIAL,
        }
    )
    info = MtSicsScale(t).identify()
    assert (info.model, info.software, info.serial, info.commands) == ("", "1.00", "B021002593", ())
    assert t.writes[1:] == [b"I0\r\n", b"I2\r\n", b"I3\r\n", b"I4\r\n"]


def test_unsteady_scale_is_not_called_unreachable():
    # S never answers (never stable) but SI shows the scale is there, moving.
    t = replying({b"SI\r\n": b"S D   10.0 g\r\n"})
    scale = MtSicsScale(t, probe_timeout=0.5)
    with pytest.raises(ScaleError, match="not settling") as info:
        scale.read(timeout=0.1)
    assert info.value.condition == "unstable"
    # SI was answered: the scale listens, so no @ (which may clear the tare) comes next.
    assert scale.read(stable=False).grams == 10.0
    assert t.writes == [RESET, b"S\r\n", b"SI\r\n", b"SI\r\n"]


def test_only_garbage_raises_bad_frame():
    t = replying({b"SI\r\n": b"#$%&\r\n"})
    with pytest.raises(BadFrame, match="cannot read"):
        MtSicsScale(t).read(stable=False, timeout=0.1)


def test_zero_and_tare():
    t = replying({b"Z\r\n": b"Z A\r\n", b"T\r\n": b"T S    250.0 g\r\n"})
    scale = MtSicsScale(t)
    scale.zero()
    assert scale.tare().grams == 250.0
    assert t.writes == [RESET, b"Z\r\n", b"T\r\n"]


def test_zero_refused_raises():
    t = replying({b"Z\r\n": b"Z +\r\n"})
    with pytest.raises(ScaleError, match="clear the pan"):
        MtSicsScale(t).zero()


def test_unknown_command_error_is_reported():
    t = replying({b"T\r\n": b"ES\r\n"})
    with pytest.raises(ScaleError, match="MT-SICS"):
        MtSicsScale(t).tare()


def test_stream_uses_sir_and_stops_with_si():
    t = replying(
        {b"SIR\r\n": [b"S D 1.0 g\r\n", b"S D 2.0 g\r\nS S 3.0 g\r\n"], b"SI\r\n": b"S S 3.0 g\r\n"}
    )
    got = []
    MtSicsScale(t).stream(got.append, stop=lambda: len(got) >= 3)
    assert [(w.grams, w.stable) for w in got] == [(1.0, False), (2.0, False), (3.0, True)]
    assert t.writes == [RESET, b"SIR\r\n", b"SI\r\n"]


def test_unplugged_transport_raises_unreachable():
    t = MemoryTransport()
    t.unplug()
    with pytest.raises(DeviceUnreachable):
        MtSicsScale(t).read()


def test_capabilities():
    assert MtSicsScale.CAN_TARE and MtSicsScale.CAN_ZERO and MtSicsScale.CAN_STREAM
    assert MtSicsScale.CAN_RESET
