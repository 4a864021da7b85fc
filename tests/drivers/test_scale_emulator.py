"""MtSicsScale against the MT-SICS emulator over a real pty: what is MT-SICS's own
(tare, zero, SIR streams, @, identify). Behaviour every serial scale shares is tested
once, in test_serial_scales_common.py."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.errors import DeviceUnreachable
from drivers.urls import open_scale


def test_tare_and_zero(scale_emu, scale):
    scale_emu.set_weight(200)
    assert scale.tare().grams == 200
    assert scale.read().grams == 0
    scale_emu.set_weight(1200)
    assert scale.read().grams == 1000
    scale_emu.set_weight(100)
    scale.zero()
    assert scale.read().grams == 0


def test_stream_sees_dynamic_then_stable_and_stops(scale_emu, scale):
    scale_emu.set_weight(640, stable=False)
    got = []

    def on_reading(w):
        got.append(w)
        if len(got) == 2:
            scale_emu.set_weight(640, stable=True)

    scale.stream(on_reading, stop=lambda: bool(got) and got[-1].stable)
    assert not got[0].stable and (got[-1].grams, got[-1].stable) == (640, True)
    # the stream was ended: the next command gets its own answer, not a stream line
    scale_emu.set_weight(10)
    assert scale.read().grams == 10
    assert scale_emu.commands[-3:] == ["SIR", "SI", "S"]


def test_stream_raises_when_scale_goes_quiet(scale_emu, scale):
    scale.silence = 0.3
    scale_emu.stop_answering()
    with pytest.raises(DeviceUnreachable):
        scale.stream(lambda w: None, stop=lambda: False)


@pytest.mark.parametrize(("unit", "grams"), [("kg", 1234.5), ("lb", 907.2), ("oz", 283.5)])
def test_units_are_converted_to_grams(unit, grams):
    from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator

    with MtSicsScaleEmulator(weight=grams, unit=unit) as emu:
        scale = open_scale(emu.url)
        try:
            w = scale.read()
        finally:
            scale.close()
    assert w.unit == unit
    assert w.grams == pytest.approx(grams, abs=0.05)


def test_unknown_command_answers_es(scale_emu):
    from drivers.transports.serial_port import SerialTransport

    port = SerialTransport(scale_emu.port)
    try:
        port.write(b"XYZ\r\n")
        data = b""
        deadline = time.monotonic() + 5
        while b"\n" not in data and time.monotonic() < deadline:
            data += port.read(0.5)
    finally:
        port.close()
    assert data == b"ES\r\n"


def test_emulator_url_scale():
    scale = open_scale("emulator://scale?weight=321")
    try:
        assert scale.read().grams == 321
        scale.emulator.place(10, settle=0.1)
        assert scale.read().grams == 10
    finally:
        scale.close()


def test_tare_and_read_while_streaming(scale_emu, scale):
    # The station shows the live weight (stream in its own thread) and has a tare button.
    scale_emu.set_weight(300)
    stop, net_1000 = threading.Event(), threading.Event()

    def on_reading(w):
        if w.grams == 1000:
            net_1000.set()

    streaming = threading.Thread(target=scale.stream, args=(on_reading, stop.is_set))
    streaming.start()
    try:
        assert scale.tare().grams == 300
        assert scale.read().grams == 0
        scale_emu.set_weight(1300)
        assert scale.read().grams == 1000
        net_1000.clear()
        assert net_1000.wait(10)  # the stream resumed after the commands, tare applied
    finally:
        stop.set()
        streaming.join(10)
    assert not streaming.is_alive()
    assert "T" in scale_emu.commands and scale_emu.commands.count("SIR") >= 2


def _raw_port(emu):
    from drivers.transports.serial_port import SerialTransport

    return SerialTransport(emu.port)


def test_scale_left_streaming_by_a_crashed_program_is_reset_first(scale_emu):
    # Issue 5: an earlier program sent SIR and died; the scale still streams.
    scale_emu.set_weight(500)
    crashed = _raw_port(scale_emu)
    crashed.write(b"SIR\r\n")
    assert b"S S" in crashed.read(1.0)
    crashed.close()
    scale_emu.set_weight(250)
    scale = open_scale(scale_emu.url)
    try:
        assert scale.read(stable=False).grams == 250
        assert scale_emu.commands == ["SIR", "@", "SI"]
        assert scale.transport.read(0.3) == b""  # the stream is over
    finally:
        scale.close()


def test_reset_returns_the_emulators_serial_number():
    from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator

    with MtSicsScaleEmulator(serial="B123456789") as emu:
        scale = open_scale(emu.url)
        try:
            assert scale.reset() == "B123456789"
            assert scale.read().grams == 0  # no second @: the scale is in a known state
        finally:
            scale.close()
        assert emu.commands == ["@", "S"]


def test_identify_through_noise_and_split_frames(scale_emu, scale):
    scale_emu.noise()
    scale_emu.split_frames()
    info = scale.identify()
    assert (info.model, info.capacity, info.software, info.serial) == (
        "EMU-SICS",
        "30000.0 g",
        "1.00",
        "EMU0000001",
    )
    assert info.capacity_grams == 30000.0
    assert {"I0", "I2", "I3", "I4", "S", "SIR", "@", "T"} <= set(info.commands)
    assert scale_emu.commands == ["@", "I0", "I2", "I3", "I4"]


def test_identify_while_streaming(scale_emu, scale):
    scale_emu.set_weight(300)
    stop, seen = threading.Event(), threading.Event()
    streaming = threading.Thread(
        target=scale.stream, args=(lambda w: seen.set(), stop.is_set), daemon=True
    )
    streaming.start()
    try:
        assert seen.wait(5)
        assert scale.identify().serial == "EMU0000001"
        seen.clear()
        assert seen.wait(5)  # and the stream went on
    finally:
        stop.set()
        streaming.join(5)
