"""Crash test: a packing station killed with SIGKILL at random points, many times.

Each round starts ``tests/station/crash_child.py`` as a real process on the same
database, lets it pack for a random 20-300 ms after it reports it is up (some rounds
die while it is still opening the database), kills it with ``SIGKILL`` and then opens
the database afresh and checks it:

* ``PRAGMA integrity_check`` is ``ok`` (and no foreign key is broken);
* every event the child confirmed (printed after the service call returned) is in the
  outbox exactly once, with the same seq and type; no event id is there twice; events
  not confirmed are only the tail written by the one call the kill interrupted;
* state and events agree: replaying the outbox gives the orders, lines, scans,
  packages, print jobs and counters in the database (so no transaction was half done);
* a print job found in ``sending`` becomes ``uncertain`` through ``queue.recover`` and
  never ``printed`` later; a job confirmed printed stays printed.

``DOMS_CRASH_ROUNDS`` raises the number of rounds (default 40), ``DOMS_CRASH_SEED``
replays a run (the seed is in the failure message).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from station.printing import queue
from station.store.db import integrity_ok, open_db
from tests.procs import Child
from tests.station.crash_child import order_set

REPO = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("DOMS_CRASH_ROUNDS", "40"))
SEED = int(os.environ.get("DOMS_CRASH_SEED", str(random.randrange(2**32))))
START_TIMEOUT_S = 60.0  # a loaded CI machine can take long to import and open
EXIT_TIMEOUT_S = 30.0
BUILD_ATTEMPTS = 5
MAX_EVENTS_PER_CALL = 3  # record_weight: package_weighed, label_queued, order_packed


# -- the child process ----------------------------------------------------------------------
def Station(db: Path, seed: int, *args: str, wait: bool = False) -> Child:  # noqa: N802
    """One run of the crash child (``tests.station.crash_child``); with ``wait`` it opens
    the database only after :meth:`Child.go`."""
    cmd = [str(db), str(seed), *args, *(["--wait"] if wait else [])]
    return Child("tests.station.crash_child", *cmd, stdin=wait)


# -- what was confirmed ---------------------------------------------------------------------
class Ledger:
    """Everything the children confirmed, over all rounds."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[int, str]] = {}  # event_id -> (seq, type)
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.printed: set[int] = set()
        self.sending: set[int] = set()  # confirmed claimed by the print worker
        self.uncertain: set[int] = set()  # found in 'sending' after a kill
        self.unconfirmed_tails = 0
        self.last_seq: int | None = None  # the outbox's last seq at the last check
        self.kills_before_start = 0
        self.recovered_by_child = 0

    def add_round(self, lines: list[dict]) -> tuple[int | None, list[tuple[int, str, str]]]:
        """Record one round's lines; return its start seq and its confirmed events."""
        start = None
        confirmed = []
        for line in lines:
            call = line["call"]
            self.calls[call] += 1
            if call == "start":
                start = line["last_seq"]
                self.recovered_by_child += line["recovered"]
                continue
            if "refused" in line:
                self.refused[line["refused"]] += 1
                assert line["ev"] == [], f"refused call wrote events: {line}"
            for seq, event_id, type_ in line.get("ev", []):
                assert event_id not in self.events, f"event confirmed twice: {line}"
                self.events[event_id] = (seq, type_)
                confirmed.append((seq, event_id, type_))
            if call == "mark_sending" and line.get("ok"):
                self.sending.add(line["job"])
            if call == "mark_printed":
                self.printed.add(line["job"])
        return start, confirmed


# -- checking the database ------------------------------------------------------------------
def check_database(path: Path, ledger: Ledger, start: int | None, confirmed: list) -> None:
    """Open the database the killed station left and check it; recover its print jobs."""
    db = open_db(path)
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
        assert result == [("ok",)], f"integrity_check: {result}"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        check_outbox(db, ledger, start, confirmed)
        check_print_jobs(db, ledger)
        check_state_matches_events(db)
    finally:
        db.close()


