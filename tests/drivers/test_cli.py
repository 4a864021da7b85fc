"""`doms devices` and `doms emulate`: real subprocesses against emulators."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers import cli

ROOT = Path(__file__).resolve().parents[2]


def doms(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doms", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_read_scale_prints_json(scale_emu):
    scale_emu.set_weight(1234.5)
    done = doms("devices", "read-scale", scale_emu.url, "--timeout", "10")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"grams": 1234.5, "stable": True}


def test_read_scale_overload_is_one_plain_line(scale_emu):
    scale_emu.overload()
    done = doms("devices", "read-scale", scale_emu.url)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "Scale overloaded: take the parcel off and weigh it again.\n"


def test_read_scale_not_answering(scale_emu):
    scale_emu.stop_answering()
    done = doms("devices", "read-scale", scale_emu.url, "--timeout", "0.3")
    assert done.returncode == 1
    assert done.stderr.startswith("Scale not answering") and done.stderr.count("\n") == 1


def test_read_scale_bad_url():
    done = doms("devices", "read-scale", "bogus://x")
    assert done.returncode == 1 and "unknown scheme 'bogus'" in done.stderr


def test_emulate_label_printer_prints_its_url_and_serves():
    proc = subprocess.Popen(
        [sys.executable, "-m", "doms", "emulate", "label-printer"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("tcp://127.0.0.1:")
        from drivers.urls import open_label_printer

        assert open_label_printer(url).status().ready
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*prefix, name), helps.get(name), sub
                yield from _commands(sub, (*prefix, name))


def test_every_command_has_help_text():
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    found = list(_commands(parser))
    assert {c for c, _, _ in found} >= {
        ("devices",),
        ("devices", "read-scale"),
        ("emulate",),
        ("emulate", "scale"),
        ("emulate", "label-printer"),
        ("emulate", "slip-printer"),
        ("emulate", "scanner"),
    }
    for command, text, sub in found:
        assert text, f"doms {' '.join(command)} has no help text"
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue  # its choices are checked as commands
            assert action.help, f"doms {' '.join(command)} {action.dest} has no help text"


@pytest.mark.skipif(os.name != "posix", reason="pty emulators are POSIX only")
def test_doms_help_lists_device_commands():
    done = doms("--help")
    assert done.returncode == 0 and "devices" in done.stdout and "emulate" in done.stdout
