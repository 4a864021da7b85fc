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
WH2" can be answered later (:func:`decisions`, ``doms hub explain ORDER``).

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
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed, parts
from routing.engine import Inventory, Order, OrderLine, Plan, Router
from routing.geo import postal_centroid
from routing.intake.queue import Part, assign_whole, hold_order, mark_routed, new_orders
from routing.sites import engine_sites
from routing.store import OPEN_STATUSES

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
    sites = engine_sites(db)
    if not sites:
        return summary
    router = Router(sites, rates, policy)
    stations = StationPicker(db)
    load = _loads_today(db, router.network.ids)
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
    catalog = _catalog(db, skus)
    ids = [o["order_id"] for o in batch]
    avoid = _short_sites(db, ids)
    promises = _inherited_promises(db, [o["order_id"] for o in batch if not o["deliver_by"]])
    at = now_iso()
    policy = router.policy.name
    moved: dict[str, set[str]] = {}  # stock levels: one per (site, SKU) per chunk
    whole: list[tuple[dict, Part, Plan, str]] = []  # one part ships all: assigned in bulk
    for order in batch:
        oid = order["order_id"]
        try:
            eo = engine_order(order, catalog, deliver_by=order["deliver_by"] or promises.get(oid))
        except ValueError as exc:
            _hold(db, oid, f"cannot route: {exc}", at, policy, summary)
            continue
        plan = _route_avoiding(router, eo, inventory, avoid.get(oid))
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


# -- what the engine reads ---------------------------------------------------------------
def engine_order(
    order: dict[str, Any],
    catalog: dict[str, tuple[float, tuple[float, float, float]]],
    *,
    deliver_by: str | None = None,
) -> Order:
    """The engine's :class:`Order` for a queue entry (``new_orders`` shape). Destination:
    ``ship_to``'s ``lat``/``lon`` when it has them, else its postal code's centroid.
    ``catalog``: ``{sku: (weight_g, (L, W, H) mm)}``. A ``deliver_by`` promise becomes
    the deadline, counted from now (the order ships from now on, whenever it was placed).
    Raises ValueError (routing.geo.UnknownPostalCode among them) when the destination
    cannot be placed."""
    ship_to = order["ship_to"]
    country = (ship_to.get("country") or "US").upper()
    postal = str(ship_to.get("postal_code") or "")
    if ship_to.get("lat") is not None and ship_to.get("lon") is not None:
        lat, lon = float(ship_to["lat"]), float(ship_to["lon"])
    else:
        lat, lon = postal_centroid(postal, country)
    lines = []
    for line in order["lines"]:
        qty = line["qty"] - (line.get("qty_short") or 0)
        if qty > 0:
            weight, dims = catalog.get(line["sku"], (0.0, (0.0, 0.0, 0.0)))
            lines.append(OrderLine(line["line_no"], line["sku"], qty, weight, dims))
    dated: dict[str, Any] = {}
    if deliver_by:
        # Dated routing costs more per order (ship dates per site): only when promised.
        due = dt.datetime.fromisoformat(deliver_by.replace("Z", "+00:00"))
        dated = {"placed_at": dt.datetime.now(dt.UTC), "deadline": due.date()}
    return Order(
        order["order_id"], lat, lon, tuple(lines), country=country, postal_code=postal,
        channel=order.get("channel") or "web", **dated,
    )  # fmt: skip


def load_inventory(
    db: sqlite_utils.Database,
    sites: tuple[str, ...],
    skus: Iterable[str] | None = None,
    load: np.ndarray | None = None,
) -> Inventory:
    """The engine's inventory: per site, available to promise of ``skus`` (all when
    None), from ``stock_totals`` (the ledger's sums, kept by triggers) in one query.
    ``load``: packages assigned per site today, shared, not copied."""
    sql = "SELECT site, sku, available FROM stock_totals WHERE available > 0"
    args: list[Any] = []
    if skus is not None:
        sql += " AND sku IN (SELECT value FROM json_each(?))"
        args.append(json.dumps(sorted(skus)))
    levels: dict[str, dict[str, int]] = {s: {} for s in sites}
    for site, sku, available in db.execute(sql, args).fetchall():
        if site in levels:
            levels[site][sku] = int(available)
    inventory = Inventory.from_levels(levels, sites)
    if load is not None:
        object.__setattr__(inventory, "load", load)
    return inventory


