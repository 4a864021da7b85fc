"""Per-network and per-order precomputation shared by the rule and cost-optimal policies,
and the step that turns an allocation into a :class:`~routing.engine.model.Plan`.

:class:`Network` holds the sites as arrays and caches distances per destination, so a stream
of orders to the same places computes each site-destination distance once.
:class:`OrderContext` is one order against one inventory snapshot: its *units* (a line, or a
ship-together group, the smallest thing that goes to one site), which sites could ship each
unit whole (``fill``, sites x units), the filters' verdicts and the order's pricing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np

from routing.engine.costs import CostModel, Pricing
from routing.engine.model import (
    Inventory,
    Order,
    Plan,
    Shipment,
    Site,
    SiteReport,
    Unfilled,
    new_plan,
    new_shipment,
)
from routing.engine.packing import first_fit_decreasing, fits_at, pieces
from routing.freight import default_rates
from routing.geo import distances_km

__all__ = ["NO_CARRIER", "Allocation", "Network", "OrderContext", "as_network", "build_plan"]

_DIST_CACHE_MAX = 200_000
NO_CARRIER = "no carrier service takes the package from any site that has it"


class Network:
    """The sites, as arrays the engine uses. Build it once per site list and pass it to
    :func:`routing.engine.route` instead of the list: that skips a conversion per order."""

    def __init__(self, sites: Sequence[Site]) -> None:
        if not sites:
            raise ValueError("a network needs at least one site")
        self.sites = tuple(sites)
        self.ids = tuple(s.id for s in self.sites)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("site ids must be unique")
        self.index = {s: i for i, s in enumerate(self.ids)}
        self.lat = np.array([s.lat for s in self.sites], float)
        self.lon = np.array([s.lon for s in self.sites], float)
        self.rank = np.array([s.rank for s in self.sites], float)
        self.markets = tuple(s.market_key for s in self.sites)
        self.countries = tuple(s.country for s in self.sites)
        self.capacity = np.array(
            [np.iinfo(np.int64).max if s.capacity is None else s.capacity for s in self.sites],
            np.int64,
        )
        self.has_capacity = any(s.capacity is not None for s in self.sites)
        self.id_rank = np.argsort(np.argsort(np.array(self.ids, dtype=object))).astype(float)
        self.no_exclusions: tuple[None, ...] = (None,) * len(self.sites)
        self._dest: dict[tuple[float, float], Destination] = {}

    def __len__(self) -> int:
        return len(self.sites)

    def destination(self, lat: float, lon: float) -> Destination:
        """What depends on the destination only (cached: a stream of orders to the same
        places computes it once per place)."""
        key = (lat, lon)
        d = self._dest.get(key)
        if d is None:
            if len(self._dest) >= _DIST_CACHE_MAX:
                self._dest.clear()
            dist = distances_km(self.lat, self.lon, lat, lon)
            dist.flags.writeable = False
            d = self._dest[key] = Destination(dist)
        return d

    def distances_km(self, lat: float, lon: float) -> np.ndarray:
        """Great-circle km from every site to ``(lat, lon)`` (cached; do not modify)."""
        return self.destination(lat, lon).dist


class Destination:
    """One destination of a network: the distance from every site (array and list), and
    the site orders of sort rules that depend on the destination only (``closest``,
    ``ranked``), keyed by the policy's sort rules."""

    __slots__ = ("dist", "dist_list", "orders")

    def __init__(self, dist: np.ndarray) -> None:
        self.dist = dist
        # build_plan reads one distance per shipment: a list item is a float already.
        self.dist_list: list[float] = dist.tolist()
        self.orders: dict[tuple[str, ...], list[int]] = {}


@lru_cache(maxsize=32)
def _network_of(sites: tuple[Site, ...]) -> Network:
    return Network(sites)


def as_network(sites: Network | Sequence[Site]) -> Network:
    """``sites`` as a Network (cached for repeated lists of the same sites)."""
    return sites if isinstance(sites, Network) else _network_of(tuple(sites))


