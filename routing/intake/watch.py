"""A watched folder: order files dropped into it are imported, then moved out of the way.

Each regular file directly in the folder is imported in one transaction, then moved to
``done/`` (imported, held or duplicate: all stored) or to ``failed/`` beside a
``<name>.reason`` text file saying why (nothing of it was stored). A file whose name
starts with ``.`` or ends with ``.tmp``/``.part``, or that changed in the last
``settle`` seconds, is left for the next scan: a copy still being written is never read
half way (or write it under a temporary name and rename it when done). A name already in
``done/`` or ``failed/`` gets a time stamp, so nothing is overwritten.

The folder is polled (one directory listing per interval), not watched with inotify:
drop folders often live on network shares, where file events do not arrive, and a poll
also finds files that arrived while the hub was down.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

import msgspec
import sqlite_utils

from routing.intake.model import IntakeError
from routing.intake.orders import Report, import_bytes

log = logging.getLogger(__name__)

_PARTIAL = (".tmp", ".part", ".partial", ".crdownload", ".reason")


class Outcome(msgspec.Struct, frozen=True):
    """One file handled: where it went, and its report or the reason it failed."""

    name: str
    moved_to: str
    report: Report | None = None
    error: str | None = None


def ready_files(folder: Path, *, settle: float = 1.0) -> list[Path]:
    """Files in ``folder`` ready to import, oldest first."""
    now = time.time()
    found = []
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False) or entry.name.startswith("."):
            continue
        if entry.name.lower().endswith(_PARTIAL):
            continue
        mtime = entry.stat().st_mtime
        if now - mtime >= settle:
            found.append((mtime, entry.name))
    return [folder / name for _, name in sorted(found)]


def scan_once(
    db: sqlite_utils.Database, folder: str | Path, *, settle: float = 1.0
) -> list[Outcome]:
    """Import every ready file in ``folder`` and move it to ``done/`` or ``failed/``;
    return what happened to each. Only the database's own errors escape (the file then
    stays where it is, for the next scan)."""
    folder = Path(folder)
    outcomes = []
    for path in ready_files(folder, settle=settle):
        try:
            raw = path.read_bytes()
            report = import_bytes(db, raw, name=path.name, source=f"watch:{path}")
        except (IntakeError, OSError) as exc:
            target = _move(path, folder / "failed")
            target.with_name(target.name + ".reason").write_text(f"{exc}\n", encoding="utf-8")
            log.warning("%s: failed: %s", path.name, exc)
            outcomes.append(Outcome(path.name, str(target), error=str(exc)))
            continue
        target = _move(path, folder / "done")
        for line in report.lines():
            log.info("%s: %s", path.name, line)
        outcomes.append(Outcome(path.name, str(target), report=report))
    return outcomes


def watch(
    db: sqlite_utils.Database,
    folder: str | Path,
    stop: threading.Event,
    *,
    interval: float = 2.0,
    settle: float = 1.0,
    on_outcome=None,
) -> None:
    """Scan ``folder`` every ``interval`` seconds until ``stop`` is set; call
    ``on_outcome(outcome)`` for each file handled. Raises FileNotFoundError for a
    missing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    while not stop.is_set():
        for outcome in scan_once(db, folder, settle=settle):
            if on_outcome is not None:
                on_outcome(outcome)
        stop.wait(interval)


def _move(path: Path, into: Path) -> Path:
    into.mkdir(exist_ok=True)
    target = into / path.name
    if target.exists() or target.with_name(target.name + ".reason").exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = into / f"{path.stem}.{stamp}{path.suffix}"
    os.replace(path, target)
    return target