def _loads_today(db: sqlite_utils.Database, sites: tuple[str, ...]) -> np.ndarray:
    # Packages assigned per site since midnight UTC, for the daily capacity rule.
    midnight = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT00:00:00")
    counts = dict(
        db.execute(
            "SELECT site, count(*) FROM orders WHERE site IS NOT NULL AND assigned_at >= ? "
            "GROUP BY site",
            [midnight],
        ).fetchall()
    )
    return np.array([counts.get(s, 0) for s in sites], np.int64)


def _catalog(db, skus: set[str]) -> dict[str, tuple[float, tuple[float, float, float]]]:
    rows = db.execute(
        "SELECT sku, weight_g, length_mm, width_mm, height_mm FROM skus "
        "WHERE sku IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(skus))],
    ).fetchall()
    return {sku: (float(w), (float(a), float(b), float(c))) for sku, w, a, b, c in rows}


def _short_sites(db, order_ids: list[str]) -> dict[str, str]:
    rows = db.execute(
        "SELECT p.order_id, o.site FROM order_parts p JOIN orders o "
        "ON o.order_id = p.parent_order_id WHERE p.kind = 'short' "
        "AND p.order_id IN (SELECT value FROM json_each(?))",
        [json.dumps(order_ids)],
    ).fetchall()
    return {oid: site for oid, site in rows if site}


def _inherited_promises(db, order_ids: list[str]) -> dict[str, str]:
    # A part split off a channel order keeps the order's promise to the buyer.
    if not order_ids:
        return {}
    rows = db.execute(
        "WITH RECURSIVE up(order_id, anc) AS ("
        "  SELECT order_id, parent_order_id FROM order_parts "
        "  WHERE order_id IN (SELECT value FROM json_each(?)) "
        "  UNION ALL SELECT up.order_id, p.parent_order_id FROM up "
        "  JOIN order_parts p ON p.order_id = up.anc) "
        "SELECT up.order_id, c.deliver_by FROM up JOIN channel_orders c ON c.order_id = up.anc "
        "WHERE c.deliver_by IS NOT NULL",
        [json.dumps(order_ids)],
    ).fetchall()
    return dict(rows)


# -- stations ----------------------------------------------------------------------------
class StationPicker:
    """The least loaded station of a site (see the module docstring), with open-order
    counts read once and kept up to date in memory as orders are assigned."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        placeholders = ", ".join("?" for _ in OPEN_STATUSES)
        rows = db.execute(
            "SELECT s.site, s.station_id, coalesce(p.online, 0), "
            f"(SELECT count(*) FROM orders o WHERE o.station = s.station_id "
            f" AND o.status IN ({placeholders})) "
            "FROM stations s LEFT JOIN presence p ON p.station = s.station_id",
            list(OPEN_STATUSES),
        ).fetchall()
        self.open: dict[str, int] = {}
        self._by_site: dict[str, list[str]] = {}
        online: dict[str, list[str]] = {}
        for site, station, is_online, n in rows:
            self.open[station] = n
            self._by_site.setdefault(site, []).append(station)
            if is_online:
                online.setdefault(site, []).append(station)
        self._by_site |= online  # where some are online, only those

    def pick(self, site: str) -> str:
        """The station to give the next order at ``site``; counts it. Raises ValueError
        for a site without stations."""
        candidates = self._by_site.get(site)
        if not candidates:
            raise ValueError(f"site {site} has no station")
        station = min(candidates, key=lambda s: (self.open[s], s))
        self.open[station] += 1
        return station

    def release(self, station: str) -> None:
        """Uncount one order picked for ``station`` (its assignment was refused)."""
        self.open[station] -= 1


def decisions(db: sqlite_utils.Database, order_id: str) -> list[dict[str, Any]]:
    """Every routing decision about ``order_id``, oldest first: ``{at, policy, outcome,
    plan}`` (plan: :meth:`Plan.to_dict`). A part split off by a plan (``<order>-2``) has
    none of its own: its parent's are returned."""
    order = order_id
    while True:
        rows = db.execute(
            "SELECT at, policy, outcome, plan FROM routing_decisions WHERE order_id = ? "
            "ORDER BY decision_id",
            [order],
        ).fetchall()
        if rows:
            break
        parent = db.execute(
            "SELECT parent_order_id FROM order_parts WHERE order_id = ? AND kind = 'split'",
            [order],
        ).fetchone()
        if parent is None:
            return []
        order = parent[0]
    return [
        {
            "order_id": order,
            "at": at,
            "policy": policy,
            "outcome": outcome,
            "plan": json.loads(plan),
        }  # fmt: skip
        for at, policy, outcome, plan in rows
    ]
