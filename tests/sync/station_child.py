"""A packing station with sync on, as a process to kill: the child of ``test_e2e``.

Run as ``python -m tests.sync.station_child DBPATH PORT SEED [--burst N] [--pace S]
[--ack-timeout S] [--until-drained]``. It opens the station database (creating an empty one: it then gets
its catalogue and orders from the hub's snapshot), starts :class:`sync.station.StationSync`
against the broker on ``PORT`` and, once it has orders, writes ``--burst`` outbox rows in
one transaction (a backlog to drain) and packs its orders through the real
``PackingService`` with the crash test's packer (``tests/station/crash_child.Packer``),
while the sync thread drains the outbox to the hub.

Every line on stdout is one JSON object, flushed; a line means "done and committed":

    {"call": "start", "last_seq": 12, "acked": 10}       database open, sync started
    {"call": "ready", "orders": 24}                        the station has orders
    {"call": "burst", "ev": [[13, "9f...", "order_opened"], ...]}
    {"call": "scan_item", "order": "SO-1003", "ev": [[14, "3c...", "item_scanned"]]}
    {"call": "sync", "acked": 500, "depth": 1200, "online": true}   on every change
    {"call": "packed_all", "packed": 24}                   nothing left to pack
    {"call": "drained", "last_seq": 2400}                  --until-drained: all acked; exit 0

Without ``--until-drained`` it keeps running (syncing) until it is killed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from tests.sync.e2e_helpers import SITE, STATION, emitter, packer, station_config, write_filler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--station", default=STATION)
    parser.add_argument("--site", default=SITE)
    parser.add_argument("--burst", type=int, default=0, help="outbox rows to write at once")
    parser.add_argument("--ack-timeout", type=float, default=2.0)
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between steps")
    parser.add_argument("--until-drained", action="store_true")
    args = parser.parse_args(argv)

    # Everything imported before the sync starts: packing begins as soon as orders are
    # here, while the drain is under way.
    import station.packing.service  # noqa: F401
    import tests.station.crash_child  # noqa: F401
    from station.printing import queue
    from station.store.db import open_db
    from tests.sync.e2e_helpers import start_station_sync

    emit = emitter()
    db = open_db(args.db, synchronous="NORMAL")
    config = station_config(args.db, args.port, args.station, args.site)
    queue.recover(db)  # as the station does when it starts
    last_seq = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    sync = start_station_sync(config, args.port, ack_timeout=args.ack_timeout)
    emit("start", last_seq=last_seq, acked=sync.state().acked_seq)

    def monitor() -> None:
        seen = None
        while True:
            state = sync.state()
            now = (state.acked_seq, state.outbox_depth, state.online)
            if now != seen:
                emit("sync", acked=now[0], depth=now[1], online=now[2])
                seen = now
            time.sleep(0.01)

    threading.Thread(target=monitor, daemon=True).start()

    end = time.monotonic() + 60
    while not db.execute("SELECT count(*) FROM orders").fetchone()[0]:
        if time.monotonic() > end:
            print("no orders from the hub within 60 s", file=sys.stderr)
            return 2
        time.sleep(0.02)
    emit("ready", orders=db.execute("SELECT count(*) FROM orders").fetchone()[0])

    if args.burst:
        rows = write_filler(db, args.station, args.burst, start=last_seq)
        emit("burst", ev=[list(r) for r in rows])

    p, _ = packer(db, config, args.seed, emit)
    while p.step():
        if args.pace:
            time.sleep(args.pace)
    while p.print_one():
        pass
    packed = db.execute("SELECT count(*) FROM orders WHERE status = 'packed'").fetchone()[0]
    emit("packed_all", packed=packed)

    if not args.until_drained:
        threading.Event().wait()  # sync goes on until the kill
    last = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    end = time.monotonic() + 120
    while not (sync.state().acked_seq == last and sync.state().outbox_depth == 0):
        if time.monotonic() > end:
            print(f"not drained: {sync.state()}", file=sys.stderr)
            return 3
        time.sleep(0.01)
    sync.stop()
    emit("drained", last_seq=last)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