class OrderContext:
    """One order against one inventory snapshot, network, policy and cost model.

    The per-line figures are kept as Python lists (``qtys``, ``ws``, ``vs``): the rule
    policies and plan assembly read them item by item, where a list is several times
    faster than a numpy array. The arrays (``qty``, ``line_w``, ``line_v``, ``unit_*``)
    are made when first read (the optimiser and cost models use them)."""

    def __init__(
        self,
        order: Order,
        inventory: Inventory,
        network: Network,
        policy,
        cost_model: CostModel,
    ) -> None:
        self.order, self.network, self.policy = order, network, policy
        lines = order.lines
        self.lines = lines
        dest = network.destination(order.lat, order.lon)
        self.dest = dest
        self.dist = dest.dist
        # Distinct SKUs of the order and their availability at each site (S x D).
        skus: list[str] = []
        cols: list[int] = []  # per distinct SKU its inventory column (-1: unknown)
        index = inventory.sku_index
        dix: dict[str, int] = {}
        line_d, qtys, ws, vs = [], [], [], []
        for line in lines:
            sku = line.sku
            d = dix.get(sku)
            if d is None:
                d = dix[sku] = len(skus)
                skus.append(sku)
                cols.append(index.get(sku, -1))
            line_d.append(d)
            q = line.qty
            qtys.append(q)
            # float() as np.array(..., float) did: ints (grams, mm) become the same doubles.
            ws.append(float(line.weight_g * q))
            length, width, height = line.dims_mm
            vs.append(float(length * width * height * q))
        self.skus, self.line_d = skus, line_d
        self.qtys, self.ws, self.vs = qtys, ws, vs
        self._cols = cols
        rows = inventory.rows_for(network.ids)
        base = inventory.qty if rows is None else _take_rows(inventory.qty, rows)
        if -1 not in cols:
            avail = base.take(cols, axis=1)
        else:
            avail = np.zeros((len(network), len(skus)), np.int64)
            for d, c in enumerate(cols):
                if c >= 0:
                    avail[:, d] = base[:, c]
        np.maximum(avail, 0, out=avail)
        self.avail = avail
        if rows is None:
            self.site_load = inventory.load
        else:
            self.site_load = np.where(rows >= 0, inventory.load[np.maximum(rows, 0)], 0)
        # Units: ship-together groups, then every line outside a group, in line order.
        if not order.groups:
            n = len(lines)
            self.units = _single_units(n)
            by_line = avail if len(skus) == n else avail.take(line_d, axis=1)
            # Comparing with a scalar is twice as fast as with an array; most lines are 1.
            self.fill = by_line >= (1 if max(qtys) == 1 else self.qty)
            self.need = None  # one line per unit: the line's own sku and qty
            self.line_group = None  # no ship-together group: every item is a piece
        else:
            pos = {line.line_no: i for i, line in enumerate(lines)}
            grouped = [tuple(sorted(pos[n] for n in g)) for g in order.groups]
            grouped_nos = {n for g in order.groups for n in g}
            inside = {i for g in grouped for i in g}
            units = grouped + [(i,) for i in range(len(lines)) if i not in inside]
            units.sort(key=lambda u: u[0])
            self.units = units
            # Per line, its group's unit (-1: none): a group packs as one piece.
            self.line_group = [-1] * len(lines)
            for u, members in enumerate(units):
                if len(members) > 1 or lines[members[0]].line_no in grouped_nos:
                    for i in members:
                        self.line_group[i] = u
            qty = self.qty
            need = np.zeros((len(units), len(skus)), np.int64)
            for u, members in enumerate(units):
                for i in members:
                    need[u, self.line_d[i]] += qty[i]
            self.need = need
            self._unit_needs = [
                tuple((int(d), int(need[u, d])) for d in np.flatnonzero(need[u]))
                for u in range(len(units))
            ]
            self.fill = (self.avail[:, None, :] >= need[None, :, :]).all(axis=2)
            w, v = self.line_w, self.line_v
            self._unit_w = np.array([w[list(m)].sum() for m in units])
            self._unit_v = np.array([v[list(m)].sum() for m in units])
            self._unit_n = np.array([float(qty[list(m)].sum()) for m in units])
        self.pricing: Pricing = cost_model.prepare(self)
        self._filter()

    # -- the per-line and per-unit arrays, made when first read ---------------------------
    _qty: np.ndarray | None = None
    _line_w: np.ndarray | None = None
    _line_v: np.ndarray | None = None
    _unit_w: np.ndarray | None = None
    _unit_v: np.ndarray | None = None
    _unit_n: np.ndarray | None = None
    _unit_needs: list | None = None

    @property
    def qty(self) -> np.ndarray:
        if self._qty is None:
            self._qty = np.array(self.qtys, np.int64)
        return self._qty

    @property
    def line_w(self) -> np.ndarray:
        if self._line_w is None:
            self._line_w = np.array(self.ws, float)
        return self._line_w

    @property
    def line_v(self) -> np.ndarray:
        if self._line_v is None:
            self._line_v = np.array(self.vs, float)
        return self._line_v

    @property
    def unit_w(self) -> np.ndarray:
        if self._unit_w is None:  # one line per unit
            self._unit_w = self.line_w
        return self._unit_w

    @property
    def unit_v(self) -> np.ndarray:
        if self._unit_v is None:
            self._unit_v = self.line_v
        return self._unit_v

    @property
    def unit_n(self) -> np.ndarray:
        if self._unit_n is None:  # the same doubles as qty.astype(float)
            self._unit_n = np.array(self.qtys, float)
        return self._unit_n

    @property
    def unit_needs(self) -> list[tuple[tuple[int, int], ...]]:
        """Per unit, the ``(sku column, qty)`` it needs."""
        if self._unit_needs is None:  # one line per unit: the line's own sku and qty
            self._unit_needs = [((d, q),) for d, q in zip(self.line_d, self.qtys, strict=True)]
        return self._unit_needs

    def _filter(self) -> None:
        """Apply the policy's filters in order: ``eligible`` per site, and for each
        excluded site the reason of the first filter that excluded it."""
        net, order = self.network, self.order
        pricing = self.pricing
        ok = pricing.can_ship
        ships_all = pricing.ships_everywhere
        if ships_all is None:
            ships_all = bool(ok.all())
        filters = self.policy.filters
        if ships_all and (not filters or (filters == ("capacity",) and not net.has_capacity)):
            # The usual case: nothing to exclude (no per-site work, no reasons to word).
            self.eligible, self.excluded, self.all_eligible = ok, net.no_exclusions, True
            return
        S = len(net)
        excluded: list[str | None] = [None] * S
        if not ships_all:
            for k in np.flatnonzero(~ok):
                excluded[k] = f"no carrier service from {net.countries[k]} to {order.country}"
        for name in filters:
            if name == "market":
                m = order.market_key
                keep = np.array([mk == m for mk in net.markets])
                why = f"outside the destination market {m}"
            elif name == "capacity":
                if not net.has_capacity:
                    continue
                keep = self.site_load < net.capacity
                why = "at its daily capacity"
            elif name == "promise":
                keep = self.pricing.on_time
                why = "no service meets the delivery promise"
            else:  # pragma: no cover - Policy validates names
                raise ValueError(name)
            if not keep.all():
                for k in np.flatnonzero(ok & ~keep):
                    excluded[k] = why
                ok = ok & keep
        self.eligible = ok
        self.excluded = excluded
        self.all_eligible = bool(ok.all())

    @property
    def known(self) -> list[bool]:
        """Per distinct SKU of the order: whether the inventory knows it."""
        return [c >= 0 for c in self._cols]

    # -- helpers -------------------------------------------------------------------------
    _est: np.ndarray | None = None
    no_carrier: np.ndarray | None = None  # per site and unit, after drop_unshippable()

    def unit_ships(self) -> np.ndarray:
        """Per site and unit: whether some carrier service takes each of the unit's pieces
        as a package of its own — one item of a line, a ship-together group whole (worked
        out when asked: only an order with a refused package needs it)."""
        W, V, N = self.unit_w.copy(), self.unit_v.copy(), self.unit_n.copy()
        group = self.line_group
        for u, members in enumerate(self.units):
            if group is None or group[members[0]] < 0:  # a line: one item is a piece
                n = N[u]
                W[u], V[u], N[u] = W[u] / n, V[u] / n, 1.0
        return np.isfinite(self.pricing.costs(W, V, N))

    def drop_unshippable(self) -> bool:
        """Take out of ``fill`` every unit at a site where no carrier service takes it
        alone, so the rules send it elsewhere or back-order it on its own (a refused
        package would otherwise take the rest of the order with it). ``no_carrier`` keeps
        the eligible sites that had its stock; False when nothing changed."""
        shippable = self.fill & self.unit_ships()
        dropped = self.fill & ~shippable & self.eligible[:, None]
        if not dropped.any():
            return False
        self.no_carrier = dropped
        self.fill = shippable
        return True

    def est_cost(self) -> np.ndarray:
        """Per site, the cost of one package holding the whole order (inf: cannot ship)."""
        if self._est is None:
            W = np.array([self.line_w.sum()])
            V = np.array([self.line_v.sum()])
            N = np.array([float(self.qty.sum())])
            self._est = self.pricing.costs(W, V, N)[:, 0]
        return self._est

    def unit_label(self, u: int) -> str:
        members = self.units[u]
        nums = ",".join(str(self.lines[i].line_no) for i in members)
        return f"line {nums}" if len(members) == 1 else f"group {nums}"

    def shortfall_reason(self, i: int, qty: int) -> str:
        """Why ``qty`` units of line index ``i`` could not be routed."""
        line = self.lines[i]
        d = self.line_d[i]
        if not self.known[d] or not self.avail[:, d].any():
            return f"{line.sku} is in stock at no site"
        col = self.avail[:, d]
        if not col[self.eligible].any():
            k = int(np.argmax(col))
            why = self.excluded[k] or "not eligible"
            return f"{line.sku} is in stock only at excluded sites ({self.network.ids[k]}: {why})"
        k = int(np.flatnonzero(self.eligible)[np.argmax(col[self.eligible])])
        return (
            f"not enough {line.sku} at any eligible site (most: {self.network.ids[k]} "
            f"has {int(col[k])} of {qty})"
        )


