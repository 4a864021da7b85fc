"""The benchmarks run and report their figures (``--json``: the last line is one JSON object).

Tiny sizes, and no timing thresholds: timing is what the benchmarks themselves are for
(``python -m bench.NAME``); this only checks that they work.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "scan": (
        ["--n", "5"],
        ["scan_p50_ms", "scan_p99_ms", "baseline_pty_p50_ms", "scan_p50_ratio"],
    ),
    "label": (
        ["--n", "2"],
        ["label_p50_ms", "label_p99_ms", "baseline_p50_ms", "label_p50_ratio"],
    ),
    "startup": (
        ["--n", "1"],
        ["startup_s", "peak_rss_mb", "baseline_python_s", "startup_ratio"],
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_reports_its_figures_as_json(name):
    args, keys = CASES[name]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "a readable summary comes before the JSON"
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    for key in keys:
        value = figures[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert value > 0 and math.isfinite(value), (key, value)
