"""What the end-to-end sync tests (``tests/sync/test_e2e.py``), their child processes
(``station_child``, ``hub_child``) and ``bench/sync.py`` share.

* A hub database seeded the way ``doms hub`` would be: the station tests' catalogue
  (``tests/station/conftest.py``), cartons, operators, a receipt of stock per SKU, and
  orders assigned to a station through ``routing.feed`` (so they travel to the station on
  its station stream, or in its bootstrap snapshot).
* A station whose database starts empty (schema only) and gets all of that from the hub.
* Writers of outbox rows: the real ``PackingService`` driven by the crash test's packer
  (``tests/station/crash_child.Packer``: wrong items, undos, short lines, several
  packages, weight overrides), and bulk rows through ``record_event`` for backlogs.
* :func:`check_exactly_once`: the hub's state compared with what the station recorded.
* :class:`Child`: a child process that prints one JSON line per confirmed step.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sync.broker.runner import broker_kind

ROOT = Path(__file__).resolve().parents[2]
SITE = "WH1"
STATION = "WH1-PACK-01"
WAIT = 120.0  # generous: a loaded 2-core machine (CI saw 45 s run out)

CARTONS = [
    {"code": "BOX-S", "name": "Small box", "length_mm": 200, "width_mm": 150,
     "height_mm": 100, "tare_g": 120.0, "max_weight_g": 5000.0},
    {"code": "BOX-M", "name": "Medium box", "length_mm": 350, "width_mm": 250,
     "height_mm": 150, "tare_g": 250.0, "max_weight_g": 15000.0},
]  # fmt: skip
OPERATORS = [
    {"badge": "B1001", "name": "Sam Packer", "role": "packer", "pin_hash": None},
    {"badge": "L9001", "name": "Priya Raman", "role": "lead", "pin_hash": None},
]
RECEIPT = 100_000  # units of each SKU received at the hub: never short of stock


# The end-to-end tests kill and restart the broker and read its log: Mosquitto only.
needs_mosquitto = pytest.mark.skipif(
    broker_kind() != "mosquitto" or shutil.which("mosquitto_pub") is None,
    reason="the end-to-end tests need Mosquitto and mosquitto_pub",
)


def wait_until(
    predicate: Callable[[], Any], timeout: float = WAIT, what: str = "", interval: float = 0.01
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that. AssertionError
    on timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(interval)


# -- reading databases (plain connections: no migrations, no write lock) -------------------
@contextlib.contextmanager
def reading(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query sees the same commit (WAL), whatever the writers
    do meanwhile."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def rows(path: str | Path, sql: str, params: tuple | list = ()) -> list[tuple]:
    with reading(path) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(path: str | Path, sql: str, params: tuple | list = ()) -> Any:
    return rows(path, sql, params)[0][0]


def hub_applied_seq(hub_path: str | Path, station: str = STATION) -> int:
    got = rows(hub_path, "SELECT applied_seq FROM sync_marks WHERE station = ?", [station])
    return got[0][0] if got else 0


def station_last_seq(station_path: str | Path) -> int:
    return scalar(station_path, "SELECT coalesce(max(seq), 0) FROM outbox")


# -- the hub --------------------------------------------------------------------------------
def hub_order(order_id: str, ship_by: str, priority: int, lines: list[tuple[str, int]]) -> dict:
    from tests.station.conftest import SHIP_TO

    return {
        "order_id": order_id,
        "order_ref": "#" + order_id.rsplit("-", 1)[-1],
        "channel": "shopify",
        "tote": "TOTE-" + order_id.rsplit("-", 1)[-1],
        "ship_by": ship_by,
        "priority": priority,
        "ship_to": SHIP_TO,
        "carrier": "UPS",
        "service": "Ground",
        "lines": [{"line_no": n, "sku": sku, "qty": qty} for n, (sku, qty) in enumerate(lines, 1)],
    }


def station_orders(count: int, prefix: str = "") -> list[dict]:
    """``count`` orders of the crash test's mix (1-4 lines; lot, serial and keyed-quantity
    SKUs among them), the same for the same count; ids ``SO-1000`` ... (with ``prefix``)."""
    from tests.station.crash_child import order_set

    return [
        hub_order(prefix + order_id, ship_by, priority, lines)
        for order_id, ship_by, priority, lines in order_set(count)
    ]


def seed_catalogue(db, site: str = SITE) -> None:
    """The station tests' SKUs, barcodes, cartons and operators, and stock, on the site
    stream of ``db`` (a hub database), in the caller's transaction or its own."""
    from routing import feed, store
    from tests.station.conftest import SKUS

    with store.transaction(db):
        for sku, name, gtin, weight, (ln, w, h), tracking, keyable in SKUS:
            feed.upsert_sku(db, site, {
                "sku": sku, "name": name, "gtin": gtin, "weight_g": weight, "length_mm": ln,
                "width_mm": w, "height_mm": h, "tracking": tracking, "qty_keyable": keyable,
            })  # fmt: skip
            feed.upsert_barcode(db, site, {"code": gtin, "sku": sku, "units": 1, "kind": "gtin"})
            feed.upsert_barcode(db, site, {"code": sku, "sku": sku, "units": 1, "kind": "sku"})
            feed.record_movement(db, site, sku, RECEIPT, "receipt", f"po:{site}:{sku}")
        feed.upsert_barcode(
            db, site, {"code": "10012345678902", "sku": "BAT-AA-4", "units": 12, "kind": "gtin"}
        )
        for carton in CARTONS:
            feed.upsert_carton(db, site, carton)
        for operator in OPERATORS:
            feed.upsert_operator(db, site, operator)


