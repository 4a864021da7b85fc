"""The hub as a process to kill: the child of ``test_e2e``.

Run as ``python -m tests.sync.hub_child DBPATH PORT [--site WH1] [--synchronous NORMAL]``.
It runs :class:`sync.hub.HubSync` on the hub database at ``DBPATH`` against the broker on
``PORT`` until it is killed (SIGTERM: a clean stop). Every line on stdout is one JSON
object, flushed:

    {"call": "start", "batches": 0, "applied": 0, ...}       connected, counters
    {"call": "progress", "batches": 3, "applied": 1500, ...}  after every counter change

A ``progress`` line is printed after the hub committed the batch it counts and published
its ack, so the parent can kill it while it applies the next one.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tests.sync.e2e_helpers import SITE, emitter, hub_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--site", default=SITE)
    parser.add_argument("--synchronous", default="NORMAL")
    args = parser.parse_args(argv)

    from sync.hub import HubSync

    emit = emitter()
    hub = HubSync(
        args.db, args.site, hub_settings(args.port), poll_interval=0.05,
        synchronous=args.synchronous,
    ).start()  # fmt: skip
    if not hub.link.wait_connected(60):
        print("the hub did not connect within 60 s", file=sys.stderr)
        return 2
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    emit("start", **hub.stats())
    last = hub.stats()
    while not stopping.is_set():
        hub.wait_for(lambda c, last=last: hub.stats() != last, 0.2)
        now = hub.stats()
        if now != last:
            emit("progress", **now)
            last = now
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