def check_outbox(db, ledger: Ledger, start: int | None, confirmed: list) -> None:
    rows = db.execute("SELECT seq, event_id, type FROM outbox ORDER BY seq").fetchall()
    by_id = {event_id: (seq, type_) for seq, event_id, type_ in rows}
    assert len(by_id) == len(rows), "an event id is in the outbox twice"
    lost = {e: v for e, v in ledger.events.items() if by_id.get(e) != v}
    assert not lost, f"confirmed events missing or changed after the kill: {lost}"
    before, ledger.last_seq = ledger.last_seq, (rows[-1][0] if rows else 0)
    if start is None:
        # Killed before it was up: it must not have written a single event.
        assert before is None or ledger.last_seq == before, "events from a station not up"
        return
    if before is not None:
        assert start == before, "the station did not start from the outbox we last saw"
    new = [(seq, event_id) for seq, event_id, _ in rows if seq > start]
    seen = {event_id for _, event_id, _ in confirmed}
    last_confirmed = max((seq for seq, _, _ in confirmed), default=start)
    tail = [seq for seq, event_id in new if event_id not in seen]
    # Only the call the kill interrupted may have committed without being confirmed.
    assert all(seq > last_confirmed for seq in tail), (
        f"events committed but never confirmed, before later confirmed ones: {tail}"
    )
    assert len(tail) <= MAX_EVENTS_PER_CALL, f"too many unconfirmed events: {tail}"
    ledger.unconfirmed_tails += bool(tail)


def check_print_jobs(db, ledger: Ledger) -> None:
    status = dict(db.execute("SELECT job_id, status FROM print_jobs").fetchall())
    sending = {job for job, s in status.items() if s == "sending"}
    # The child sends one job at a time, and the last check recovered the earlier ones.
    assert len(sending) <= 1, f"more than one job in 'sending': {sending}"
    for job in ledger.printed:
        assert status[job] == "printed", f"job {job} confirmed printed is {status[job]}"
    for job in ledger.sending:
        assert status[job] in ("sending", "printed", "uncertain"), (
            f"job {job} was claimed for sending and is now {status[job]}"
        )
    for job in ledger.uncertain:
        assert status[job] == "uncertain", f"job {job} left uncertain is now {status[job]}"
    assert queue.recover(db) == len(sending)
    after = dict(db.execute("SELECT job_id, status FROM print_jobs").fetchall())
    for job in sending:
        assert after[job] == "uncertain"
    assert {j: s for j, s in after.items() if j not in sending} == {
        j: s for j, s in status.items() if j not in sending
    }, "recover changed a job that was not being sent"
    ledger.uncertain |= sending