def seed_hub(
    path: str | Path,
    orders: dict[str, list[dict]],
    *,
    site: str = SITE,
    published: bool = False,
) -> None:
    """Create the hub database at ``path``: catalogue, stock, and ``orders`` (station ->
    hub orders) assigned through ``routing.feed.assign_order``. ``published``: mark every
    stream change published, so that stations get them by snapshot or catch-up only."""
    from routing import feed, store

    db = store.open_db(path, synchronous="OFF")
    try:
        seed_catalogue(db, site)
        with store.transaction(db):
            for station, batch in orders.items():
                feed.ensure_station(db, site, station)
                for order in batch:
                    feed.assign_order(db, site, station, order)
            if published:
                db.execute("UPDATE stream_heads SET published_seq = seq")
    finally:
        db.close()


def hub_settings(port: int):
    from sync.mqtt import BrokerSettings

    return BrokerSettings(port=port, backoff_min=0.05, backoff_max=0.5)


# -- the station ----------------------------------------------------------------------------
def station_config(path: str | Path, port: int, station: str = STATION, site: str = SITE):
    from station.config import Packing, StationConfig, Sync

    return StationConfig(
        station_id=station,
        site=site,
        database=str(path),
        synchronous="NORMAL",  # survives kill -9 (WAL); FULL only adds power-cut safety
        packing=Packing(short_policy="ship_partial"),
        sync=Sync(enabled=True, port=port, reconnect_max_s=0.5),
    )


def new_station_db(path: str | Path) -> None:
    """A brand-new station database: schema only, both stream marks 0 (it will ask the
    hub for a snapshot)."""
    from station.store.db import open_db

    open_db(path, synchronous="NORMAL").close()


def start_station_sync(config, port: int, *, ack_timeout: float = 2.0):
    from sync.station import StationSync

    presence = {"operator": "B1001", "screen": "pack", "devices": {"scale": "ok"}}
    return StationSync(
        config.database, config, hub_settings(port), lambda: presence, ack_timeout=ack_timeout
    ).start()


