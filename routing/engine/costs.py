"""Cost models: what a package from a site to the order's destination costs.

A cost model is a small object with ``prepare(ctx) -> Pricing``: it binds itself to one
order (distances, zones, promise) once, and the engine then asks the :class:`Pricing`:

* ``costs(W, V, N)``: the cost of a package of weight ``W`` g, volume ``V`` mm^3 and ``N``
  items from *every* site, as an array sites x len(W) (inf: that site cannot ship it).
  This is what the exact enumeration evaluates, vectorised.
* ``quote(k, w, v, n)``: the carrier, service, cost and dates of one package from site k.
* ``min_cost()``: per site, a lower bound on any package's cost (prunes the enumeration).
* separable models (cost = ``fixed[k] + per_item[k] * items``) set ``separable`` and the
  two arrays: the optimiser then needs no weight at all and enumerates site subsets only.
* ``offers(k)``: for the MIP, each service's price steps at site k.

Two models ship:

:class:`LinearCost` — the model of Jasin & Sinha (2015): a package from site k to
destination j costs ``fixed + items * (per_item + per_item_mile * miles(k, j))`` with
great-circle miles; :meth:`LinearCost.jasin_sinha` has the paper's constants (8.759,
0.423, 0.000541). No carriers, no transit times: promises are not checked.

:class:`FreightCost` (the default) — carrier rate tables (:mod:`routing.freight`): the
cheapest service that meets the order's promise, plus ``handling`` per package. Under a
soft promise a site with no on-time service may still ship with its fastest service, at
``late_penalty`` more per package in the optimiser's objective (not in the shipment's cost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from routing import freight
from routing.geo import KM_PER_MILE

if TYPE_CHECKING:
    from routing.engine.context import OrderContext

__all__ = ["CostModel", "EngineQuote", "FreightCost", "LinearCost", "Offer", "Pricing"]

INF = float("inf")


@dataclass(frozen=True, slots=True)
class EngineQuote:
    """How one package ships: what it costs, by which service, when it arrives."""

    carrier: str
    service: str
    mode: str
    cost: float
    transit_days: int | None = None
    ship_date: date | None = None
    delivery_date: date | None = None
    late: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    """One service at one site, for the MIP: package cost ``prices[b] + penalty`` when its
    billable weight is at most ``caps[b]`` grams."""

    service: int
    penalty: float
    caps: np.ndarray
    prices: np.ndarray
    dim_divisor: float
    dim_min_volume_mm3: float


class Pricing:
    """A cost model bound to one order (see the module docstring)."""

    separable = False
    monotone = False  # package cost never falls as weight grows (tightens bounds)
    fixed: np.ndarray  # separable only
    per_item: np.ndarray  # separable only
    can_ship: np.ndarray  # per site: some service reaches the destination
    ships_everywhere: bool | None = None  # can_ship is all true (None: not known)
    # A dict here (per instance) lets the enumeration keep what it derives from the
    # arrays: for pricings shared between orders whose arrays never change.
    site_terms: dict | None = None
    on_time: np.ndarray  # per site: some service meets the promise

    def costs(self, W: np.ndarray, V: np.ndarray, N: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def quote(self, k: int, weight_g: float, volume_mm3: float, items: int) -> EngineQuote | None:
        raise NotImplementedError

    def quote_fields(
        self, k: int, weight_g: float, volume_mm3: float, items: int
    ) -> tuple[Any, ...] | None:
        """:meth:`quote` as the tuple of its fields (what plan assembly reads; the bundled
        models make the tuple without the object)."""
        q = self.quote(k, weight_g, volume_mm3, items)
        if q is None:
            return None
        return (q.carrier, q.service, q.mode, q.cost, q.transit_days, q.ship_date,
                q.delivery_date, q.late)  # fmt: skip

    def min_cost(self) -> np.ndarray:
        raise NotImplementedError

    def offers(self, k: int) -> list[Offer]:
        """Raises NotImplementedError when the model has no MIP form."""
        raise NotImplementedError


class CostModel:
    """Base of cost models: ``prepare(ctx)`` returns the order's :class:`Pricing`."""

    name = "cost"

    def prepare(self, ctx: OrderContext) -> Pricing:
        raise NotImplementedError


# -- the Jasin & Sinha model ---------------------------------------------------------------
@dataclass(frozen=True)
class LinearCost(CostModel):
    """``fixed + items * (per_item + per_item_km * km)`` per package (great-circle km)."""

    fixed: float = 8.759
    per_item: float = 0.423
    per_item_km: float = 0.000541 / KM_PER_MILE
    carrier: str = "model"
    service: str = "package"
    name: str = "linear"

    @classmethod
    def per_mile(cls, fixed: float, per_item: float, per_item_mile: float) -> LinearCost:
        """The model with the distance term per mile, as the paper states it."""
        return cls(fixed, per_item, per_item_mile / KM_PER_MILE)

    @classmethod
    def jasin_sinha(cls) -> LinearCost:
        """Jasin & Sinha (Operations Research 63(6), 2015): 8.759 + per item (0.423 +
        0.000541 x haversine miles)."""
        return cls.per_mile(8.759, 0.423, 0.000541)

    def package_cost(self, distance_km: float, items: int) -> float:
        """The cost of one package of ``items`` items over ``distance_km``."""
        return self.fixed + items * (self.per_item + self.per_item_km * distance_km)

    def prepare(self, ctx: OrderContext) -> Pricing:
        dist = ctx.dist
        hit = _LINEAR.get(id(dist))
        if hit is None or hit[0] is not dist or hit[1] is not self:
            if len(_LINEAR) > 100_000:
                _LINEAR.clear()
            hit = (dist, self, _LinearPricing(self, dist))
            _LINEAR[id(dist)] = hit
        return hit[2]