def replay(db) -> dict[str, dict]:
    """The orders as the outbox tells them, event by event."""
    orders: dict[str, dict] = {}
    for (order_id,) in db.execute("SELECT order_id FROM orders").fetchall():
        orders[order_id] = {
            "status": "assigned",
            "packages": {},
            "scans": [],
            "short": Counter(),
            "packed": [],
        }
    counters: Counter[str] = Counter()
    rows = db.execute("SELECT seq, type, payload FROM outbox ORDER BY seq").fetchall()
    for seq, type_, payload in rows:
        e = json.loads(payload)
        counters[type_] += 1
        if type_ in ("operator_logged_in", "operator_logged_out"):
            continue
        o = orders[e["order_id"]]
        where = f"event {seq} {type_} {e}"
        packages = o["packages"]
        if type_ == "order_opened":
            assert o["status"] in ("assigned", "packing"), where
            o["status"] = "packing"
            if not packages:
                packages[1] = _package()
        elif type_ == "item_scanned":
            assert packages[e["package_no"]]["status"] == "open", where
            o["scans"].append(
                [e["line_no"], e["package_no"], e["qty"], 0, e["lot"], e["serial"], e["expiry"]]
            )
        elif type_ == "scan_undone":
            last = [s for s in o["scans"] if not s[3]][-1]
            assert (last[0], last[2]) == (e["line_no"], e["qty"]), where
            last[3] = 1
            p = packages[last[1]]
            if p["status"] == "weighed":  # the reading no longer counts
                p.update(status="open", weight_g=None, expected_g=None, ok=None, override=None)
        elif type_ == "line_short":
            o["short"][e["line_no"]] += e["qty"]
        elif type_ == "order_held":
            o["status"] = "on_hold"
        elif type_ == "package_opened":
            assert e["package_no"] not in packages, where
            packages[e["package_no"]] = _package()
        elif type_ == "carton_chosen":
            p = packages[e["package_no"]]
            assert p["status"] != "labelled", where
            p.update(carton=e["carton"], weight_g=None, expected_g=None, ok=None, override=None)
            if p["status"] == "weighed":
                p["status"] = "open"
        elif type_ == "package_weighed":
            p = packages[e["package_no"]]
            p.update(status="weighed", weight_g=e["grams"], expected_g=e["expected_g"])
            p.update(ok=int(e["ok"]), override=None)
        elif type_ == "weight_overridden":
            p = packages[e["package_no"]]
            assert p["status"] == "weighed" and not p["ok"], where
            p["override"] = e["lead"]
        elif type_ == "label_queued":
            packages[e["package_no"]]["status"] = "labelled"
            packages[e["package_no"]]["labels"] += 1
            _void_empty(o, packages)
        elif type_ == "label_reprinted":
            assert packages[e["package_no"]]["status"] == "labelled", where
            packages[e["package_no"]]["labels"] += 1
        elif type_ == "order_packed":
            assert o["status"] == "packing", where
            _void_empty(o, packages)  # packed by a short, with no label just before
            o["status"] = "packed"
            o["packed"].append(e)
        else:
            raise AssertionError(f"the replay does not know {where}: add it here")
    return {"orders": orders, "counters": counters}


def _void_empty(order: dict, packages: dict) -> None:
    # The station voids a package left without units when a label is queued or the order
    # is packed.
    units = Counter()
    for s in order["scans"]:
        if not s[3]:
            units[s[1]] += s[2]
    for no, p in packages.items():
        if not units[no] and p["status"] != "void":
            p["status"] = "void"


def _package() -> dict:
    return {
        "status": "open",
        "carton": None,
        "weight_g": None,
        "expected_g": None,
        "ok": None,
        "override": None,
        "labels": 0,
    }


