"""Typed fault controls of `doms emulate ...` (issue 5): the CLI runs as a subprocess, the
test types into its stdin and checks the device's state over the wire with the drivers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drivers.base import PrinterState, SlipDocument, SlipLine
from drivers.emulators.controls import LABEL_PRINTER, SCALE, SERIAL_SLIP_PRINTER, Console
from drivers.emulators.escpos_serial import SerialEscposPrinterEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from drivers.errors import DeliveryFailed, DeviceUnreachable, ScaleError
from drivers.urls import SCALE_PROTOCOLS, open_label_printer, open_scale, open_slip_printer

ROOT = Path(__file__).resolve().parents[2]
DOC = SlipDocument([SlipLine("Order ORD-5")], barcode="ORD-5")


class Emulator:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.url = proc.stdout.readline().strip()

    def type(self, line: str) -> str:
        """Type ``line``; return what the emulator said it did (waits for it)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()


@contextmanager
def emulate(*args: str) -> Iterator[Emulator]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "doms", "emulate", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield Emulator(proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_label_printer_faults_typed_show_in_its_status():
    with emulate("label-printer") as emu:
        printer = open_label_printer(emu.url)
        try:
            assert emu.type("paper-out") == "paper-out: on"
            assert PrinterState.PAPER_OUT in printer.status().conditions
            assert emu.type("cutter") == "cutter: on"
            assert "cutter" in printer.status().detail
            assert emu.type("ok") == "ok: every fault cleared"
            assert printer.status().ready
            assert emu.type("offline").startswith("offline: connections refused")
            assert printer.status().conditions == (PrinterState.UNREACHABLE,)
            emu.type("online")
            assert printer.status().ready
        finally:
            printer.close()


def test_slip_printer_cover_open_then_ok():
    with emulate("slip-printer") as emu:
        printer = open_slip_printer(emu.url)
        try:
            assert emu.type("cover-open") == "cover-open: on"
            assert PrinterState.COVER_OPEN in printer.status().conditions
            emu.type("ok")
            assert printer.status().ready
        finally:
            printer.close()


def test_scale_motion_hang_and_ok():
    with emulate("scale", "--protocol", "nci", "--weight", "500") as emu:
        scale = open_scale(emu.url)
        try:
            assert emu.type("motion") == "motion: on"
            assert not scale.read(stable=False, timeout=1).stable
            assert emu.type("hang").startswith("hang: connected but not answering")
            with pytest.raises(DeviceUnreachable):
                scale.read(timeout=0.3)
            emu.type("ok")
            weight = scale.read(timeout=2)
            assert weight.stable and weight.grams == pytest.approx(500, abs=2.5)
        finally:
            scale.close()


def test_hid_scale_overload_by_the_same_word_and_cleared_by_ok():
    with emulate("scale", "--protocol", "hid", "--weight", "250") as emu:
        scale = open_scale(emu.url)
        try:
            assert emu.type("o") == "overload: on"
            with pytest.raises(ScaleError) as info:
                scale.read(timeout=1)
            assert info.value.condition == "overload"
            assert emu.type("ok") == "ok: every fault cleared"
            assert scale.read(timeout=2).grams == 250
        finally:
            scale.close()


def test_help_lists_only_what_the_emulator_supports():
    with NciScaleEmulator() as emu:
        console = Console(emu, SCALE)
        text = console.handle("help")[1]
    assert "fault NAME" in text and "motion" in text and "slow SECONDS" in text
    assert "bad-bcc" not in text  # a CAS fault: the NCI emulator has none


def test_mistakes_are_reported_not_raised():
    with ZplPrinterEmulator() as emu:
        console = Console(emu, LABEL_PRINTER)
        assert console.handle("slow soon") == (
            False,
            "slow: give seconds, not 'soon' (usage: slow SECONDS)",
        )
        assert console.handle("paper-out maybe")[0] is False
        assert console.handle("jam")[1].startswith("unknown command 'jam'")
        assert console.handle("slow 0.5") == (True, "slow: answers 0.5 s late")
        assert console.handle("silent")[0] and emu.host_status().head_open


@pytest.mark.parametrize("protocol", [*SCALE_PROTOCOLS, "hid"])
def test_every_scale_fault_is_reachable_from_doms_emulate(protocol):
    # The faults, typed into `doms emulate scale`, each seen through the driver.
    unit = [] if protocol == "hid" else ["--unit", "kg"]
    with emulate("scale", "--protocol", protocol, "--weight", "500", *unit) as emu:
        scale = open_scale(emu.url)
        try:
            assert emu.type("overload") == "overload: on"
            with pytest.raises(ScaleError) as info:
                scale.read(timeout=1)
            assert info.value.condition == "overload"
            emu.type("ok")
            assert emu.type("motion") == "motion: on"
            with pytest.raises(ScaleError) as info:
                scale.read(timeout=0.6)
            assert info.value.condition == "unstable"
            emu.type("ok")
            # Read past the reports queued in motion: a HID scale streams, and one of them
            # left unread would be the last word of a scale that then hangs.
            assert scale.read(timeout=3).grams == pytest.approx(500, abs=2.5)
            if protocol != "hid":  # a USB report cannot be garbled or late on its way
                assert emu.type("noise") == "noise: on"
                assert emu.type("split") == "split: on"
                assert emu.type("slow 0.3") == "slow: answers 0.3 s late"
                assert scale.read(timeout=3).grams == pytest.approx(500, abs=2.5)
            assert emu.type("hang").startswith("hang: connected but not answering")
            with pytest.raises(DeviceUnreachable):
                scale.read(timeout=0.5)
            assert emu.type("ok") == "ok: every fault cleared"
            assert scale.read(timeout=3).grams == pytest.approx(500, abs=2.5)
        finally:
            scale.close()


def test_slip_printer_wire_faults_typed_reach_the_driver():
    with emulate("slip-printer") as emu:
        printer = open_slip_printer(emu.url)
        printer.status_timeout = 0.3
        try:
            assert printer.status().ready
            assert emu.type("slow 1") == "slow: answers 1 s late"
            assert printer.status().conditions == (PrinterState.NOT_ANSWERING,)
            assert emu.type("slow 0.1") == "slow: answers 0.1 s late"
            assert emu.type("noise") == "noise: on"
            assert emu.type("paper-out") == "paper-out: on"
            assert printer.status().conditions == (PrinterState.PAPER_OUT,)
            emu.type("ok")
            assert emu.type("drop").startswith("drop: the next job's connection is reset")
            with pytest.raises(DeliveryFailed):
                printer.print_document(DOC)
            assert emu.type("drop-status").startswith("drop-status: the next status query")
            assert printer.status().conditions == (PrinterState.UNREACHABLE,)
            printer.print_document(DOC)
        finally:
            printer.close()


def test_label_printer_noise_and_dropped_status_answer():
    with ZplPrinterEmulator() as emu:
        console = Console(emu, LABEL_PRINTER)
        printer = open_label_printer(emu.url)
        try:
            assert console.handle("noise") == (True, "noise: on")
            console.handle("paper-out")
            assert PrinterState.PAPER_OUT in printer.status().conditions
            console.handle("ok")
            assert printer.status().ready
            console.handle("drop-status")
            assert printer.status().conditions == (PrinterState.UNREACHABLE,)
            assert emu.hangups == 1
        finally:
            printer.close()


def test_serial_slip_printer_from_doms_emulate_answers_over_its_pty():
    with emulate("slip-printer", "--serial", "--baud", "19200") as emu:
        assert emu.url.startswith("escpos+serial:///dev/pts/") and emu.url.endswith("baud=19200")
        assert "pty /dev/pts/" in emu.proc.stderr.readline()
        printer = open_slip_printer(emu.url)
        printer.status_timeout = 0.3
        try:
            assert printer.status().ready
            assert emu.type("near-end") == "near-end: on"
            assert "nearly" in printer.status().detail
            assert emu.type("cover-open") == "cover-open: on"
            assert PrinterState.COVER_OPEN in printer.status().conditions
            assert emu.type("unplug").startswith("unplugged: what is sent is lost")
            assert printer.status().conditions == (PrinterState.NOT_ANSWERING,)
            assert emu.type("ok") == "ok: every fault cleared"
            assert printer.status().ready
            printer.print_document(DOC)  # confirmed by GS r 1 over the line
            assert printer.answers_gs_r is True
        finally:
            printer.close()


def test_serial_slip_printer_offers_no_connection_faults():
    with SerialEscposPrinterEmulator() as emu:
        console = Console(emu, SERIAL_SLIP_PRINTER)
        assert console.handle("drop")[0] is False  # a serial line has no connection to reset
        assert "drop-status" not in console.help() and "plug" in console.help()
        assert console.handle("online") == (True, "plugged in: reading and answering again")