class Confirmations:
    """The screen of ``tests.station.crash_child.Packer``: runs each service call and
    records (and, with ``emit``, prints) the outbox events it wrote."""

    def __init__(self, db, emit: Callable[..., None] | None = None) -> None:
        self.db = db
        self.emit = emit
        self.last_seq = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
        self.events: list[tuple[int, str, str]] = []
        self.calls = 0

    def call(self, name: str, fn: Callable[[], Any], **info: Any) -> tuple[Any, str | None]:
        from station.packing.errors import Refused

        refused = result = None
        try:
            result = fn()
        except Refused as exc:
            refused = exc.kind
        got = self.db.execute(
            "SELECT seq, event_id, type FROM outbox WHERE seq > ? ORDER BY seq", [self.last_seq]
        ).fetchall()
        if got:
            self.last_seq = got[-1][0]
        self.events += got
        self.calls += 1
        if self.emit is not None:
            if refused is not None:
                info["refused"] = refused
            self.emit(name, ev=[list(r) for r in got], **info)
        return result, refused


def packer(db, config, seed: int, emit: Callable[..., None] | None = None):
    """A ``crash_child.Packer`` on ``db`` (logged in), and its :class:`Confirmations`."""
    import random

    from station.packing.service import PackingService
    from tests.station.crash_child import PACKER, Packer

    screen = Confirmations(db, emit)
    service = PackingService(db, config)
    screen.call("log_in", lambda: service.log_in(PACKER))
    return Packer(db, service, screen, random.Random(seed)), screen


def pack_all(db, config, seed: int, stop: threading.Event | None = None, pace: float = 0.0):
    """Pack every order the station has (or until ``stop``); return the Confirmations."""
    p, screen = packer(db, config, seed)
    while (stop is None or not stop.is_set()) and p.step():
        if pace:
            time.sleep(pace)
    while p.print_one():
        pass
    return screen


# Event types with no effect at the hub (``routing.apply.RECORDED_ONLY``), in the shapes
# the service writes: what a backlog of a busy station mostly is.
def filler_payload(i: int, order_prefix: str = "FILL") -> tuple[str, dict[str, Any]]:
    order_id = f"{order_prefix}-{i // 8}"
    k = i % 8
    if k == 0:
        return "order_opened", {"order_id": order_id, "operator": "B1001"}
    if k in (1, 2, 3):
        return "item_scanned", {
            "order_id": order_id, "line_no": k, "sku": "MUG-WHT", "qty": 1, "package_no": 1,
            "lot": None, "serial": None, "expiry": None, "operator": "B1001",
        }  # fmt: skip
    if k == 4:
        return "carton_chosen", {
            "order_id": order_id,
            "package_no": 1,
            "carton": "BOX-S",
            "operator": "B1001",
        }
    if k == 5:
        return "package_weighed", {
            "order_id": order_id, "package_no": 1, "grams": 1170.4, "expected_g": 1170.0,
            "ok": True, "operator": "B1001",
        }  # fmt: skip
    if k == 6:
        return "label_queued", {"order_id": order_id, "package_no": 1, "operator": "B1001"}
    return "operator_logged_in", {"role": "packer", "operator": "B1001"}


def write_filler(db, station: str, n: int, start: int = 0) -> list[tuple[int, str, str]]:
    """``n`` outbox rows through ``record_event``, in one transaction; returns their
    (seq, event_id, type)."""
    from station.store.db import tx
    from station.store.outbox import record_event

    with tx(db):
        first = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
        for i in range(start, start + n):
            record_event(db, station, *filler_payload(i))
        return db.execute(
            "SELECT seq, event_id, type FROM outbox WHERE seq > ? ORDER BY seq", [first]
        ).fetchall()


# -- exactly once ---------------------------------------------------------------------------
@dataclass
class Tally:
    """What the comparison found (for the test's report)."""

    events: int = 0
    applied_seq: int = 0
    packed_orders: int = 0
    shipped_units: int = 0
    short_units: int = 0
    types: Counter = field(default_factory=Counter)


