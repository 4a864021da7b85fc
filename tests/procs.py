"""Child processes that speak one JSON object per stdout line, for the crash and
end-to-end tests: start one, wait for what it says, kill it at any moment.

A line cut short by a kill is dropped: what the child did not finish saying it never
confirmed. stderr goes to a temporary file, shown when something goes wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WAIT = 120.0  # generous: a loaded 2-core machine (CI saw 45 s run out)


class Child:
    """``python -m MODULE ARGS``; ``lines`` keeps the complete lines it printed.

    ``stdin=True`` keeps a pipe to the child open, for children that wait for ``go``."""

    def __init__(self, module: str, *args: str, stdin: bool = False) -> None:
        self.module = module
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.lines: list[dict] = []
        self._cond = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.proc.stdout:
                if not raw.endswith(b"\n"):
                    break  # cut short by the kill: never confirmed
                with self._cond:
                    self.lines.append(json.loads(raw))
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    # -- what it said ---------------------------------------------------------------------
    def wait(self, predicate: Callable[[list[dict]], Any], timeout: float = WAIT, what: str = ""):
        """Wait until ``predicate(lines)`` is truthy; return it. AssertionError (with the
        child's stderr) on timeout or when the child ends first."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.lines)
                if value:
                    return value
                left = end - time.monotonic()
                if self._ended or left <= 0:
                    why = "ended" if self._ended else f"timed out after {timeout:g} s"
                    raise AssertionError(
                        f"{self.module} {why} waiting for {what or predicate}; "
                        f"last lines {self.lines[-3:]}; stderr:\n{self.stderr_tail()}"
                    )
                self._cond.wait(min(left, 0.1))

    def wait_line(self, call: str | None = None, timeout: float = WAIT) -> bool:
        """Wait until it printed a ``call`` line (any line when None); False if it never
        did (it ended, or the time ran out)."""

        def seen() -> bool:
            return any(call is None or line.get("call") == call for line in self.lines)

        with self._cond:
            self._cond.wait_for(lambda: seen() or self._ended, timeout)
            return seen()

    def last(self, call: str) -> dict | None:
        with self._cond:
            return next((x for x in reversed(self.lines) if x.get("call") == call), None)

    def confirmed(self) -> list[tuple[int, str, str]]:
        """Every (seq, event id, type) the child confirmed."""
        with self._cond:
            return [tuple(e) for x in self.lines for e in x.get("ev", ())]

    def stderr_tail(self, chars: int = 4000) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-chars:]

    # -- its life -------------------------------------------------------------------------
    def go(self, timeout: float = WAIT) -> None:
        """Let a child that printed ``waiting`` go on (it reads ``go`` on stdin)."""
        assert self.wait_line("waiting", timeout), (
            f"{self.module} never got ready:\n{self.stderr_tail()}"
        )
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig``; for SIGKILL/SIGTERM also wait for the end and the last line."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(30)
            self._reader.join(10)

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the process to end and every line it printed to be read; its exit
        code. Killed if it does not end within ``timeout``."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.proc.wait(timeout)
        self._reader.join(timeout)
        assert not self._reader.is_alive(), "child's stdout still open after it ended"
        return rc

    def close(self) -> None:
        """Never leave a child behind, whatever happened."""
        if self.proc.poll() is None:
            self.kill(signal.SIGKILL)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None and not f.closed:
                with contextlib.suppress(OSError):
                    f.close()
        self.stderr.close()
