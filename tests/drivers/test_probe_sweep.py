"""Probe baud sweep (issue 5): emulators set to another rate, over real ptys.

A pty carries bytes at any speed, but the speed the driver set is visible on the master
side, so an emulator with ``baud=2400`` answers only a port opened at 2400 (and sends a
little garbage otherwise, as a real line at the wrong rate does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.errors import BadFrame
from drivers.probe import SWEEP_BAUDS, plan, probe, worst_case_seconds
from drivers.urls import open_scale

ROOT = Path(__file__).resolve().parents[2]


def test_plan_tries_every_usual_setting_first_then_rate_by_rate():
    tried = [(p.name, p.settings()) for p in plan(bauds=(9600, 4800, 2400))]
    assert tried[:5] == [
        ("toledo-8217", "9600 7E1"),
        ("nci", "9600 7E1"),
        ("cas-stream", "9600 8N1"),
        ("cas", "9600 8N1"),
        ("mt-sics", "9600 8N1"),
    ]
    assert [s for _, s in tried[5:10]] == [
        "4800 7E1",
        "4800 7E1",
        "4800 8N1",
        "4800 8N1",
        "4800 8N1",
    ]
    assert len(tried) == 15  # 9600 is nobody's "other" rate: not tried twice


def test_emulator_at_another_rate_sends_garbage_not_answers():
    with NciScaleEmulator(weight=500.0, baud=2400) as emu:
        scale = open_scale(emu.url.replace("baud=2400", "baud=9600"))
        try:
            with pytest.raises(BadFrame, match="serial settings"):
                scale.read(timeout=0.3)
        finally:
            scale.close()
        assert emu.misheard > 0


def test_sweep_finds_a_scale_at_another_rate_and_its_url_reads():
    with NciScaleEmulator(weight=500.0, baud=4800) as emu:
        report = probe(emu.port, timeout=0.1, bauds=SWEEP_BAUDS)
        assert (report.found.protocol, report.found.settings) == ("nci", "4800 7E1")
        assert len(report.attempts) == 7  # 5 at 9600, Toledo and NCI at 4800: then stop
        assert "another baud rate" in report.attempts[1].detail  # NCI at 9600: garbage
        # Linux ptys refuse a second 7E1 open at the same speed (see serial_scale.py).
        scale = open_scale(report.url.replace("bytesize=7&parity=E", "bytesize=8&parity=N"))
        try:
            assert scale.read(timeout=2).grams == pytest.approx(500.0, abs=2.5)
        finally:
            scale.close()


def test_silent_sweep_stays_within_its_stated_time():
    with MtSicsScaleEmulator() as emu:
        emu.stop_answering()
        report = probe(emu.port, timeout=0.05, bauds=(4800,))
    assert report.found is None and len(report.attempts) == 10
    assert all(a.detail == "no answer" for a in report.attempts)
    # Opening a pty is quick; a real USB adapter adds tens of ms per setting.
    assert report.seconds <= worst_case_seconds(0.05, bauds=(4800,)) + 0.5


def test_a_port_that_cannot_be_opened_is_not_swept():
    report = probe("/dev/does-not-exist", timeout=0.1, bauds=SWEEP_BAUDS)
    assert len(report.attempts) == 5
    assert all(a.detail.startswith("error: Cannot open") for a in report.attempts)


def test_cli_sweep_is_the_default_and_names_the_rate():
    with MtSicsScaleEmulator(weight=250.0, baud=2400) as emu:
        done = subprocess.run(
            [sys.executable, "-m", "doms", "devices", "probe", emu.port, "--json",
             "--timeout", "0.1", "--bauds", "9600,2400"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["protocol"], out["settings"]) == ("mt-sics", "2400 8N1")
    assert "baud=2400" in out["url"] and out["seconds"] < 5
    assert "up to" in done.stderr  # the worst case is announced before it starts


def test_cli_no_sweep_tries_usual_settings_only():
    with MtSicsScaleEmulator(baud=2400) as emu:
        done = subprocess.run(
            [sys.executable, "-m", "doms", "devices", "probe", emu.port, "--no-sweep",
             "--timeout", "0.05"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 1
    assert "tried 5 settings" in done.stderr and "at 9600 baud" in done.stderr
