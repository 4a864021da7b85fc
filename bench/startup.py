"""Cold start of ``doms station`` to its first screen, and its peak memory.

    python -m bench.startup [--n 10] [--no-devices] [--json]

What is measured, per run: a new process ``python -m doms station --config FILE
--exit-after-first-screen`` is spawned with a fresh pseudo-terminal (160x50,
``TERM=xterm-256color``) as its terminal, so Textual runs with its real driver.

* ``startup_s``: from just before the spawn to the moment the login screen's text
  ("Scan your badge") has come out of the pty, i.e. the first screen drawn. Median of the
  runs; ``startup_p99_s`` and ``startup_max_s`` too (with 10 runs p99 is near the max).
* ``startup_exit_s``: to the end of the process (the flag exits after the first refresh;
  this adds Textual's and the device threads' shut-down).
* ``peak_rss_mb``: the largest peak resident set of the station process over the runs:
  its ``VmHWM`` (the kernel's high-water mark), read from ``/proc`` every ~10 ms while it
  runs, so growth in its last few ms could be missed. (``getrusage``'s ``ru_maxrss`` is
  not used: Linux carries the parent's resident set over into a child's through
  fork/vfork and exec, and this parent holds the emulators.)
* Baseline, in the same run and interleaved with it: ``python -c pass`` spawned the same
  way (``baseline_python_s``); ``startup_ratio`` is ``startup_s`` over it.

The configuration is a real station's: a database with the test catalogue and a few
orders, and every device configured (MT-SICS scale and serial scanner on ptys, ZPL and
ESC/POS printers on TCP), emulated by this process, so that the station opens its drivers
(pyserial, python-escpos, zebra) as it would at a bench; ``--no-devices`` leaves them out.
"Cold" means a new process: the OS page cache and the ``.pyc`` files are warm, and one
untimed run of each command comes first to make sure of that (a station after a reboot is
slower than this).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from bench.common import BenchError, Report, Stats, main_guard, parser, ratio, rounded, run_in_pty

MARKER = b"Scan your badge"  # the login screen's prompt
TARGET_S = 1.0
TARGET_RSS_MB = 150.0


def _config(tmp: Path, devices: bool, stack: contextlib.ExitStack) -> Path:
    from station.config import Devices
    from tests.station.conftest import make_db

    db = tmp / "station.db"
    make_db(db).close()
    lines = [f'database = "{db}"', "[devices]"]
    if devices:
        from drivers.emulators.escpos_printer import EscposPrinterEmulator
        from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
        from drivers.emulators.serial_scanner import SerialScannerEmulator
        from drivers.emulators.zpl_printer import ZplPrinterEmulator

        urls = Devices(
            scale=stack.enter_context(MtSicsScaleEmulator()).url,
            scanner=stack.enter_context(SerialScannerEmulator()).url,
            label_printer=stack.enter_context(ZplPrinterEmulator()).url,
            slip_printer=stack.enter_context(EscposPrinterEmulator()).url,
        )
        for name in ("scale", "scanner", "label_printer", "slip_printer"):
            lines.append(f'{name} = "{getattr(urls, name)}"')
    path = tmp / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(n: int, devices: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="doms-bench-") as tmp, contextlib.ExitStack() as st:
        config = _config(Path(tmp), devices, st)
        station = [sys.executable, "-m", "doms", "station", "--config", str(config)]
        station.append("--exit-after-first-screen")
        baseline = [sys.executable, "-c", "pass"]
        first, exits, rss, base, base_rss = [], [], [], [], []
        for i in range(n + 1):  # run 0 warms the caches and is not counted
            b = run_in_pty(baseline, timeout=30)
            s = run_in_pty(station, markers=[MARKER], timeout=30)
            if s.returncode != 0 or MARKER not in s.marks:
                why = f"exited with {s.returncode} before" if s.returncode else "never drew"
                raise BenchError(
                    f"doms station {why} the login screen ({MARKER.decode()!r}):\n" + s.text_tail()
                )
            if i == 0:
                continue
            first.append(s.marks[MARKER])
            exits.append(s.wall_s)
            rss.append(s.peak_rss_mb)
            base.append(b.wall_s)
            base_rss.append(b.peak_rss_mb)
    return {"first": first, "exit": exits, "rss": rss, "base": base, "base_rss": base_rss}


def report(samples: dict, devices: bool) -> Report:
    first, exits = Stats.of(samples["first"]), Stats.of(samples["exit"])
    rss, base = Stats.of(samples["rss"]), Stats.of(samples["base"])
    base_rss = Stats.of(samples["base_rss"])
    rep = Report(f"doms station cold start to first screen ({first.n} runs)")
    rep.line(
        "devices: " + ("emulated scale, scanner, ZPL and ESC/POS printers" if devices else "none")
    )
    rep.table(
        [
            ("first screen drawn", first),
            ("process exit", exits),
            ("baseline: python -c pass", base),
        ],
        unit="s",
        digits=3,
    )
    rep.table([("peak RSS station", rss), ("peak RSS python -c pass", base_rss)], "MB", 1)
    r = ratio(first.p50, base.p50)
    rep.line(f"  first screen / python -c pass (medians): {r}x")
    rep.target("first screen, median", first.p50, TARGET_S, "s")
    rep.target("peak RSS, max", rss.max, TARGET_RSS_MB, "MB")
    rep.figures = {
        "startup_s": rounded(first.p50, 4),
        "startup_p99_s": rounded(first.p99, 4),
        "startup_max_s": rounded(first.max, 4),
        "startup_exit_s": rounded(exits.p50, 4),
        "peak_rss_mb": rounded(rss.max, 1),
        "peak_rss_p50_mb": rounded(rss.p50, 1),
        "baseline_python_s": rounded(base.p50, 4),
        "baseline_python_rss_mb": rounded(base_rss.max, 1),
        "startup_ratio": r,
        "runs": first.n,
        "devices": devices,
    }
    return rep


def main(argv: list[str] | None = None) -> int:
    p = parser("bench.startup", "Cold start of doms station to first screen.", 10, "timed runs")
    p.add_argument("--no-devices", action="store_true", help="configure no devices")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    if args.profile:
        p.error("--profile: use python -X importtime -m doms station --exit-after-first-screen")

    def run() -> None:
        samples = measure(args.n, not args.no_devices)
        report(samples, not args.no_devices).emit(args.json)

    return main_guard(run)


if __name__ == "__main__":
    sys.exit(main())
