"""Auto-detection: drivers.probe against each scale emulator over a real pty."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.emulators.cas_scale import CasScaleEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.nci_scale import NciScaleEmulator
from drivers.emulators.toledo_scale import ToledoScaleEmulator
from drivers.probe import probe
from drivers.urls import open_scale

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("emulator", "protocol", "settings", "evidence"),
    [
        (ToledoScaleEmulator, "toledo-8217", "9600 7E1", "echo test"),
        (NciScaleEmulator, "nci", "9600 7E1", "answered"),
        (CasScaleEmulator, "cas", "9600 8N1", "checked frame"),
        (
            MtSicsScaleEmulator,
            "mt-sics",
            "9600 8N1",
            "answered I4: EMU-SICS (capacity 30000.0 g), serial EMU0000001, software 1.00",
        ),
    ],
)
def test_each_protocol_is_found_and_its_url_works(emulator, protocol, settings, evidence):
    with emulator(weight=500.0) as emu:
        report = probe(emu.port, timeout=0.15)
        found = report.found
        assert found is not None, report.attempts
        assert (found.protocol, found.settings) == (protocol, settings)
        assert evidence in found.detail
        # Linux ptys refuse a second 7E1 open (see serial_scale.py): read the weight at 8N1.
        scale = open_scale(report.url.replace("bytesize=7&parity=E", "bytesize=8&parity=N"))
        try:
            assert scale.read(timeout=3).grams == pytest.approx(500.0, abs=2.5)
        finally:
            scale.close()


def test_probes_send_only_harmless_commands():
    with MtSicsScaleEmulator(weight=100.0) as emu:
        report = probe(emu.port, timeout=0.15)
        assert report.found.protocol == "mt-sics"
        assert [a.protocol for a in report.attempts] == [
            "toledo-8217", "nci", "cas-stream", "cas", "mt-sics"
        ]  # fmt: skip
        # Toledo's letters and NCI's W/S end up as MT-SICS lines; none zeroes or tares.
        assert not {"Z", "T", "@"} & set(emu.commands)
    with ToledoScaleEmulator() as emu:
        probe(emu.port, timeout=0.15)
        assert not emu.echoing  # the echo test was ended with F
        assert b"".join(emu.received) == b"EhelloF"


def test_nothing_answering_is_reported_not_raised():
    with NciScaleEmulator() as emu:
        emu.stop_answering()
        report = probe(emu.port, timeout=0.1)
    assert report.found is None and report.url is None
    assert [a.detail for a in report.attempts] == ["no answer"] * 5


def test_missing_port_is_reported():
    report = probe("/dev/does-not-exist", timeout=0.1)
    assert report.found is None
    assert report.attempts[0].detail.startswith("error: Cannot open")


def test_cli_probe_json():
    with CasScaleEmulator(weight=250.0) as emu:
        done = subprocess.run(
            [sys.executable, "-m", "doms", "devices", "probe", emu.port, "--json",
             "--timeout", "0.2"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["protocol"], out["settings"]) == ("cas", "9600 8N1")
    assert (
        out["url"] == f"serial://{emu.port}?protocol=cas&baud=9600&bytesize=8&parity=N&stopbits=1"
    )


def test_cli_probe_nothing_found_exits_1():
    done = subprocess.run(
        [sys.executable, "-m", "doms", "devices", "probe", "/dev/does-not-exist"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1 and "No scale answered" in done.stderr