def check_state_matches_events(db) -> None:
    told = replay(db)
    orders, counters = told["orders"], told["counters"]
    q = db.execute
    status = dict(q("SELECT order_id, status FROM orders").fetchall())
    assert {o: v["status"] for o, v in orders.items()} == status
    short = Counter()
    resolved: dict[str, bool] = {}
    for order_id, line_no, qty, qty_short, scanned in q(
        "SELECT l.order_id, l.line_no, l.qty, l.qty_short, "
        "coalesce(sum(CASE WHEN s.undone = 0 THEN s.qty END), 0) "
        "FROM order_lines l LEFT JOIN scans s ON s.line_id = l.line_id GROUP BY l.line_id"
    ).fetchall():
        if qty_short:
            short[(order_id, line_no)] = qty_short
        resolved[order_id] = resolved.get(order_id, True) and scanned + qty_short == qty
        assert scanned + qty_short <= qty, f"{order_id} line {line_no} over-counted"
    assert short == Counter(
        {(o, n): k for o, v in orders.items() for n, k in v["short"].items() if k}
    )
    scans: dict[str, list] = {o: [] for o in orders}
    for order_id, *scan in q(
        "SELECT s.order_id, l.line_no, p.package_no, s.qty, s.undone, s.lot, s.serial, s.expiry "
        "FROM scans s JOIN order_lines l ON l.line_id = s.line_id "
        "JOIN packages p ON p.package_id = s.package_id ORDER BY s.scan_id"
    ).fetchall():
        scans[order_id].append(list(scan))
    for order_id, o in orders.items():
        assert scans[order_id] == o["scans"], f"{order_id}: scans and events disagree"
    jobs = Counter(
        q(
            "SELECT order_id, package_id, kind FROM print_jobs WHERE kind IN "
            "('shipping_label', 'packing_slip')"
        ).fetchall()
    )
    packages = {}
    for row in q(
        "SELECT order_id, package_id, package_no, status, carton_code, weight_g, expected_g, "
        "weight_ok, override_by, sscc, tracking_number FROM packages"
    ).fetchall():
        order_id, package_id, no, st, carton, grams, expected, ok, override, sscc, tracking = row
        packages.setdefault(order_id, {})[no] = row
        p = orders[order_id]["packages"].get(no)
        where = f"{order_id} package {no}: {row} vs events {p}"
        assert p is not None, where
        assert (st, carton, grams, ok, override) == (
            p["status"],
            p["carton"],
            p["weight_g"],
            p["ok"],
            p["override"],
        ), where
        assert expected == pytest.approx(p["expected_g"]), where
        assert (sscc is not None) == (tracking is not None) == (st == "labelled"), where
        # A labelled package has its label_queued event and its print job (one per
        # label_queued or label_reprinted).
        assert jobs[(order_id, package_id, "shipping_label")] == p["labels"], where
        assert st != "labelled" or p["labels"] >= 1, where
    for order_id, o in orders.items():
        assert set(o["packages"]) == set(packages.get(order_id, {})), order_id
        slips = jobs[(order_id, None, "packing_slip")]
        if status[order_id] == "packed":
            assert resolved[order_id], f"{order_id} packed with an item neither scanned nor short"
            assert len(o["packed"]) == 1 and slips == 1, f"{order_id}: {o['packed']}, {slips}"
            shipped = [
                {"package_no": r[2], "sscc": r[9], "tracking": r[10], "carton": r[4], "grams": r[5]}
                for r in sorted(packages[order_id].values(), key=lambda r: r[2])
                if r[3] == "labelled"
            ]
            told_packages = [
                {k: p[k] for k in ("package_no", "sscc", "tracking", "carton", "grams")}
                for p in o["packed"][0]["packages"]
            ]
            assert told_packages == shipped, order_id
        else:
            assert o["packed"] == [] and slips == 0, order_id
    # Each label took one SSCC and one UPS number, each from a counter that starts at 0.
    numbers = dict(q("SELECT name, value FROM counters").fetchall())
    labels = counters["label_queued"]
    assert numbers.get("sscc", -1) + 1 == labels
    assert numbers.get("ups", -1) + 1 == labels


def packed_orders(path: Path) -> int:
    db = open_db(path)
    try:
        return db.execute("SELECT count(*) FROM orders WHERE status = 'packed'").fetchone()[0]
    finally:
        db.close()


