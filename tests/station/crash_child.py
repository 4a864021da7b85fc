"""A packing station that packs orders until it is killed: the child of ``test_crash``.

Run as ``python -m tests.station.crash_child DBPATH SEED [--orders N] [--max-calls M]
[--wait]``. With ``--wait`` it imports everything and then waits for a line on stdin
before it touches the database, so the parent can start the next station while it
checks the database the last one left (Python's start-up is most of a round's time).

It opens (creating if needed) the station database and packs orders through the real
:class:`PackingService`, the way the pack screen drives it: open the next order, scan
its units (sometimes a wrong item, an over-scan, an undo, a short line, a second
package), choose a carton, weigh (sometimes out of tolerance, then weigh again or have a
lead override), and drain the print queue like the print worker (``mark_sending`` then
``mark_printed``). Every decision is made from what the database says now, never from
memory, so a restart after ``kill -9`` carries on where the last commit left off.

After each call returns, the moment the screen would confirm it, one JSON line goes to
stdout and is flushed: the call, and the outbox events (seq, event id, type) that call
wrote. A line on stdout therefore means "confirmed"; the parent checks each one is in
the database after the kill. Lines::

    {"call": "waiting"}                                   with --wait: imported, waiting
    {"call": "creating"}                                  before building a new database
    {"call": "start", "last_seq": 12, "recovered": 1}      database open, ready
    {"call": "scan_item", "order": "SO-1003", "ev": [[13, "9f...", "item_scanned"]]}
    {"call": "scan_item", "order": "SO-1003", "refused": "wrong_item", "ev": []}
    {"call": "mark_sending", "job": 4, "ok": true, "ev": []}
    {"call": "done", "packed": 30}                          no orders left; exit 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.config import Packing, StationConfig
from station.packing.errors import Refused
from station.packing.model import LineView, OrderView
from station.packing.operators import Operator
from station.packing.service import PackingService
from station.printing import queue
from station.store.db import open_db

PACKER = Operator("B1001", "Sam Packer", "packer")
LEAD = Operator("L9001", "Priya Raman", "lead")
ORDERS_SEED = 20261127
PLAIN_SKUS = ("MUG-WHT", "TSH-M-BLK", "BAT-AA-4")
CARTONS = ("BOX-S", "BOX-M")
# Codes a scanner may read for one unit of each SKU: EAN/UPC, GTIN-14, the SKU's label.
UNIT_CODES = {
    "MUG-WHT": ("4006381333931", "04006381333931", "MUG-WHT"),
    "TSH-M-BLK": ("036000291452", "00036000291452", "TSH-M-BLK"),
    "BAT-AA-4": ("00012345678905", "BAT-AA-4"),
}
BAT_CASE = "10012345678902"  # a case of 12 four-packs
WRONG_CODES = ("XYZ-NOT-HERE", "4006381333932")  # unknown; bad check digit


def emit(call: str, **info: Any) -> None:
    """Confirm: one line, flushed before anything else happens."""
    sys.stdout.write(json.dumps({"call": call, **info}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# -- the database ---------------------------------------------------------------------------
def order_set(count: int) -> list[tuple[str, str, int, list[tuple[str, int]]]]:
    """``count`` orders of 1-4 lines, the same for the same count (the parent relies on it)."""
    rng = random.Random(ORDERS_SEED)
    orders = []
    for n in range(count):
        lines: list[tuple[str, int]] = []
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            roll = rng.random()
            if roll < 0.06:
                lines.append(("SERUM-30", rng.randint(1, 2)))  # lot and expiry from GS1
            elif roll < 0.12:
                lines.append(("EARBUDS", rng.randint(1, 2)))  # one serial per unit
            elif roll < 0.20:
                lines.append(("BAT-AA-4", rng.randint(10, 16)))  # case + keyed quantity
            else:
                lines.append((rng.choice(PLAIN_SKUS), rng.randint(1, 3)))
        ship_by = dt.datetime(2026, 11, 28, 8) + dt.timedelta(hours=rng.randint(0, 72))
        orders.append(
            (
                f"SO-{1000 + n}",
                ship_by.strftime("%Y-%m-%dT%H:%M:%SZ"),
                rng.randint(0, 2),
                lines,
            )
        )
    return orders


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_db(path: Path, orders: int):
    """Open the database at ``path``, building it first when there is none.

    The database is built complete in ``<path>.new`` and then renamed into place, so a
    kill during the build leaves either no database (and a stale ``.new``, thrown away
    here next time) or a whole one: never a half-built one that would be opened as is.
    """
    if not path.exists():
        from tests.station.conftest import make_db  # imports pytest: only when building

        emit("creating")
        building = Path(f"{path}.new")
        _remove(building)
        _remove(path)  # a stray -wal/-shm of a database that is not there is not ours
        db = make_db(building, orders=order_set(orders))
        with db.ensure_autocommit_on():
            # One self-contained file: no WAL to leave behind under the temporary name.
            db.execute("PRAGMA journal_mode=DELETE")
        db.close()
        _fsync(building)
        os.replace(building, path)
        _fsync(path.parent)
    return open_db(path)


# -- confirmations --------------------------------------------------------------------------
class Screen:
    """Calls the service and confirms each call on stdout with the events it wrote."""

    def __init__(self, db) -> None:
        self.db = db
        # Events already there were confirmed (or not) by an earlier run.
        self.last_seq = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]

    def call(self, name: str, fn: Callable[[], Any], **info: Any) -> tuple[Any, str | None]:
        """Run ``fn`` (one service call); confirm it; return (result, refusal kind)."""
        refused = None
        result = None
        try:
            result = fn()
        except Refused as exc:
            refused = exc.kind
        rows = self.db.execute(
            "SELECT seq, event_id, type FROM outbox WHERE seq > ? ORDER BY seq", [self.last_seq]
        ).fetchall()
        if rows:
            self.last_seq = rows[-1][0]
        if refused is not None:
            info["refused"] = refused
        elif isinstance(result, bool):
            info["ok"] = result
        emit(name, ev=[list(r) for r in rows], **info)
        return result, refused


# -- the packer -----------------------------------------------------------------------------
class Packer:
    def __init__(self, db, service: PackingService, screen: Screen, rng: random.Random) -> None:
        self.db = db
        self.service = service
        self.screen = screen
        self.rng = rng
        self.opened: str | None = None  # the order on screen in this process

    def call(self, name: str, fn: Callable[[], Any], **info: Any) -> tuple[Any, str | None]:
        return self.screen.call(name, fn, **info)

    # One step: a print job, or one action on the order in hand.
    def step(self) -> bool:
        """Do one thing; False when there is nothing left to pack."""
        if self.rng.random() < 0.3 and self.print_one():
            return True
        order_id = self.service.next_order()
        if order_id is None:
            return False
        if order_id != self.opened:
            # What the screen does after a start or a packed order: open (or resume) it.
            self.call(
                "open_order", lambda: self.service.open_order(order_id, PACKER), order=order_id
            )
            self.opened = order_id
            return True
        order = self.service.view(order_id)
        if order.stage == "scan":
            self.scan_stage(order)
        elif order.stage == "weigh":
            self.weigh_stage(order)
        return True

    def print_one(self) -> bool:
        """What the print worker does with the oldest queued job of one printer."""
        printers = ["label", "slip"]
        self.rng.shuffle(printers)
        jobs = (queue.next_queued(self.db, printer) for printer in printers)
        job = next((j for j in jobs if j is not None), None)
        if job is None:
            return False
        jid = job.job_id
        ok, _ = self.call("mark_sending", lambda: queue.mark_sending(self.db, jid), job=jid)
        if ok:
            time.sleep(self.rng.uniform(0, 0.003))  # the bytes going out
            self.call("mark_printed", lambda: queue.mark_printed(self.db, jid), job=jid)
        return True

    def scan_stage(self, order: OrderView) -> None:
        oid = order.order_id
        package = order.current_package
        if package.status != "open":
            # A scan of a weighed parcel was undone: new scans are refused ("already
            # closed") until the carton is scanned again, which reopens the parcel, or,
            # when the last package is void or labelled, until a new package is started.
            self.scan(oid, self.rng.choice([ln for ln in order.lines if ln.remaining > 0]))
            if package.status == "weighed":
                code = package.carton_code or self.rng.choice(CARTONS)
                self.call(
                    "set_carton",
                    lambda: self.service.set_carton(oid, package.package_id, code, PACKER),
                    order=oid,
                )
            else:
                self.call("new_package", lambda: self.service.new_package(oid, PACKER), order=oid)
            return
        roll = self.rng.random()
        if roll < 0.05:
            self.wrong_scan(order)
        elif roll < 0.11 and order.units_scanned:
            self.call("undo_last_scan", lambda: self.service.undo_last_scan(oid, PACKER), order=oid)
        elif roll < 0.14 and order.units_scanned:
            # Never short everything of an order with nothing scanned: that holds it.
            line = self.rng.choice([ln for ln in order.lines if ln.remaining > 0])
            qty = self.rng.randint(1, line.remaining)
            reason = self.rng.choice(("missing", "damaged", "wrong_item_picked", "other"))
            self.call(
                "short_line",
                lambda: self.service.short_line(oid, line.line_id, reason, PACKER, qty=qty),
                order=oid,
            )
        elif roll < 0.17 and package.unit_count:
            self.call("new_package", lambda: self.service.new_package(oid, PACKER), order=oid)
        else:
            self.scan(oid, self.rng.choice([ln for ln in order.lines if ln.remaining > 0]))

    def scan(self, order_id: str, line: LineView) -> None:
        code, qty = self.unit_code(line)
        parsed = self.service.classify(code)
        self.call(
            "scan_item",
            lambda: self.service.scan_item(order_id, parsed, PACKER, qty=qty),
            order=order_id,
        )

    def unit_code(self, line: LineView) -> tuple[str, int | None]:
        rng = self.rng
        if line.sku == "SERUM-30":
            expiry = (dt.date.today() + dt.timedelta(days=rng.randint(30, 700))).strftime("%y%m%d")
            return f"]d2010614141000415917{expiry}10L{rng.randint(1, 99)}\x1d", None
        if line.sku == "EARBUDS":
            return f"010950600013435221SN{rng.getrandbits(40):010x}", None
        if line.sku == "BAT-AA-4":
            if line.remaining >= 12 and rng.random() < 0.3:
                return BAT_CASE, None
            if line.remaining > 1 and rng.random() < 0.4:
                return "BAT-AA-4", rng.randint(1, line.remaining)
        return rng.choice(UNIT_CODES[line.sku]), None

    def wrong_scan(self, order: OrderView) -> None:
        in_order = {ln.sku for ln in order.lines}
        done = [
            sku
            for sku in in_order & set(UNIT_CODES)
            if all(ln.done for ln in order.lines if ln.sku == sku)
        ]
        others = [s for s in PLAIN_SKUS if s not in in_order]
        roll = self.rng.random()
        if others and roll < 0.6:
            code = self.rng.choice(UNIT_CODES[self.rng.choice(others)])  # not in this order
        elif done and roll < 0.8:
            code = UNIT_CODES[self.rng.choice(sorted(done))][0]  # one too many
        else:
            code = self.rng.choice(WRONG_CODES)
        parsed = self.service.classify(code)
        oid = order.order_id
        _, refused = self.call(
            "scan_item", lambda: self.service.scan_item(oid, parsed, PACKER), order=oid
        )
        assert refused is not None, f"{code!r} was accepted into {oid}"

    def weigh_stage(self, order: OrderView) -> None:
        oid = order.order_id
        package = order.package_to_weigh
        assert package is not None, f"{oid} has nothing to weigh"
        pid = package.package_id
        roll = self.rng.random()
        if roll < 0.04:
            # Undo works at any time on the screen (refused once the parcel is labelled).
            self.call("undo_last_scan", lambda: self.service.undo_last_scan(oid, PACKER), order=oid)
        elif package.carton_code is None or roll < 0.07:
            code = self.service.suggest_carton(oid, pid) or self.rng.choice(CARTONS)
            if roll < 0.07:
                code = self.rng.choice(CARTONS)
            self.call(
                "set_carton",
                lambda: self.service.set_carton(oid, pid, code, PACKER),
                order=oid,
            )
        elif package.status == "weighed" and not package.weight_ok and roll < 0.5:
            # The screen is blocked on this parcel: a lead scans their badge.
            out, _ = self.call(
                "override_weight",
                lambda: self.service.override_weight(oid, pid, LEAD, PACKER),
                order=oid,
            )
            self.after_label(oid, out)
        else:
            expected = self.service.expected_weight(pid)
            if roll > 0.9:
                grams = round(expected + self.rng.choice((-1, 1)) * (60 + expected * 0.1), 1)
            else:
                grams = round(expected + self.rng.uniform(-15, 15), 1)
            out, _ = self.call(
                "record_weight",
                lambda: self.service.record_weight(oid, pid, grams, PACKER),
                order=oid,
            )
            self.after_label(oid, out)

    def after_label(self, order_id: str, outcome) -> None:
        if outcome is None or not outcome.labelled:
            return
        if self.rng.random() < 0.05:
            self.call(
                "reprint",
                lambda: self.service.reprint(order_id, outcome.package_id, PACKER),
                order=order_id,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("seed", type=int)
    parser.add_argument("--orders", type=int, default=30, help="orders in a new database")
    parser.add_argument("--max-calls", type=int, default=0, help="stop after this many steps")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="start up, then touch the database only once a line arrives on stdin (EOF: exit)",
    )
    args = parser.parse_args(argv)
    if args.wait:
        emit("waiting")
        if not sys.stdin.readline():
            return 0

    db = ensure_db(args.db, args.orders)
    config = StationConfig(database=str(args.db), packing=Packing(short_policy="ship_partial"))
    recovered = queue.recover(db)  # as the station does when it starts
    screen = Screen(db)
    emit("start", last_seq=screen.last_seq, recovered=recovered)
    service = PackingService(db, config)
    screen.call("log_in", lambda: service.log_in(PACKER))
    packer = Packer(db, service, screen, random.Random(args.seed))
    steps = 0
    while packer.step():
        steps += 1
        if args.max_calls and steps >= args.max_calls:
            return 0
    while packer.print_one():
        pass
    screen.call("log_out", lambda: service.log_out(PACKER))
    packed = db.execute("SELECT count(*) FROM orders WHERE status = 'packed'").fetchone()[0]
    emit("done", packed=packed)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
