"""What the benchmarks share: arguments, percentiles, the summary and its JSON, running a
program under a pseudo-terminal, and the station app instrumented for timing.

Figures are medians and p99 over many samples, and each benchmark measures a baseline in
the same run, so that a figure can be read as a ratio to it: the machines are shared and
noisy, and a ratio moves less with the noise than an absolute time does.

The app benchmarks (``bench.scan``, ``bench.label``) run the station app in a child
process whose terminal is a pty (:func:`run_worker`), so Textual runs with its real Linux
driver and every frame is turned into escape sequences and written, as at a station; the
parent only drains the pty and reads the child's samples from a file.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import pty
import queue
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERMINAL_SIZE = (160, 50)  # columns, rows: a station's full-screen terminal


class BenchError(RuntimeError):
    """The benchmark could not measure (a step never happened); the message says which."""


# -- figures --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Stats:
    """Order statistics of one series of samples (same unit as the samples)."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
            mean=statistics.fmean(values),
        )


def ms(seconds: Iterable[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


def ratio(a: float, b: float) -> float | None:
    """``a / b``, rounded; None when ``b`` is 0 (a baseline below the clock's grain)."""
    return round(a / b, 2) if b > 0 else None


@dataclass
class Report:
    """The readable summary, and the figures that ``--json`` prints as the last line."""

    title: str
    lines: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def table(self, rows: Sequence[tuple[str, Stats]], unit: str = "ms", digits: int = 2) -> None:
        self.lines.append(
            f"  {'':<40}{'n':>6}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'mean':>10}"
        )
        for name, st in rows:
            cells = "".join(f"{v:>10.{digits}f}" for v in (st.p50, st.p90, st.p99, st.max, st.mean))
            self.lines.append(f"  {name + ' (' + unit + ')':<40}{st.n:>6}{cells}")

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def target(self, what: str, value: float, limit: float, unit: str) -> bool:
        ok = value < limit
        verdict = "met" if ok else "MISSED"
        self.lines.append(f"  target {what} < {limit:g} {unit}: {value:.3g} {unit}, {verdict}")
        return ok

    def emit(self, as_json: bool) -> None:
        print(self.title)
        print("=" * len(self.title))
        for text in self.lines:
            print(text)
        if as_json:
            print(json.dumps(self.figures, sort_keys=True))
        sys.stdout.flush()


def rounded(value: float, digits: int = 3) -> float:
    return round(value, digits)


# -- arguments ------------------------------------------------------------------------------


def parser(module: str, description: str, n: int, n_help: str) -> argparse.ArgumentParser:
    """``--n``, ``--json`` and the hidden worker options every benchmark takes."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    p.add_argument("--n", type=int, default=n, help=f"{n_help} (default {n})")
    p.add_argument(
        "--json", action="store_true", help="end the output with one JSON object of the figures"
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile of the process under test (pstats format) to FILE",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the random pauses between samples")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p


# -- running a program under a pseudo-terminal --------------------------------------------


@dataclass
class PtyRun:
    returncode: int
    output: bytes
    wall_s: float  # from just before the spawn to the end of the pty (the child exited)
    marks: dict[bytes, float]  # marker -> seconds after the spawn it first appeared
    peak_rss_mb: float  # the child's VmHWM, read from /proc every ~10 ms while it ran

    def text_tail(self, chars: int = 3000) -> str:
        return strip_ansi(self.output.decode("utf-8", "replace"))[-chars:]


_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (kB), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_in_pty(
    argv: Sequence[str],
    *,
    size: tuple[int, int] = TERMINAL_SIZE,
    markers: Sequence[bytes] = (),
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    watch: Callable[[bytes, float], None] | None = None,
) -> PtyRun:
    """Run ``argv`` with a fresh pty as its terminal (stdin, stdout, stderr), draining it.

    The pty has ``size`` and ``TERM=xterm-256color``, so a Textual app runs as it does at a
    station. Nothing is typed into it. On ``timeout`` the child's process group is killed
    and BenchError raised. ``watch(data, perf_counter())`` sees the output as it is read.

    Peak memory is the kernel's high-water mark of the child (``VmHWM``), polled: the
    child's ``ru_maxrss`` is no use here, as Linux carries the parent's resident set over
    into it through fork/vfork and exec.
    """
    master, slave = pty.openpty()
    cols, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    child_env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    child_env.pop("TEXTUAL", None)  # no devtools console
    child_env.update(env or {})
    output = bytearray()
    marks: dict[bytes, float] = {}
    hwm_kb = 0
    status = None
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    end = t0
    try:
        deadline = t0 + timeout
        while True:
            hwm_kb = max(hwm_kb, _vm_hwm_kb(proc.pid))
            left = deadline - time.perf_counter()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
                proc.returncode = -9
                tail = strip_ansi(output.decode("utf-8", "replace"))[-2000:]
                raise BenchError(f"{' '.join(argv)} still running after {timeout:g} s:\n{tail}")
            ready, _, _ = select.select([master], [], [], min(left, 0.01))
            if ready:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # EIO: every slave end is closed, the child is gone
                    data = b""
                now = time.perf_counter()
                if not data:
                    end = now
                    break
                if watch is not None:
                    watch(data, now)
                start = max(0, len(output) - 64)
                output += data
                for marker in markers:
                    if marker not in marks and output.find(marker, start) >= 0:
                        marks[marker] = now - t0
            else:  # a grandchild may hold the pty open after the child exited
                pid, st = os.waitpid(proc.pid, os.WNOHANG)
                if pid:
                    end, status = time.perf_counter(), st
                    break
        if status is None:
            _, status = os.waitpid(proc.pid, 0)
    finally:
        os.close(master)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return PtyRun(
        returncode=proc.returncode,
        output=bytes(output),
        wall_s=end - t0,
        marks=marks,
        peak_rss_mb=hwm_kb / 1024.0,
    )


def run_worker(
    module: str,
    args: argparse.Namespace,
    timeout: float,
    watch: Callable[[bytes, float], None] | None = None,
) -> dict:
    """Run ``python -m module --worker`` under a pty; return the samples it wrote."""
    with tempfile.TemporaryDirectory(prefix="doms-bench-") as tmp:
        out = Path(tmp, "samples.json")
        argv = [sys.executable, "-m", module, "--worker", "--out", str(out)]
        argv += ["--n", str(args.n), "--seed", str(args.seed)]
        if args.profile:
            argv += ["--profile", str(Path(args.profile).resolve())]
        run = run_in_pty(argv, timeout=timeout, watch=watch)
        if not out.exists():
            raise BenchError(
                f"{module} worker exited with {run.returncode} and no samples:\n{run.text_tail()}"
            )
        data = json.loads(out.read_text())
    if "error" in data:
        raise BenchError(
            f"{module} worker failed:\n{data['error']}\n-- its terminal:\n{run.text_tail()}"
        )
    data["worker_peak_rss_mb"] = run.peak_rss_mb
    return data


def main_guard(run: Callable[[], None]) -> int:
    try:
        run()
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


# -- the station app, instrumented ----------------------------------------------------------


@dataclass
class ScanShown:
    """One scan's way through the app (``time.perf_counter()`` seconds)."""

    raw: str
    read_at: float  # the scanner driver's read returned with the suffix (Scan.at)
    handled_at: float  # handle_scan started on the UI thread
    done_at: float  # handle_scan returned: database committed, widgets updated
    shown_at: float  # after the next screen refresh: frame composed and written
    check: object = None  # what the benchmark's check returned, on the UI thread


def bench_app_class():
    """``StationApp`` with timing hooks (imported late: the parent process never needs it).

    * every scan is timed through handle_scan, and ``call_after_refresh`` after it puts a
      :class:`ScanShown` on ``shown`` once the screen has been refreshed;
    * ``readings`` gets ``(perf_counter(), Weight)`` for every scale reading, as the device
      thread hands it over (before the UI thread sees it);
    * ``queued`` gets ``perf_counter()`` each time the app wakes the printers for a new job.
    """
    from station.app import StationApp

    class BenchStationApp(StationApp):
        # Textual resolves a relative CSS_PATH against the subclass's own file
        CSS_PATH = str(
            Path(sys.modules[StationApp.__module__].__file__).parent / StationApp.CSS_PATH
        )

        def __init__(self, *a: Any, check: Callable[[Any], object] | None = None, **kw: Any):
            super().__init__(*a, **kw)
            self.mounted = threading.Event()
            self.shown: queue.SimpleQueue[ScanShown] = queue.SimpleQueue()
            self.readings: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
            self.queued: queue.SimpleQueue[float] = queue.SimpleQueue()
            self.check = check
            forward = self.hub.on_reading

            def on_reading(weight: Any) -> None:
                self.readings.put((time.perf_counter(), weight))
                forward(weight)

            self.hub.on_reading = on_reading
            self.devices_up: set[str] = set()
            status = self.hub.on_status

            def on_status(device: str, problem: str | None) -> None:
                (self.devices_up.add if problem is None else self.devices_up.discard)(device)
                status(device, problem)

            self.hub.on_status = on_status

        def on_mount(self) -> None:
            # Textual calls StationApp.on_mount as well (handlers run for every class in
            # the MRO), so no super() call here: that would start the devices twice.
            self.mounted.set()

        def handle_scan(self, scan: Any) -> None:
            handled = time.perf_counter()
            super().handle_scan(scan)
            done = time.perf_counter()
            self.call_after_refresh(self._shown, scan, handled, done)

        def _shown(self, scan: Any, handled: float, done: float) -> None:
            shown = time.perf_counter()
            try:
                check = self.check(self) if self.check is not None else None
            except Exception as exc:  # e.g. the badge scan, shown on the login screen
                check = repr(exc)
            self.shown.put(ScanShown(scan.raw, scan.at, handled, done, shown, check))

        def print_jobs_queued(self) -> None:
            self.queued.put(time.perf_counter())
            super().print_jobs_queued()

    return BenchStationApp


def drain(q: queue.SimpleQueue) -> None:
    with contextlib.suppress(queue.Empty):
        while True:
            q.get_nowait()


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.005)


def make_station(tmp: Path, orders: list, devices: Any) -> Any:
    """A station database with the test catalogue and ``orders``; its configuration.

    Packing settings are the station's defaults (they are part of what is measured).
    """
    from station.config import Login, StationConfig
    from tests.station.conftest import make_db

    config = StationConfig(
        database=str(tmp / "station.db"), devices=devices, login=Login(idle_lock_s=86400.0)
    )
    make_db(config.database, orders).close()
    return config


def log_in(app: Any, scanner: Any, badge: str = "B1001", timeout: float = 20.0) -> Any:
    """Scan ``badge`` at the login screen (through the scanner), wait for the pack screen."""
    from station.screens.login import LoginScreen
    from station.screens.pack import PackScreen

    wait_until(app.mounted.is_set, timeout, "the app to start")
    wait_until(lambda: isinstance(app.screen, LoginScreen), timeout, "the login screen")
    # The scanner thread reports itself up, then opens its port (pyserial flushes the
    # input as it opens it): give it a moment, and scan again if the badge got lost.
    wait_until(lambda: "scanner" in app.devices_up, timeout, "the scanner")
    for _ in range(5):
        time.sleep(0.2)
        scanner.scan(badge)
        with contextlib.suppress(BenchError):
            wait_until(lambda: isinstance(app.screen, PackScreen), 5.0, "the pack screen")
            break
    else:
        raise BenchError(f"badge {badge} did not log in")
    screen = app.screen
    wait_until(lambda: screen.ready and screen.order is not None, timeout, "an open order")
    # the badge scan(s) shown: wait until nothing more comes for half a second
    with contextlib.suppress(queue.Empty):
        while True:
            app.shown.get(timeout=0.5)
    return screen


def run_app_worker(
    args: argparse.Namespace,
    build: Callable[[Path], tuple[Any, contextlib.AbstractContextManager]],
    drive: Callable[[Any], dict],
) -> None:
    """The worker side of :func:`run_worker`: run the app at this (pty) terminal.

    ``build(tmp)`` returns the app and a context manager holding its emulators;
    ``drive(app)`` runs on a thread of its own while the app runs and returns the samples,
    written as JSON to ``--out``; then the app exits. Any failure is written there instead.
    """
    with tempfile.TemporaryDirectory(prefix="doms-bench-") as tmp:
        result: dict = {}
        try:
            app, emulators = build(Path(tmp))
        except Exception:
            result = {"error": traceback.format_exc()}
            Path(args.out).write_text(json.dumps(result))
            return
        with emulators:

            def driver() -> None:
                nonlocal result
                try:
                    result = drive(app)
                except BaseException:
                    result = {"error": traceback.format_exc()}
                finally:
                    with contextlib.suppress(Exception):
                        app.call_from_thread(app.exit)

            thread = threading.Thread(target=driver, name="bench-driver", daemon=True)
            thread.start()
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            try:
                app.run()
            except Exception:
                result = {"error": traceback.format_exc()}
            finally:
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
            thread.join(timeout=10)
            if not result:
                result = {"error": "the app stopped before the benchmark finished"}
        Path(args.out).write_text(json.dumps(result))