@lru_cache(maxsize=64)
def _linear_constants(fixed: float, n: int) -> tuple[np.ndarray, list[float], np.ndarray]:
    full = np.full(n, fixed)
    full.flags.writeable = False
    ones = np.ones(n, bool)
    ones.flags.writeable = False
    return full, full.tolist(), ones


# Linear pricings by destination (the Network caches each destination's distance array, so
# its identity names the destination); they hold no per-order state.
_LINEAR: dict[int, tuple] = {}


class _LinearPricing(Pricing):
    separable = True

    def __init__(self, model: LinearCost, dist: np.ndarray) -> None:
        self.model = model
        n = len(dist)
        # What does not depend on the destination is made once per (fixed cost, sites)
        # and shared, read-only: a stream to many places builds one array per place.
        self.fixed, self._fixed, self.can_ship = _linear_constants(model.fixed, n)
        self.per_item = model.per_item + model.per_item_km * dist
        # quote() reads one site: list items are floats already (numpy scalars are slow),
        # and the same doubles, so the same sums.
        self._per_item = self.per_item.tolist()
        self.ships_everywhere = True
        self.on_time = self.can_ship
        self.site_terms: dict = {}  # shared between orders: the enumeration's cache

    def costs(self, W, V, N):
        N = np.asarray(N, dtype=float)
        return self.fixed[:, None] + self.per_item[:, None] * N[None, :]

    def quote(self, k, weight_g, volume_mm3, items):
        m = self.model
        return EngineQuote(m.carrier, m.service, "road", self._fixed[k] + self._per_item[k] * items)

    def quote_fields(self, k, weight_g, volume_mm3, items):
        m = self.model
        cost = self._fixed[k] + self._per_item[k] * items
        return (m.carrier, m.service, "road", cost, None, None, None, False)

    def min_cost(self):
        return self.fixed + self.per_item

    def offers(self, k):
        raise NotImplementedError("a separable model needs no offers")


# -- carrier rate tables -------------------------------------------------------------------
@dataclass(frozen=True)
class FreightCost(CostModel):
    """Carrier rates: per package the cheapest service meeting the promise + ``handling``."""

    table: freight.RateTable = field(default_factory=freight.default_rates)
    handling: float = 0.0
    late_penalty: float = 50.0
    name: str = "freight"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def prepare(self, ctx: OrderContext) -> Pricing:
        return _FreightPricing(self, ctx)