def expected_effects(
    events: list[tuple[int, str, str, dict]],
) -> tuple[dict[str, int], dict[str, int], dict[str, list[tuple]]]:
    """From a station's events alone: units shipped per SKU (scanned minus undone, of the
    orders whose last word is ``order_packed``), units short per SKU (``line_short``), and
    the packages of each packed order ``[(package_no, sscc, tracking, carton)]``."""
    scanned: dict[tuple[str, int], int] = defaultdict(int)
    sku_of: dict[tuple[str, int], str] = {}
    packed: dict[str, list[tuple] | None] = {}
    short: dict[str, int] = defaultdict(int)
    for _seq, _id, type_, data in events:
        if type_ == "item_scanned":
            key = (data["order_id"], int(data["line_no"]))
            scanned[key] += int(data["qty"])
            sku_of[key] = data["sku"]
        elif type_ == "scan_undone":
            scanned[(data["order_id"], int(data["line_no"]))] -= int(data["qty"])
        elif type_ == "line_short":
            short[data["sku"]] += int(data["qty"])
        elif type_ == "order_packed":
            packed[data["order_id"]] = sorted(
                (p["package_no"], p["sscc"], p["tracking"], p["carton"]) for p in data["packages"]
            )
        elif type_ == "label_voided":
            packed[data["order_id"]] = None
    ship: dict[str, int] = defaultdict(int)
    for (order_id, line_no), qty in scanned.items():
        if packed.get(order_id) is not None and qty:
            ship[sku_of[(order_id, line_no)]] += qty
    shipments = {o: p for o, p in packed.items() if p is not None}
    return dict(ship), dict(short), shipments


def check_exactly_once(
    hub_path: str | Path, station_path: str | Path, station: str = STATION
) -> Tally:
    """Assert that the hub holds exactly what the station recorded, once:

    * the hub's inbox for ``station`` is the station's outbox: the same (seq, event id,
      type) in the same order, each once, none refused, and ``applied_seq`` is the
      station's last seq;
    * the ledger's ``ship`` movements per SKU are the units the station's packed orders
      scanned (minus undone), its ``short`` movements per SKU the station's ``line_short``
      quantities; each order line's ship movement is its quantity minus its shorts, and a
      packed order holds no reservation any more;
    * the hub's packed orders and shipments are those of the station's ``order_packed``
      events (packages with their SSCC and tracking number).
    """
    with reading(station_path) as conn:
        outbox = [
            (seq, eid, type_, json.loads(payload))
            for seq, eid, type_, payload in conn.execute(
                "SELECT seq, event_id, type, payload FROM outbox ORDER BY seq"
            )
        ]
    with reading(hub_path) as conn:
        inbox = conn.execute(
            "SELECT seq, event_id, type, error FROM inbox WHERE station = ? ORDER BY rowid",
            [station],
        ).fetchall()
        mark = conn.execute(
            "SELECT applied_seq FROM sync_marks WHERE station = ?", [station]
        ).fetchone()
        ledger = conn.execute(
            "SELECT l.kind, l.sku, sum(l.qty) FROM ledger l JOIN orders o "
            "ON o.order_id = l.order_id WHERE o.station = ? AND l.kind IN ('ship', 'short') "
            "GROUP BY l.kind, l.sku",
            [station],
        ).fetchall()
        lines = conn.execute(
            "SELECT o.order_id, o.status, ol.line_no, ol.qty, ol.qty_short, "
            "coalesce((SELECT sum(qty) FROM ledger WHERE order_id = ol.order_id "
            "AND line_no = ol.line_no AND kind = 'ship'), 0), "
            "coalesce((SELECT sum(qty) FROM ledger WHERE order_id = ol.order_id "
            "AND line_no = ol.line_no AND kind = 'reservation'), 0) "
            "FROM orders o JOIN order_lines ol ON ol.order_id = o.order_id WHERE o.station = ?",
            [station],
        ).fetchall()
        hub_packed = {
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM orders WHERE station = ? AND status = 'packed'", [station]
            )
        }
        shipments: dict[str, list[tuple]] = defaultdict(list)
        for order_id, *package in conn.execute(
            "SELECT s.order_id, s.package_no, s.sscc, s.tracking, s.carton FROM shipments s "
            "JOIN orders o ON o.order_id = s.order_id WHERE o.station = ? "
            "ORDER BY s.order_id, s.package_no",
            [station],
        ):
            shipments[order_id].append(tuple(package))

    n = len(outbox)
    assert [e[0] for e in outbox] == list(range(1, n + 1)), "the station's seqs have a gap"
    assert len({e[1] for e in outbox}) == n, "an event id is twice in the station's outbox"
    sent = [(seq, eid, type_) for seq, eid, type_, _ in outbox]
    got = [(seq, eid, type_) for seq, eid, type_, _ in inbox]
    if got != sent:
        seen = Counter(s for s, _, _ in got)
        twice = sorted(s for s, c in seen.items() if c > 1)
        missing = sorted(set(range(1, n + 1)) - set(seen))
        foreign = [g for g in got if g not in set(sent)]
        raise AssertionError(
            f"hub inbox != station outbox: {len(got)} vs {n} events; twice {twice[:10]}, "
            f"missing {missing[:10]} ({len(missing)}), not the station's {foreign[:5]}"
        )
    refused = [(seq, error) for seq, _, _, error in inbox if error is not None]
    assert refused == [], f"the hub refused events: {refused[:5]}"
    assert mark is not None and mark[0] == n, f"applied_seq {mark} != the station's last seq {n}"

    ship, short, packed = expected_effects(outbox)
    hub_ship = {sku: -qty for kind, sku, qty in ledger if kind == "ship" and qty}
    hub_short = {sku: -qty for kind, sku, qty in ledger if kind == "short" and qty}
    assert hub_ship == ship, f"ship movements {hub_ship} != scanned by the station {ship}"
    assert hub_short == short, f"short movements {hub_short} != the station's shorts {short}"
    assert hub_packed == set(packed), (
        f"packed at the hub but not by the station: {sorted(hub_packed - set(packed))}; "
        f"packed by the station, not at the hub: {sorted(set(packed) - hub_packed)}"
    )
    assert dict(shipments) == packed, "shipments differ from the station's order_packed events"
    for order_id, status, line_no, qty, qty_short, shipped, reserved in lines:
        expected = -(qty - qty_short) if status == "packed" else 0
        assert shipped == expected, f"{order_id}/{line_no}: ship {shipped}, expected {expected}"
        if status == "packed":
            assert reserved == 0, f"{order_id}/{line_no}: {reserved} still reserved once packed"
    return Tally(
        events=n,
        applied_seq=mark[0],
        packed_orders=len(packed),
        shipped_units=sum(ship.values()),
        short_units=sum(short.values()),
        types=Counter(e[2] for e in outbox),
    )