@lru_cache(maxsize=256)
def _single_units(n: int) -> tuple[tuple[int], ...]:
    return tuple((i,) for i in range(n))


def _take_rows(qty: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = qty[np.maximum(rows, 0)]
    if (rows < 0).any():
        out = out.copy()
        out[rows < 0] = 0
    return out


@dataclass(slots=True)
class Allocation:
    """What a policy decided: per site index the ``(line index, qty)`` it ships and the
    units left over ``(line index, qty, reason)``. ``why(k)`` says why site k won or lost
    (called only when the plan's reports are read: it must not hold the OrderContext);
    ``keys`` are the sort keys behind each site's score."""

    parts: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    unfilled: list[tuple[int, int, str]] = field(default_factory=list)
    why: Callable[[int], str] | None = None
    plan_cost: Any = field(default_factory=dict)  # {site: cost}, or a callable making it
    keys: dict[str, np.ndarray] = field(default_factory=dict)
    est_cost: Any = None  # per-site array, or a callable making it
    method: str = "rules"
    summary: str = ""
    refused: bool = False  # a package no carrier service takes (set by build_plan)

    def add(self, k: int, i: int, qty: int) -> None:
        self.parts.setdefault(k, []).append((i, qty))


def build_plan(ctx: OrderContext, alloc: Allocation) -> Plan:
    """Price each site's package (the cheapest service meeting the promise), estimate its
    CO2, and assemble the Plan; its site reports are made when first read."""
    lines, net, pricing = ctx.lines, ctx.network, ctx.pricing
    ids = net.ids
    shipments = []
    unfilled = [Unfilled(lines[i].line_no, lines[i].sku, q, r) for i, q, r in alloc.unfilled]
    total = 0.0
    failed: dict[int, str] = {}
    packed: list[str] = []  # sites whose share no one package holds
    ws, vs, qtys = ctx.ws, ctx.vs, ctx.qtys
    dist_list = ctx.dest.dist_list
    co2 = _co2_factors()
    quote_fields = getattr(pricing, "quote_fields", None) or _quote_fields(pricing)
    parts = alloc.parts
    for k in sorted(parts, key=ids.__getitem__) if len(parts) > 1 else parts:
        part = sorted(parts[k])
        weight = volume = 0.0
        items = 0
        for i, q in part:
            # The same double operations as on the arrays before: the same figures.
            share = q / qtys[i]
            weight += ws[i] * share
            volume += vs[i] * share
            items += q
        quote = quote_fields(k, weight, volume, items)
        if quote is None:
            # No one package holds it: as many packages as it takes (packing.py).
            runs = pieces(part, ws, vs, qtys, ctx.line_group)
            packing = first_fit_decreasing(runs, fits_at(quote_fields, k))
            if packing.refused:
                why = f"no carrier service takes it from {ids[k]}, even in a package of its own"
                unfilled += [
                    Unfilled(lines[i].line_no, lines[i].sku, q, why) for i, q in packing.refused
                ]
                if not packing.packages:
                    failed[k] = why
                alloc.refused = True
            if len(packing.packages) > 1:
                packed.append(f"{ids[k]} ships {len(packing.packages)} packages")
            for weight, volume, items, these in packing.packages:
                quote = quote_fields(k, weight, volume, items)
                shipments.append(_shipment(ids[k], lines, these, quote, dist_list[k], weight, co2))
                total += quote[3]
            continue
        shipments.append(_shipment(ids[k], lines, part, quote, dist_list[k], weight, co2))
        total += quote[3]
    if failed or len(unfilled) > 1:
        unfilled.sort(key=lambda u: u.line_no)
    reports = partial(_site_reports, net, ctx.dist, ctx.fill, len(ctx.units), ctx.excluded,
                      alloc, failed)  # fmt: skip
    return new_plan(
        ctx.order.id,
        ctx.policy.name,
        tuple(shipments),
        tuple(unfilled),
        total,
        f"{alloc.summary}; {', '.join(packed)} (no one package holds its share)"
        if packed
        else alloc.summary,
        alloc.method,
        reports,
    )


def _shipment(site: str, lines, part, quote, dist: float, weight: float, co2) -> Shipment:
    carrier, service, mode, cost, transit, ship, arrive, late = quote
    f = co2.get(mode)
    if f is None:
        f = co2[mode] = _co2_factor(mode)
    # freight.co2_kg, inlined with its factors looked up once per mode.
    return new_shipment(
        site,
        tuple([(lines[i].line_no, lines[i].sku, q) for i, q in part]),
        carrier,
        service,
        cost,
        dist,
        weight,
        dist * f[0] * (weight / 1e6) * f[1] / 1000.0,
        transit,
        ship,
        arrive,
        late,
    )


def _quote_fields(pricing):
    """quote_fields for a pricing that only has quote (not derived from Pricing)."""

    def fields(k, weight, volume, items):
        q = pricing.quote(k, weight, volume, items)
        if q is None:
            return None
        return (q.carrier, q.service, q.mode, q.cost, q.transit_days, q.ship_date,
                q.delivery_date, q.late)  # fmt: skip

    return fields


_CO2: list = [None, {}]  # the rate table the factors are of, {mode: (circuity, g/tkm)}


def _co2_factors() -> dict[str, tuple[float, float]]:
    t = default_rates()
    if _CO2[0] is not t:
        _CO2[0], _CO2[1] = t, {}
    return _CO2[1]


def _co2_factor(mode: str) -> tuple[float, float]:
    t = default_rates()
    return t.circuity.get(mode, 1.0), t.co2_g_per_tkm.get(mode, t.co2_g_per_tkm["road"])


def _site_reports(net, dist, fill, units, excluded, alloc, failed) -> list[SiteReport]:
    """A plan's site reports, made on demand from what the decision left behind."""
    chosen = {k for k in alloc.parts if k not in failed}
    fills = fill.sum(axis=1)
    est = alloc.est_cost() if callable(alloc.est_cost) else alloc.est_cost
    plan_cost = alloc.plan_cost() if callable(alloc.plan_cost) else alloc.plan_cost
    out = []
    for k, site in enumerate(net.sites):
        if excluded[k] is not None:
            status, reason = "excluded", excluded[k]
        else:
            status = "chosen" if k in chosen else "not chosen"
            reason = failed.get(k) or (alloc.why(k) if alloc.why else "")
        e = None if est is None or not np.isfinite(est[k]) else float(est[k])
        score = tuple((n, float(v[k])) for n, v in alloc.keys.items())
        out.append(
            SiteReport(
                site.id, status, reason, float(dist[k]), site.rank, int(fills[k]),
                units, e, plan_cost.get(k), score,
            )
        )  # fmt: skip
    return out
