"""``python -m bench.routing`` runs on a tiny stream and reports its figures as JSON (the
last line), and ``--dump`` writes the instance. No timing thresholds: see test_bench_smoke."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("closest", "min_splits", "cost_optimal", "lookahead_transport", "lookahead")


def run_bench(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.routing", *args, "--json"],
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
    return figures


def number(figures: dict, key: str) -> float:
    value = figures[key]
    assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
    assert math.isfinite(value), (key, value)
    return value


@pytest.mark.timeout(60)
def test_metro_run_reports_every_figure_and_dumps_the_instance(tmp_path):
    out = tmp_path / "instance"
    figures = run_bench(
        "--orders", "80", "--seed", "3", "--throughput-orders", "20",
        "--bound-seconds", "0.5", "--mip-seconds", "5", "--dump", str(out),
    )  # fmt: skip
    assert figures["seed"] == 3 and figures["variant"] == "metro" and figures["orders"] == 80
    assert figures["instance"]["sites"] == 10 and figures["instance"]["skus"] == 100
    assert figures["instance"]["demand_points"] == 99
    bound = number(figures, "hindsight_bound")
    assert figures["hindsight_bound_kind"] in ("lp", "lagrangian", "mip", "mip_optimal")
    assert number(figures, "hindsight_lp_bound") <= bound + 1e-6
    for name in POLICIES:
        assert number(figures, f"{name}_total_cost") >= bound - 1e-6, name
        assert number(figures, f"{name}_shipments_per_order") > 0, name
        number(figures, f"{name}_unfilled_items")
    number(figures, "gap_closed_fraction")
    number(figures, "gap_closed_fraction_transport")
    if figures["engine_used"]:
        for key in ("rules_orders_per_s", "cost_optimal_orders_per_s"):
            assert number(figures, key) > 0, key
        assert number(figures, "myopic_engine_agreement") > 0.9
    # the dump: the exact instance the figures came from
    names = {p.name for p in out.iterdir()}
    assert {"instance.json", "sites.csv", "demand_points.csv", "skus.csv", "inventory.csv",
            "orders.csv", "order_lines.csv"} <= names  # fmt: skip
    meta = json.loads((out / "instance.json").read_text())
    assert meta["cost_model"]["fixed"] == 8.759 and meta["params"]["seed"] == 3
    with (out / "orders.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 80
    with (out / "order_lines.csv").open() as f:
        assert len(list(csv.DictReader(f))) == figures["instance"]["items"]


@pytest.mark.timeout(60)
def test_zip_variant_runs():
    figures = run_bench(
        "--orders", "40", "--variant", "zip", "--throughput-orders", "0",
        "--bound-seconds", "0",
    )  # fmt: skip
    assert figures["variant"] == "zip"
    assert figures["instance"]["demand_points"] > 1000
    assert figures["instance"]["regions"] == 99
    for name in POLICIES:
        assert number(figures, f"{name}_total_cost") >= number(figures, "hindsight_bound") - 1e-6