# -- the tests ------------------------------------------------------------------------------
@pytest.mark.timeout(max(120, 60 + 3 * ROUNDS))
def test_station_survives_kill_9_at_random_points(tmp_path):
    rng = random.Random(SEED)
    path = tmp_path / "station.db"
    ledger = Ledger()
    orders = max(30, ROUNDS * 10)  # more than it can pack: every round has work to do
    args = ("--orders", str(orders))
    began = time.perf_counter()
    stations: list[Station] = []
    try:
        nxt = Station(path, rng.randrange(2**32), *args, wait=True)
        stations.append(nxt)
        for n in range(ROUNDS):
            station = nxt
            context = f"round {n}, DOMS_CRASH_SEED={SEED}"
            early = n > 0 and rng.random() < 0.15
            station.go()
            if early:
                # Some die while opening the database, recovering, logging in (~5 ms).
                time.sleep(rng.uniform(0.0, 0.008))
                station.kill()
            # Start the next one now: it imports while this one packs, and waits.
            nxt = Station(path, rng.randrange(2**32), *args, wait=True)
            stations.append(nxt)
            if not early:
                assert station.wait_line("start", START_TIMEOUT_S), (
                    f"{context}: child never started:\n{station.stderr_tail()}"
                )
                time.sleep(rng.uniform(0.02, 0.3))
                station.kill()
            rc = station.finish()
            lines = list(station.lines)
            if rc != -signal.SIGKILL:
                assert rc == 0 and lines[-1]["call"] == "done", (
                    f"{context}: child ended by itself ({rc}):\n{station.stderr_tail()}"
                )
            if not any(line["call"] == "start" for line in lines):
                ledger.kills_before_start += 1
                if not path.exists():
                    continue
            start, confirmed = ledger.add_round(lines)
            try:
                check_database(path, ledger, start, confirmed)
            except AssertionError as exc:
                raise AssertionError(f"{context}: {exc}") from exc
            station.close()
    finally:
        for station in stations:
            station.close()
    elapsed = time.perf_counter() - began
    packed = packed_orders(path)
    service_calls = sum(
        k for c, k in ledger.calls.items() if c not in ("waiting", "creating", "start", "done")
    )
    print(
        f"\ncrash test: {ROUNDS} rounds in {elapsed:.1f} s (seed {SEED}), "
        f"{service_calls} confirmed calls, {len(ledger.events)} confirmed events, "
        f"{packed}/{orders} orders packed, {ledger.unconfirmed_tails} kills between commit "
        f"and confirmation, {len(ledger.uncertain)} jobs left uncertain, "
        f"{ledger.kills_before_start} kills before start; refused {dict(ledger.refused)}; "
        f"calls {dict(ledger.calls)}"
    )
    # Real work was killed, not an idle process.
    assert packed >= max(3, ROUNDS // 4), f"only {packed} orders packed in {ROUNDS} rounds"
    assert ledger.calls["scan_item"] >= ROUNDS
    assert len(ledger.events) >= ROUNDS * 5


def test_station_left_alone_packs_every_order(tmp_path):
    path = tmp_path / "station.db"
    station = Station(path, 7, "--orders", "30")
    try:
        rc = station.finish(timeout=120)
        assert rc == 0, station.stderr_tail()
    finally:
        station.close()
    lines = station.lines
    assert [line["call"] for line in lines[:2]] == ["creating", "start"]
    assert lines[-1] == {"call": "done", "packed": 30}
    ledger = Ledger()
    start, confirmed = ledger.add_round(lines)
    check_database(path, ledger, start, confirmed)
    db = open_db(path)
    try:
        assert db.execute("SELECT DISTINCT status FROM orders").fetchall() == [("packed",)]
        assert db.execute("SELECT DISTINCT status FROM print_jobs").fetchall() == [("printed",)]
        outbox = db.execute("SELECT event_id FROM outbox").fetchall()
        assert {e for (e,) in outbox} == set(ledger.events)  # every event confirmed
    finally:
        db.close()
    assert ledger.printed == ledger.sending and ledger.uncertain == set()


def test_killed_while_building_the_database(tmp_path):
    """A kill during the first start leaves no database or a whole one, never half of one,
    and the next start builds it (throwing away what the killed build left)."""
    rng = random.Random(SEED)
    path = tmp_path / "station.db"
    killed_mid_build = 0
    for attempt in range(BUILD_ATTEMPTS):
        station = Station(path, attempt, "--orders", "30")
        try:
            assert station.wait_line("creating", START_TIMEOUT_S), station.stderr_tail()
            time.sleep(rng.uniform(0.0, 0.1))  # building takes about 80 ms here
            station.kill()
            station.finish()
        finally:
            station.close()
        if not path.exists():
            killed_mid_build += 1
            continue
        db = open_db(path)
        try:
            assert integrity_ok(db)
            assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 30
            assert db.execute("SELECT count(*) FROM order_lines").fetchone()[0] == sum(
                len(lines) for *_, lines in order_set(30)
            )
            assert db.execute("SELECT count(*) FROM operators").fetchone()[0] == 3
        finally:
            db.close()
        for suffix in ("", "-wal", "-shm"):  # build it again next time
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    station = Station(path, 99, "--orders", "30", "--max-calls", "60")
    try:
        assert station.finish(timeout=120) == 0, station.stderr_tail()
    finally:
        station.close()
    assert [line["call"] for line in station.lines[:2]] == ["creating", "start"]
    ledger = Ledger()
    start, confirmed = ledger.add_round(station.lines)
    check_database(path, ledger, start, confirmed)
    assert packed_orders(path) >= 1
    print(f"\nkilled mid-build {killed_mid_build} of {BUILD_ATTEMPTS} times")