def check_prefix(hub_path: str | Path, station_path: str | Path, station: str = STATION) -> int:
    """Mid-run: the hub holds the station's events 1..applied_seq, each once, with the
    same ids (nothing foreign, nothing twice, no hole). Returns applied_seq."""
    with reading(hub_path) as conn:
        got = conn.execute(
            "SELECT seq, event_id FROM inbox WHERE station = ? ORDER BY rowid", [station]
        ).fetchall()
        mark = conn.execute(
            "SELECT coalesce(max(applied_seq), 0) FROM sync_marks WHERE station = ?", [station]
        ).fetchone()[0]
    with reading(station_path) as conn:
        ids = dict(conn.execute("SELECT seq, event_id FROM outbox WHERE seq <= ?", [mark]))
    assert [s for s, _ in got] == list(range(1, mark + 1)), "the hub's inbox is not 1..mark"
    assert all(ids.get(s) == eid for s, eid in got), "the hub holds an event the station has not"
    return mark


# -- child processes: tests.procs.Child ----------------------------------------------------


def emitter() -> Callable[..., None]:
    """``emit(call, **info)``: one JSON line on stdout, flushed, from any thread; ``t`` is
    ``time.monotonic()`` (one clock for the whole machine)."""
    lock = threading.Lock()

    def emit(call: str, **info: Any) -> None:
        info["t"] = round(time.monotonic(), 4)
        line = json.dumps({"call": call, **info}, separators=(",", ":")) + "\n"
        with lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    return emit
