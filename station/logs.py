"""Station logging: to a rotating file beside the database.

A Textual app owns the terminal, so nothing may be written to stdout or stderr while it
runs; refusals, device faults and print retries go to ``<database dir>/station.log``.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path


def log_to_file(database: str | Path, level: int = logging.INFO) -> Path:
    """Send all logging to ``station.log`` next to ``database``; return its path."""
    path = Path(database).resolve().parent / "station.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return path
