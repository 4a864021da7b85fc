"""The hub's routing run: ``new`` orders in, each to a site and station, or held.

:func:`route_pending` takes the routing queue (:func:`routing.intake.queue.new_orders`) in
chunks. Per chunk, in one write transaction: the engine's inventory is read once from the
ledger's sums (available to promise per site: on hand less reservations), every order is
routed with one :class:`~routing.engine.Router` against it, and each plan is taken out of
it in memory (``Inventory.reserve``), so later orders of the chunk see what earlier ones
took. Then per order:

* a plan that ships everything: :func:`~routing.intake.queue.mark_routed` (stock reserved
  as ledger movements, ``order_assigned`` on each station's stream);
* a plan that ships part: the unfilled units are split off into a back-order
  ``<order>-B<n>`` (:mod:`routing.parts`), held with the engine's reason, and the rest is
  routed;
* a plan that ships nothing (or an order the engine cannot take, e.g. a destination
  without coordinates): :func:`~routing.intake.queue.hold_order` with the reason.

Every decision is kept in ``routing_decisions`` as the plan's JSON, so "why did this go to
WH2" can be answered later (:func:`routing.explain.decisions`, ``doms hub explain ORDER``).

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
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed, parts, store
from routing.engine import Inventory, Order, Plan, Router
from routing.engine.rules import as_policy
from routing.engine_io import (
    StationPicker,
    catalog,
    engine_order,
    inherited_promises,
    load_inventory,
    loads_today,
    short_sites,
)
from routing.intake.queue import Part, assign_whole, hold_order, mark_routed, new_orders
from routing.sites import engine_sites

log = logging.getLogger(__name__)
CHUNK = 500  # orders per transaction: long enough to amortise, short for the write lock
_JSON = msgspec.json.Encoder()


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
) -> RouteSummary:
    """Route up to ``limit`` orders waiting in the queue (all when None), earliest ship-by
    first; return what was done. ``policy``: a Policy or spec string (None: the engine's
    default, ``min_splits``); ``rates``: a cost model or rate table (None: the bundled
    carrier rates). With no site to route to, nothing is routed and nothing is held.
    Raises ValueError for an unknown policy."""
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
    stations = StationPicker(db)
    # Today's packages matter only to the capacity rule; counting them reads every order.
    load = loads_today(db, router.network.ids) if router.network.has_capacity else None
    seen: set[str] = set()
    while limit is None or summary.orders < limit:
        n = chunk if limit is None else min(chunk, limit - summary.orders)
        with transaction(db):
            batch = [o for o in new_orders(db, limit=n) if o["order_id"] not in seen]
            if not batch:
                break
            _route_chunk(db, router, stations, load, batch, summary)
        seen.update(o["order_id"] for o in batch)
        summary.orders += len(batch)
    return summary


def _route_chunk(db, router: Router, stations: StationPicker, load, batch, summary) -> None:
    skus = {line["sku"] for o in batch for line in o["lines"]}
    inventory = load_inventory(db, router.network.ids, skus, load)
    weights = catalog(db, skus)
    ids = [o["order_id"] for o in batch]
    avoid = short_sites(db, ids)
    promises = inherited_promises(db, [o["order_id"] for o in batch if not o["deliver_by"]])
    at = now_iso()
    policy = router.policy.name
    moved: dict[str, set[str]] = {}  # stock levels: one per (site, SKU) per chunk
    whole: list[tuple[dict, Part, Plan, str]] = []  # one part ships all: assigned in bulk
    for order in batch:
        oid = order["order_id"]
        try:
            eo = engine_order(order, weights, deliver_by=order["deliver_by"] or promises.get(oid))
        except ValueError as exc:
            _hold(db, oid, f"cannot route: {exc}", at, policy, summary)
            continue
        try:
            plan = _route_avoiding(router, eo, inventory, avoid.get(oid))
        except Exception as exc:  # noqa: BLE001
            # An engine failure on one order must not block the queue behind it forever.
            log.exception("routing %s failed", oid)
            _hold(db, oid, f"routing failed: {type(exc).__name__}: {exc}", at, policy, summary)
            continue
        data = _JSON.encode(plan.to_dict()).decode()
        if not plan.shipments:
            _hold(db, oid, unfilled_reason(plan), at, policy, summary, data)
        elif len(plan.shipments) == 1 and not plan.unfilled:
            s = plan.shipments[0]
            part = Part(site=s.site, station=stations.pick(s.site), carrier=s.carrier,
                        service=s.service)  # fmt: skip
            whole.append((order, part, plan, data))
            inventory.reserve(plan)
        elif _assign_plan(db, order, plan, data, stations, at, policy, summary, moved):
            inventory.reserve(plan)
    if whole:
        try:
            with transaction(db):
                summary.routed += assign_whole(db, [(o, p) for o, p, _, _ in whole], moved=moved)
                db.conn.executemany(
                    "INSERT INTO routing_decisions (order_id, at, policy, outcome, plan) "
                    "VALUES (?, ?, ?, 'routed', ?)",
                    [(o["order_id"], at, policy, data) for o, _, _, data in whole],
                )
        except ValueError:
            # Cannot happen for orders read in this transaction; if it does, each order
            # goes the slow way and a refused one is held with its reason.
            for order, part, plan, data in whole:
                stations.release(part.station)
                inventory.release(plan)
                if _assign_plan(db, order, plan, data, stations, at, policy, summary, moved):
                    inventory.reserve(plan)
    for site, skus in moved.items():
        feed.publish_stock(db, site, skus)


def _assign_plan(db, order, plan: Plan, data: str, stations, at, policy, summary, moved) -> bool:
    # One order through mark_routed: plans of several parts, or with a back-order.
    oid = order["order_id"]
    picked: list[str] = []
    try:
        # mark_routed is atomic; a back-order split before it needs a savepoint of its
        # own, so that a refused plan leaves no half-split order behind.
        with transaction(db) if plan.unfilled else contextlib.nullcontext():
            child = None
            if plan.unfilled:
                units: dict[int, int] = {}
                for u in plan.unfilled:
                    units[u.line_no] = units.get(u.line_no, 0) + u.qty
                child = parts.split_off(db, oid, units, kind="backorder", take_from_parent=True)
            plan_parts = []
            for s in plan.shipments:
                picked.append(stations.pick(s.site))
                plan_parts.append(
                    Part(site=s.site, station=picked[-1], carrier=s.carrier,
                         service=s.service, lines={n: q for n, _, q in s.lines})
                )  # fmt: skip
            placed = mark_routed(db, oid, plan_parts, moved=moved)
            _record(db, oid, at, policy, "partial" if child else "routed", data)
            if child is not None:
                reason = unfilled_reason(plan)
                hold_order(db, child, reason)
                _record(db, child, at, policy, "held", data)
                summary.backorders[child] = reason
    except ValueError as exc:
        for station in picked:
            stations.release(station)
        _hold(db, oid, f"cannot route: {exc}", at, policy, summary, data)
        return False
    summary.routed += placed
    return True


def _route_avoiding(router: Router, order: Order, inventory: Inventory, site: str | None) -> Plan:
    # A short pick's re-route must not go back to the site that was short: its ledger
    # still believes in stock the packer could not find. Its rows are zeroed for this
    # order only.
    i = inventory.site_index.get(site) if site else None
    if i is None:
        return router.route(order, inventory)
    saved = inventory.qty[i].copy()
    inventory.qty[i] = 0
    try:
        return router.route(order, inventory)
    finally:
        inventory.qty[i] = saved


def _hold(db, order_id: str, reason: str, at: str, policy: str, summary, data=None) -> None:
    try:
        hold_order(db, order_id, reason)
    except ValueError:
        return  # no longer new (cancelled meanwhile): nothing to hold
    if data is None:
        data = json.dumps({"order_id": order_id, "policy": policy, "summary": reason})
    _record(db, order_id, at, policy, "held", data)
    summary.held[order_id] = reason


def _record(db, order_id: str, at: str, policy: str, outcome: str, plan_json: str) -> None:
    db.execute(
        "INSERT INTO routing_decisions (order_id, at, policy, outcome, plan) "
        "VALUES (?, ?, ?, ?, ?)",
        [order_id, at, policy, outcome, plan_json],
    )


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
