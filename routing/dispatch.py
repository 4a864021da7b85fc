"""The hub's routing run: ``new`` orders in, each to a site and station, or held.

:func:`route_pending` takes the routing queue (:func:`routing.intake.queue.new_orders`) in
chunks. Per chunk, in one write transaction: the engine's inventory is read once from the
ledger's sums (available to promise per site: on hand less reservations), every order is
routed with one :class:`~routing.engine.Router` against it, and each plan is taken out of
it in memory (``Inventory.reserve``), so later orders of the chunk see what earlier ones
took. Then:

* a plan that ships everything, from one site or several: written with the chunk's other
  plans by :func:`~routing.intake.queue.assign_plans` (the order to its first part's
  station, each further part as ``<order>-2``, ``-3`` ..., stock reserved as ledger
  movements, ``order_assigned`` on each station's stream) in a dozen statements for the
  whole chunk;
* a plan that ships part: the same, after the unfilled units are split off into a
  back-order ``<order>-B<n>`` (:mod:`routing.parts`), held with the engine's reason;
* a plan that ships nothing (or an order the engine cannot take, e.g. a destination
  without coordinates): :func:`~routing.intake.queue.hold_order` with the reason.

An order the bulk writer cannot take as it is (a part's id already taken, movements
already recorded, lines already short) goes through
:func:`~routing.intake.queue.mark_routed` on its own, in queue order, which refuses it with
a reason or takes it; ``route_pending(..., bulk=False)`` sends every order that way (the
reference the bulk writer is tested against: the same tables, row ids and timestamps
aside). The bulk writer writes in the chunk's transaction without a savepoint of its own
(one would make each of its statements about 2.5 times as slow): should it refuse a chunk
anyway, the chunk is rolled back whole and routed again the per-order way. The cyclic
garbage collector is paused while a chunk is routed (its full collections over the chunk's
live objects cost a fifth of the run).

Every decision is kept in ``routing_decisions`` in the compact form of
:func:`routing.explain.encode_decision` (the plan's fields and what the engine saw), so
"why did this go to WH2" can be answered later (:func:`routing.explain.decisions`, ``doms
hub explain ORDER``, which rebuilds the site reports).

Sites: those with a location and at least one station (:func:`routing.sites.
engine_sites`). Station within the chosen site: the *least loaded* one, i.e. with the
fewest open orders (assigned, packing or on hold at it), ties to the lowest station id;
when some of the site's stations are online (``presence``), only those are considered, so
work goes to people who are there; when none is, any of them (the order waits in the
station's stream). A short pick's re-route (kind ``short``) never goes back to the site
that was short.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed, parts, store
from routing.backorders import requeue_backorders
from routing.engine import Inventory, Order, Plan, Router
from routing.engine.rules import as_policy
from routing.engine_io import (
    StationPicker,
    catalog,
    engine_order,
    inherited_promises,
    load_inventory,
    short_sites,
)
from routing.explain import encode_decision, run_context, seen
from routing.intake.queue import (
    Part,
    Planned,
    assign_plans,
    bulk_blocked,
    fits,
    hold_order,
    mark_routed,
    new_orders,
)
from routing.sites import engine_sites, loads_today

log = logging.getLogger(__name__)
CHUNK = 500  # orders per transaction: long enough to amortise, short for the write lock


@dataclass(slots=True)
class RouteSummary:
    """What one run did: the orders now at stations, those held (with why), the
    back-orders split off, and the orders that failed outright."""

    routed: list[str] = field(default_factory=list)  # order ids at stations (parts included)
    held: dict[str, str] = field(default_factory=dict)
    backorders: dict[str, str] = field(default_factory=dict)  # child id -> reason
    orders: int = 0  # orders taken from the queue

    def lines(self) -> list[str]:
        """For people: one line of counts, then one per held order."""
        head = (
            f"{self.orders} orders: {len(self.routed)} assigned to stations, "
            f"{len(self.held)} held, {len(self.backorders)} back-orders split off"
        )
        held = {**self.held, **self.backorders}
        return [head, *(f"  held {oid}: {why}" for oid, why in held.items())]

    def to_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "routed": self.routed,
            "held": self.held,
            "backorders": self.backorders,
        }


def route_pending(
    db: sqlite_utils.Database,
    policy: str | Any = None,
    rates: Any = None,
    limit: int | None = None,
    *,
    chunk: int = CHUNK,
    bulk: bool = True,
) -> RouteSummary:
    """Route up to ``limit`` orders waiting in the queue (all when None), earliest ship-by
    first; return what was done. ``policy``: a Policy or spec string (None: the engine's
    default, ``min_splits``); ``rates``: a cost model or rate table (None: the bundled
    carrier rates). With no site to route to, nothing is routed and nothing is held.
    ``bulk=False`` writes each order on its own (:func:`~routing.intake.queue.
    mark_routed`), the reference the bulk writer is tested against. Raises ValueError
    for an unknown policy."""
    summary = RouteSummary()
    policy = as_policy(policy)  # raises for an unknown one, sites or not
    sites = engine_sites(db)
    if (
        not sites
        or not db.execute(
            "SELECT 1 FROM orders WHERE status = 'new' AND station IS NULL LIMIT 1"
        ).fetchone()
    ):
        return summary  # cheap when idle: hub run asks every few seconds
    router = Router(sites, rates, policy)
    run = _Run(db, router, run_context(router.network.sites, router.policy, rates), bulk)
    # Today's packages matter only to the capacity rule; counting them reads every order.
    load = loads_today(db, router.network.ids) if router.network.has_capacity else None
    seen: set[str] = set()
    while limit is None or summary.orders < limit:
        n = chunk if limit is None else min(chunk, limit - summary.orders)
        before = None if load is None else load.copy()
        try:
            with _gc_paused():
                batch = _chunk(run, load, n, seen, summary)
        except _BulkRefused:
            # Rolled back whole: the chunk again, each order the per-order way (what
            # bulk=False does), from the stock and station counts before it.
            log.warning("the bulk writer refused a chunk: routing it order by order")
            if load is not None:
                load[:] = before
            batch = _chunk(dataclasses.replace(run, bulk=False), load, n, seen, summary)
            run.stations = StationPicker(db)  # the open orders as that chunk left them
        if not batch:
            break
        seen.update(o["order_id"] for o in batch)
        summary.orders += len(batch)
    return summary


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A chunk keeps thousands of objects alive (orders, plans, rows) that outlive the
    # young generations: the cyclic collector ran a full collection about once per
    # thousand orders, 30 ms of the 170 it took to route them. What is freed in a chunk
    # is freed by reference counting; the collector runs again after it.
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _BulkRefused(Exception):
    """The bulk writer refused a chunk after writing part of it: roll the chunk back."""


def _chunk(run: _Run, load, n: int, seen: set[str], summary: RouteSummary) -> list:
    # One transaction; what it did joins the summary only once committed.
    done = RouteSummary()
    with transaction(run.db):
        batch = [o for o in new_orders(run.db, limit=n) if o["order_id"] not in seen]
        if batch:
            _route_chunk(run, load, batch, done)
    summary.routed += done.routed
    summary.held |= done.held
    summary.backorders |= done.backorders
    return batch


@dataclass(slots=True)
class _Run:
    """What the chunks of one run share."""

    db: sqlite_utils.Database
    router: Router
    context: msgspec.Raw  # the decisions' shared part (routing.explain.run_context)
    bulk: bool
    stations: StationPicker = field(init=False)

    def __post_init__(self) -> None:
        self.stations = StationPicker(self.db)


@dataclass(slots=True)
class _Chunk:
    """One chunk's state: its time, the stock levels to publish, the decisions to keep."""

    at: str
    policy: str
    moved: dict[str, set[str]] = field(default_factory=dict)  # one level per (site, SKU)
    # (order_id, outcome, decision): a decision is (plan, what the engine saw), encoded
    # when written (routing.explain.encode_decision), or text for a hold without a plan.
    decisions: list[tuple[str, str, Any]] = field(default_factory=list)

    def record(self, order_id: str, outcome: str, decision: Any) -> None:
        self.decisions.append((order_id, outcome, decision))

    def write_decisions(self, db: sqlite_utils.Database, context: msgspec.Raw) -> None:
        """Keep the chunk's decisions, the run's context in the first of them only."""
        if not self.decisions:
            return
        first = db.execute("SELECT coalesce(max(decision_id), 0) + 1 FROM routing_decisions")
        first = holder = first.fetchone()[0]
        rows = []
        for n, (order_id, outcome, decision) in enumerate(self.decisions, first):
            if isinstance(decision, tuple):
                run = context if holder == n else holder
                decision = encode_decision(*decision, run)
            elif holder == n:
                holder += 1  # a plain hold holds no context: the next decision does
            rows.append((n, order_id, self.at, self.policy, outcome, decision))
        db.conn.executemany(
            "INSERT INTO routing_decisions (decision_id, order_id, at, policy, outcome, plan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


def _route_chunk(run: _Run, load, batch: list[dict[str, Any]], summary: RouteSummary) -> None:
    db, router = run.db, run.router
    skus = {line["sku"] for o in batch for line in o["lines"]}
    inventory = load_inventory(db, router.network.ids, skus, load)
    weights = catalog(db, skus)
    avoid = short_sites(db, [o["order_id"] for o in batch])
    promises = inherited_promises(db, [o["order_id"] for o in batch if not o["deliver_by"]])
    chunk = _Chunk(now_iso(), router.policy.name)
    capacity = router.network.has_capacity
    planned: list[tuple[Planned, Plan, Any]] = []
    # Known before routing, so that an order the bulk writer cannot take goes the
    # per-order way in queue order, as it would with bulk=False.
    most_parts = len(router.network.ids)
    blocked = bulk_blocked(db, batch, most_parts) if run.bulk else set()
    for order in batch:
        oid = order["order_id"]
        try:
            eo = engine_order(order, weights, deliver_by=order["deliver_by"] or promises.get(oid))
        except ValueError as exc:
            _hold(db, oid, f"cannot route: {exc}", chunk, summary)
            continue
        row = inventory.site_index.get(avoid[oid]) if oid in avoid else None
        try:
            what = seen(eo, inventory, row, capacity)
            plan = _route_avoiding(router, eo, inventory, row)
        except Exception as exc:  # noqa: BLE001
            # An engine failure on one order must not block the queue behind it forever.
            log.exception("routing %s failed", oid)
            _hold(db, oid, f"routing failed: {type(exc).__name__}: {exc}", chunk, summary)
            continue
        data = (plan, what)
        if not plan.shipments:
            _hold(db, oid, unfilled_reason(plan), chunk, summary, data)
            continue
        try:
            entry = _planned(order, plan, run.stations)
        except ValueError as exc:  # a site without stations: engine_sites has none such
            _hold(db, oid, f"cannot route: {exc}", chunk, summary, data)
            continue
        # More packages than sites (a site ships several): part ids bulk_blocked did
        # not check, so the per-order path, which checks its own.
        if run.bulk and oid not in blocked and len(entry.parts) <= most_parts and fits(entry):
            planned.append((entry, plan, data))
            inventory.reserve(plan)
        elif _assign_plan(db, entry, plan, data, run.stations, chunk, summary):
            inventory.reserve(plan)
    if planned:
        _assign_bulk(run, planned, chunk, summary)
    chunk.write_decisions(db, run.context)
    feed.publish_stocks(db, chunk.moved)


def _planned(order: dict[str, Any], plan: Plan, stations: StationPicker) -> Planned:
    # The stations are picked here, in queue order, whichever way the plan is written.
    picked: list[str] = []
    at_site: dict[str, str] = {}
    try:
        for s in plan.shipments:
            # A site shipping several packages of the order gives them to one packer: one
            # pick walk, and the cartons leave together.
            station = at_site[s.site] = stations.pick(s.site, at_site.get(s.site))
            picked.append(station)
    except ValueError:
        for station in picked:
            stations.release(station)
        raise
    whole = len(plan.shipments) == 1 and not plan.unfilled
    parts = [
        Part(site=s.site, station=station, carrier=s.carrier, service=s.service,
             lines=None if whole else {n: q for n, _, q in s.lines})
        for s, station in zip(plan.shipments, picked, strict=True)
    ]  # fmt: skip
    backorder: dict[int, int] = {}
    for u in plan.unfilled:
        backorder[u.line_no] = backorder.get(u.line_no, 0) + u.qty
    reason = unfilled_reason(plan) if backorder else ""
    return Planned(order=order, parts=parts, backorder=backorder, reason=reason)


def _assign_bulk(run: _Run, planned, chunk: _Chunk, summary) -> None:
    try:
        # No savepoint of its own (each write statement would cost 2.5 times as much):
        # a refusal, which cannot happen for orders read and checked in this transaction,
        # rolls the chunk back and route_pending routes it again order by order.
        done = assign_plans(run.db, [p for p, _, _ in planned], moved=chunk.moved, savepoint=False)
    except ValueError as exc:
        raise _BulkRefused(str(exc)) from exc
    for (entry, _, data), result in zip(planned, done, strict=True):
        _routed(entry, data, result.placed, result.backorder, chunk, summary)


def _assign_plan(db, entry: Planned, plan: Plan, data, stations, chunk, summary) -> bool:
    # One order through split_off and mark_routed: the reference path, and the fallback.
    oid = entry.order["order_id"]
    try:
        # mark_routed is atomic; a back-order split before it needs a savepoint of its
        # own, so that a refused plan leaves no half-split order behind.
        with transaction(db):
            child = None
            if entry.backorder:
                child = parts.split_off(
                    db, oid, entry.backorder, kind="backorder", take_from_parent=True
                )
            placed = mark_routed(db, oid, entry.parts, moved=chunk.moved)
            if child is not None:
                hold_order(db, child, entry.reason)
    except ValueError as exc:
        for part in entry.parts:
            stations.release(part.station)
        _hold(db, oid, f"cannot route: {exc}", chunk, summary, data)
        return False
    _routed(entry, data, placed, child, chunk, summary)
    return True


def _routed(entry: Planned, data, placed, child: str | None, chunk: _Chunk, summary) -> None:
    chunk.record(entry.order["order_id"], "partial" if child else "routed", data)
    summary.routed += placed
    if child is not None:
        chunk.record(child, "held", data)
        summary.backorders[child] = entry.reason


def _route_avoiding(router: Router, order: Order, inventory: Inventory, i: int | None) -> Plan:
    # A short pick's re-route must not go back to the site that was short: its ledger
    # still believes in stock the packer could not find. Its row is zeroed for this
    # order only.
    if i is None:
        return router.route(order, inventory)
    saved = inventory.qty[i].copy()
    inventory.qty[i] = 0
    try:
        return router.route(order, inventory)
    finally:
        inventory.qty[i] = saved


def _hold(db, order_id: str, reason: str, chunk: _Chunk, summary, data=None) -> None:
    try:
        hold_order(db, order_id, reason)
    except ValueError:
        return  # no longer new (cancelled meanwhile): nothing to hold
    if data is None:
        data = json.dumps({"order_id": order_id, "policy": chunk.policy, "summary": reason})
    chunk.record(order_id, "held", data)
    summary.held[order_id] = reason


def unfilled_reason(plan: Plan) -> str:
    """Why ``plan`` leaves units behind, per line (the engine's words), for a hold."""
    reasons = [f"line {u.line_no} {u.sku} x{u.qty}: {u.reason}" for u in plan.unfilled]
    return "; ".join(reasons) or plan.summary


class RoutingLoop:
    """``route_pending`` every ``every`` seconds on a thread of its own, with its own
    connection (SQLite in WAL: it and the sync worker take turns at the write lock, one
    chunk at a time). ``on_routed`` is called after a run that assigned something (the
    hub wakes its publisher with it, so stations hear at once)."""

    def __init__(
        self,
        db_path: str,
        policy: str | None = None,
        every: float = 2.0,
        *,
        on_routed: Callable[[RouteSummary], None] | None = None,
        synchronous: str = "FULL",
    ) -> None:
        self.db_path, self.policy, self.every = db_path, policy, every
        self.on_routed = on_routed
        self.synchronous = synchronous
        self.runs = self.routed = self.held = self.errors = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-routing", daemon=True)

    def start(self) -> RoutingLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        db = store.open_db(self.db_path, synchronous=self.synchronous)
        try:
            while not self._halt.is_set():
                try:
                    requeue_backorders(db)  # stock arrived: held back-orders go back
                    summary = route_pending(db, self.policy)
                except Exception:  # noqa: BLE001
                    # A busy timeout, or an order the code did not foresee: logged, and
                    # the next run tries again. A loop that died would stop all routing
                    # while the hub looked healthy.
                    log.exception("routing run failed")
                    self.errors += 1
                else:
                    self.runs += 1
                    self.routed += len(summary.routed)
                    self.held += len(summary.held) + len(summary.backorders)
                    if summary.routed and self.on_routed is not None:
                        self.on_routed(summary)
                self._halt.wait(self.every)
        finally:
            db.close()