class _FreightPricing(Pricing):
    def __init__(self, model: FreightCost, ctx: OrderContext) -> None:
        t = model.table
        self.monotone = all(s.monotone for s in t.services)
        self.model, self.table, self.services = model, t, t.services
        self.handling = model.handling
        self.ship = self.arrive = None
        order, net = ctx.order, ctx.network
        dated = order.placed_at is not None
        key = None
        if not dated:  # then everything below depends on the destination and promise only
            key = (order.lat, order.lon, order.country, order.promise_days,
                   ctx.policy.hard_promise)  # fmt: skip
            hit = model._cache.get(key)
            if hit is not None and hit[0] is net:
                (_, self.zones, self.zone_list, self.can_ship, self.transit, self.pen,
                 self.pen_rows, self.on_time, self.late, self.ships_everywhere) = hit  # fmt: skip
                return
        S, n_svc = len(net.sites), len(t.services)
        self.zones = t.zones(ctx.dist)
        self.zone_list = self.zones.tolist()
        self.can_ship = np.array([t.serves(c, order.country) for c in net.countries], bool)
        self.ships_everywhere = bool(self.can_ship.all())
        transit = t.transit[:, self.zones].T  # S x services
        self.transit = transit
        if dated and (order.promise_days is not None or order.deadline):
            on_time, delivery = self._dated(ctx, transit)
        else:
            if dated:
                self._dated(ctx, transit)  # dates for the plan, no promise to check
            limit = order.promise_days
            on_time = np.ones((S, n_svc), bool) if limit is None else transit <= limit
            delivery = transit.astype(float)
        on_time &= self.can_ship[:, None]
        pen = np.where(on_time, 0.0, INF)
        self.on_time = on_time.any(axis=1)
        if not ctx.policy.hard_promise:
            # A site with no on-time service may still ship with its fastest, at a penalty.
            late = self.can_ship & ~self.on_time
            for k in np.flatnonzero(late):
                fastest = delivery[k] == delivery[k].min()
                pen[k, fastest] = model.late_penalty
        self.pen = pen
        self.pen_rows = pen.tolist()
        self.late = ~self.on_time
        if key is not None:
            if len(model._cache) > 100_000:
                model._cache.clear()
            model._cache[key] = (net, self.zones, self.zone_list, self.can_ship, self.transit,
                                 pen, self.pen_rows, self.on_time, self.late,
                                 self.ships_everywhere)  # fmt: skip

    def _dated(self, ctx: OrderContext, transit: np.ndarray):
        order, t = ctx.order, self.table
        hol = t.holidays
        deadline = order.deadline
        if deadline is None and order.promise_days is not None:
            deadline = freight.promise_deadline(
                order.placed_at, order.promise_days, order.utc_offset_h, hol
            )
        ship_cache: dict[tuple[float, float], date] = {}
        arrive_cache: dict[tuple[date, int], date] = {}
        S, n_svc = transit.shape
        on_time = np.ones((S, n_svc), bool)
        delivery = np.zeros((S, n_svc))
        self.ship = [[None] * n_svc for _ in range(S)]
        self.arrive = [[None] * n_svc for _ in range(S)]
        for k, site in enumerate(ctx.network.sites):
            for s, svc in enumerate(self.services):
                key = (site.utc_offset_h, min(site.cutoff_hour, svc.pickup_hour))
                shipped = ship_cache.get(key)
                if shipped is None:
                    shipped = freight.ship_date(order.placed_at, key[0], key[1], hol)
                    ship_cache[key] = shipped
                days = int(transit[k, s])
                arrives = arrive_cache.get((shipped, days))
                if arrives is None:
                    arrives = freight.add_business_days(shipped, days, hol)
                    arrive_cache[(shipped, days)] = arrives
                self.ship[k][s], self.arrive[k][s] = shipped, arrives
                delivery[k, s] = arrives.toordinal()
                if deadline is not None:
                    on_time[k, s] = arrives <= deadline
        return on_time, delivery

    def costs(self, W, V, N):
        W = np.asarray(W, dtype=float)
        V = np.asarray(V, dtype=float)
        best = np.full((len(self.zones), len(W)), INF)
        z = self.zones[:, None]
        for s, svc in enumerate(self.services):
            pen = self.pen[:, s]
            if np.isinf(pen).all():
                continue
            np.minimum(best, svc.prices(z, W[None, :], V[None, :]) + pen[:, None], out=best)
        return best + self.model.handling

    def quote(self, k, weight_g, volume_mm3, items):
        fields = self.quote_fields(k, weight_g, volume_mm3, items)
        return None if fields is None else EngineQuote(*fields)

    def quote_fields(self, k, weight_g, volume_mm3, items):
        best, best_key = -1, None
        z = self.zone_list[k]
        pens = self.pen_rows[k]
        for s, svc in enumerate(self.services):
            pen = pens[s]
            if pen == INF:
                continue
            price = svc.price(z, weight_g, volume_mm3)
            if price == INF:
                continue
            key = (price + pen, svc.transit_days[z])
            if best_key is None or key < best_key:
                best, best_key = s, key
        if best < 0:
            return None
        svc = self.services[best]
        return (
            svc.carrier,
            svc.name,
            svc.mode,
            best_key[0] - pens[best] + self.handling,
            svc.transit_days[z],
            self.ship[k][best] if self.ship else None,
            self.arrive[k][best] if self.arrive else None,
            pens[best] > 0,
        )

    def min_cost(self):
        out = np.full(len(self.zones), INF)
        for s, svc in enumerate(self.services):
            out = np.minimum(out, svc.price_grid[self.zones, 0] + self.pen[:, s])
        return out + self.model.handling

    def offers(self, k):
        z = int(self.zones[k])
        out = []
        for s, svc in enumerate(self.services):
            if self.pen[k, s] != INF:
                prices = svc.price_grid[z, :-1] + self.model.handling
                out.append(
                    Offer(s, float(self.pen[k, s]), svc.caps, prices, svc.dim_divisor,
                          svc.dim_min_volume_mm3)
                )  # fmt: skip
        return out


def as_cost_model(rates: Any) -> CostModel:
    """``rates`` as a cost model: a CostModel as is, a RateTable as FreightCost(table),
    None as FreightCost() on the bundled table. Raises TypeError otherwise."""
    if isinstance(rates, CostModel):
        return rates
    if rates is None:
        return _default_freight()
    if isinstance(rates, freight.RateTable):
        model = _BY_TABLE.get(id(rates))
        if model is None or model.table is not rates:
            model = FreightCost(rates)
            _BY_TABLE[id(rates)] = model
        return model
    raise TypeError(f"rates must be a CostModel or a RateTable, not {type(rates).__name__}")


_BY_TABLE: dict[int, FreightCost] = {}
_DEFAULT: list[FreightCost] = []


def _default_freight() -> FreightCost:
    if not _DEFAULT:
        _DEFAULT.append(FreightCost())
    return _DEFAULT[0]
