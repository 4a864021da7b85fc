#!/usr/bin/env python3
"""One entry point for a fresh machine: `python3 run.py demo` or `python3 run.py test`.

Creates `.venv` beside this file on first use, installs doms into it (editable, with the
test extras), then runs the demo or the test suite inside it. Needs only Python >= 3.11.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".doms-installed"


def _ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py must explain, not crash, on old Pythons
        sys.exit(f"doms needs Python >= 3.11; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Reinstall only when pyproject.toml changed, so the second run starts at once.
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("installing doms and its dependencies into .venv ...", flush=True)
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"])
        STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "doms", "bench"}:
        print(__doc__)
        print("usage: python3 run.py demo | test [pytest args] | doms ARGS | bench NAME [ARGS]")
        return 2
    _ensure_venv()
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        args = [str(BIN / "doms"), "demo", *rest]
    elif cmd == "doms":
        args = [str(BIN / "doms"), *rest]
    elif cmd == "bench":
        args = [str(PY), "-m", f"bench.{rest[0]}", *rest[1:]]
    else:
        args = [str(PY), "-m", "pytest", *rest]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(args[0], args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
