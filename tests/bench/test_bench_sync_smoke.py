"""``python -m bench.sync --json`` runs end to end at tiny sizes and reports its figures.

No timing thresholds: timing is what the benchmark itself is for; this only checks that
every part (end to end, ingest, catch-up, encoding) runs and says something sensible.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--n", "20", "--tick-n", "3", "--stations", "3", "--ingest-n", "300", "--catchup-n", "300",
]  # fmt: skip
POSITIVE = [
    # end to end as shipped, its parts, without wake(), and the same-run baselines
    "e2e_p50_ms", "e2e_p99_ms", "e2e_commit_p50_ms", "e2e_apply_p99_ms", "e2e_back_p50_ms",
    "e2e_tick_p50_ms", "baseline_qos1_p50_ms", "baseline_qos1_p99_ms",
    "baseline_commit_p50_ms", "e2e_p50_ratio", "e2e_p99_ratio",
    # hub ingest, and its baselines
    "ingest_events_per_s", "ingest_events", "baseline_transport_events_per_s",
    "apply_only_events_per_s",
    # catch-up
    "catchup_100k_s", "catchup_events_per_s",
    # encoding
    "batch_bytes_msgpack", "batch_bytes_json", "batch_bytes_ratio",
    "batch_codec_us_msgpack", "batch_codec_us_json", "live_batch_bytes_msgpack",
]  # fmt: skip
VERDICTS = ["target_e2e_p99_met", "target_ingest_met", "target_catchup_met"]


@pytest.mark.timeout(90)
def test_sync_benchmark_reports_its_figures_as_json():
    done = subprocess.run(
        [sys.executable, "-m", "bench.sync", *TINY, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=85,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "a readable summary comes before the JSON"
    figures = json.loads(lines[-1])
    for key in POSITIVE:
        value = figures[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert value > 0 and math.isfinite(value), (key, value)
    for key in VERDICTS:
        assert isinstance(figures[key], bool), (key, figures[key])
    assert figures["ingest_stations"] == 3 and figures["catchup_events"] == 300
