"""What the routing engine reads and returns: frozen dataclasses, no I/O.

Inputs: :class:`Site` (a warehouse), :class:`Order` of :class:`OrderLine` s, an
:class:`Inventory` snapshot (available units per site and SKU, plus packages already
assigned to each site today). Output: a :class:`Plan` of :class:`Shipment` s, the lines no
site could fill (:class:`Unfilled`, a back-order with its reason) and, for every site, a
:class:`SiteReport` saying how it scored and why it won or lost.

Units: grams, millimetres, kilometres; money in the rate table's currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

__all__ = [
    "Inventory",
    "Order",
    "OrderLine",
    "Plan",
    "Shipment",
    "Site",
    "SiteReport",
    "Unfilled",
]


@dataclass(frozen=True, slots=True)
class Site:
    """A site that ships parcels.

    ``market`` groups sites and destinations for the ``market`` rule (default: the
    country). ``rank``: lower ships first under the ``ranked`` rule. ``capacity``: packages
    a day (None: no limit). ``cutoff_hour``: orders in before this local hour ship today;
    local time is UTC + ``utc_offset_h`` (a fixed offset)."""

    id: str
    lat: float
    lon: float
    country: str = "US"
    market: str = ""
    rank: int = 0
    capacity: int | None = None
    cutoff_hour: float = 14.0
    utc_offset_h: float = 0.0

    @property
    def market_key(self) -> str:
        return self.market or self.country


@dataclass(frozen=True, slots=True)
class OrderLine:
    """``qty`` units of ``sku``; ``weight_g`` and ``dims_mm`` (L, W, H) are per unit."""

    line_no: int
    sku: str
    qty: int
    weight_g: float = 0.0
    dims_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def volume_mm3(self) -> float:
        length, width, height = self.dims_mm
        return length * width * height


@dataclass(frozen=True, slots=True)
class Order:
    """An order to route. Destination by ``lat``/``lon`` (see :meth:`at_postal_code`).

    ``groups``: sets of line numbers that must ship together (one package). Promise:
    ``promise_days`` business days from the order date (its date in UTC +
    ``utc_offset_h``), or an explicit ``deadline`` (last delivery day); either needs
    ``placed_at`` to give dates, and without it ``promise_days`` caps the transit time.
    ``market``: the destination market (default: ``country``)."""

    id: str
    lat: float
    lon: float
    lines: tuple[OrderLine, ...]
    country: str = "US"
    postal_code: str = ""
    groups: tuple[tuple[int, ...], ...] = ()
    promise_days: int | None = None
    deadline: date | None = None
    placed_at: datetime | None = None
    utc_offset_h: float = 0.0
    channel: str = "web"
    market: str = ""

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError(f"order {self.id}: no lines")
        numbers = [line.line_no for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"order {self.id}: repeated line numbers")
        for line in self.lines:
            if line.qty <= 0:
                raise ValueError(f"order {self.id} line {line.line_no}: qty must be > 0")
        if self.groups:
            seen: set[int] = set()
            for g in self.groups:
                if not set(g) <= set(numbers) or seen & set(g):
                    raise ValueError(
                        f"order {self.id}: ship-together group {g} names an unknown line or "
                        "a line of another group"
                    )
                seen |= set(g)
        if self.deadline is not None and self.placed_at is None:
            raise ValueError(f"order {self.id}: a deadline needs placed_at")

    @property
    def market_key(self) -> str:
        return self.market or self.country

    @classmethod
    def at_postal_code(
        cls, id: str, postal_code: str, lines: Sequence[OrderLine], country: str = "US", **kw
    ) -> Order:
        """An order whose destination is the centroid of ``postal_code`` (offline data).
        Raises routing.geo.UnknownPostalCode."""
        from routing.geo import postal_centroid

        lat, lon = postal_centroid(postal_code, country)
        return cls(id, lat, lon, tuple(lines), country=country, postal_code=postal_code, **kw)


@dataclass(frozen=True, eq=False)
class Inventory:
    """Available units per (site, SKU): ``qty[i, j]`` for ``sites[i]``, ``skus[j]``, and
    ``load[i]``, packages already assigned to ``sites[i]`` today (for daily capacity).

    The engine only reads it. The arrays themselves may be changed by the caller, e.g. with
    :meth:`reserve` after each plan when routing a stream of orders; an int64 ``qty`` is
    kept as given (not copied), so the caller's array and this snapshot stay one."""

    sites: tuple[str, ...]
    skus: tuple[str, ...]
    qty: np.ndarray
    load: np.ndarray = field(default=None)  # type: ignore[assignment]
    sku_index: dict[str, int] = field(default=None, repr=False)  # type: ignore[assignment]
    site_index: dict[str, int] = field(default=None, repr=False)  # type: ignore[assignment]
    _rows: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        q = np.asarray(self.qty, dtype=np.int64)
        if q.shape != (len(self.sites), len(self.skus)):
            raise ValueError(f"qty is {q.shape}, expected {(len(self.sites), len(self.skus))}")
        object.__setattr__(self, "qty", q)
        load = np.zeros(len(self.sites), np.int64) if self.load is None else self.load
        object.__setattr__(self, "load", np.asarray(load, dtype=np.int64))
        object.__setattr__(self, "sku_index", {s: j for j, s in enumerate(self.skus)})
        object.__setattr__(self, "site_index", {s: i for i, s in enumerate(self.sites)})

    @classmethod
    def from_levels(
        cls,
        levels: Mapping[str, Mapping[str, int]],
        sites: Iterable[str] | None = None,
        load: Mapping[str, int] | None = None,
    ) -> Inventory:
        """From ``{site: {sku: available}}`` (e.g. ``routing.store.stock_levels`` with each
        value's available part). ``sites`` fixes the row order and may add empty sites."""
        site_ids = tuple(sites) if sites is not None else tuple(levels)
        skus = tuple(sorted({sku for per in levels.values() for sku in per}))
        index = {s: j for j, s in enumerate(skus)}
        qty = np.zeros((len(site_ids), len(skus)), np.int64)
        for i, site in enumerate(site_ids):
            for sku, n in levels.get(site, {}).items():
                qty[i, index[sku]] = max(int(n), 0)
        loads = np.array([(load or {}).get(s, 0) for s in site_ids], np.int64)
        return cls(site_ids, skus, qty, loads)

    @classmethod
    def from_mapping(
        cls, available: Mapping[tuple[str, str], int], sites: Iterable[str] | None = None
    ) -> Inventory:
        """From ``{(site, sku): available}``."""
        levels: dict[str, dict[str, int]] = {s: {} for s in sites or ()}
        for (site, sku), n in available.items():
            levels.setdefault(site, {})[sku] = n
        return cls.from_levels(levels, sites)

    def available(self, site: str, sku: str) -> int:
        """Units of ``sku`` available at ``site`` (0 for an unknown SKU). Raises KeyError
        for an unknown site."""
        j = self.sku_index.get(sku)
        return 0 if j is None else int(self.qty[self.site_index[site], j])

    def copy(self) -> Inventory:
        return Inventory(self.sites, self.skus, self.qty.copy(), self.load.copy())

    def reserve(self, plan: Plan, sign: int = 1) -> None:
        """Take ``plan``'s shipments out of this inventory, in place (``sign=-1`` puts them
        back), and count their packages in ``load``. Raises KeyError for a site or SKU
        this inventory does not hold."""
        for s in plan.shipments:
            i = self.site_index[s.site]
            self.load[i] += sign
            for _, sku, qty in s.lines:
                self.qty[i, self.sku_index[sku]] -= sign * qty

    def release(self, plan: Plan) -> None:
        """Put ``plan``'s shipments back (the inverse of :meth:`reserve`)."""
        self.reserve(plan, -1)

    def rows_for(self, site_ids: tuple[str, ...]) -> np.ndarray | None:
        """Row indices of ``site_ids`` in this inventory (None: the same order); sites it
        does not hold get -1."""
        if site_ids is self.sites or site_ids == self.sites:
            return None
        rows = self._rows.get(site_ids)
        if rows is None:
            rows = np.array([self.site_index.get(s, -1) for s in site_ids], np.int64)
            self._rows[site_ids] = rows
        return rows


@dataclass(frozen=True, slots=True)
class Shipment:
    """One package from one site: ``lines`` as ``(line_no, sku, qty)``."""

    site: str
    lines: tuple[tuple[int, str, int], ...]
    carrier: str
    service: str
    cost: float
    distance_km: float
    weight_g: float
    co2_kg: float
    transit_days: int | None = None
    ship_date: date | None = None
    promised_date: date | None = None
    late: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "lines": [{"line_no": n, "sku": s, "qty": q} for n, s, q in self.lines],
            "carrier": self.carrier,
            "service": self.service,
            "cost": round(self.cost, 4),
            "distance_km": round(self.distance_km, 1),
            "weight_g": round(self.weight_g, 1),
            "co2_kg": round(self.co2_kg, 4),
            "transit_days": self.transit_days,
            "ship_date": self.ship_date.isoformat() if self.ship_date else None,
            "promised_date": self.promised_date.isoformat() if self.promised_date else None,
            "late": self.late,
        }


@dataclass(frozen=True, slots=True)
class Unfilled:
    """Units of a line that no site ships now (a back-order), and why."""

    line_no: int
    sku: str
    qty: int
    reason: str


@dataclass(frozen=True, slots=True)
class SiteReport:
    """One site's part in the decision.

    ``status``: ``chosen``, ``not chosen`` or ``excluded`` (by a filter). ``fills``: how many
    of the order's ``units`` (lines, or ship-together groups) it could ship whole.
    ``est_cost``: one package of the whole order from it (None: no service). ``plan_cost``:
    cost-optimal only, the cheapest plan that uses it (None: not evaluated). ``score``: its
    sort key under the policy's rules, as ``(rule, value)`` pairs."""

    site: str
    status: str
    reason: str
    distance_km: float
    rank: int
    fills: int
    units: int
    est_cost: float | None = None
    plan_cost: float | None = None
    score: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def r(x):
            return None if x is None else round(x, 4)

        return {
            "site": self.site,
            "status": self.status,
            "reason": self.reason,
            "distance_km": round(self.distance_km, 1),
            "rank": self.rank,
            "fills": f"{self.fills}/{self.units}",
            "est_cost": r(self.est_cost),
            "plan_cost": r(self.plan_cost),
            "score": {k: r(v) for k, v in self.score},
        }


@dataclass(frozen=True, eq=False)
class Plan:
    """The engine's answer for one order. ``method``: ``rules``, ``enumeration``, ``mip`` or
    ``mip-batch``; ``summary``: one sentence saying what was decided and why; ``sites``: a
    report per site (built when first read, so routing a stream pays for it only when
    someone looks)."""

    order_id: str
    policy: str
    shipments: tuple[Shipment, ...]
    unfilled: tuple[Unfilled, ...]
    total_cost: float
    summary: str
    method: str = "rules"
    reports: Any = field(default=(), repr=False)  # tuple of SiteReport, or a callable

    @property
    def sites(self) -> tuple[SiteReport, ...]:
        r = self.reports
        if callable(r):
            r = tuple(r())
            object.__setattr__(self, "reports", r)
        return r

    @property
    def complete(self) -> bool:
        return not self.unfilled

    @property
    def total_co2_kg(self) -> float:
        return sum(s.co2_kg for s in self.shipments)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``doms hub route --json`` prints)."""
        return {
            "order_id": self.order_id,
            "policy": self.policy,
            "method": self.method,
            "summary": self.summary,
            "total_cost": round(self.total_cost, 4),
            "total_co2_kg": round(self.total_co2_kg, 4),
            "shipments": [s.to_dict() for s in self.shipments],
            "unfilled": [
                {"line_no": u.line_no, "sku": u.sku, "qty": u.qty, "reason": u.reason}
                for u in self.unfilled
            ],
            "sites": [r.to_dict() for r in self.sites],
        }

    def explain(self) -> str:
        """The decision as text: the summary, each shipment, each back-order, each site."""
        out = [f"order {self.order_id} ({self.policy}, {self.method}): {self.summary}"]
        for s in self.shipments:
            lines = ", ".join(f"{q} x {sku} (line {n})" for n, sku, q in s.lines)
            when = f", delivered by {s.promised_date}" if s.promised_date else ""
            late = " LATE" if s.late else ""
            out.append(
                f"  ship {s.site} -> {s.carrier} {s.service} {s.cost:.2f} "
                f"({s.distance_km:.0f} km, {s.co2_kg:.3f} kg CO2{when}{late}): {lines}"
            )
        for u in self.unfilled:
            out.append(f"  back-order line {u.line_no} {u.sku} x{u.qty}: {u.reason}")
        for r in self.sites:
            out.append(f"  {r.site:>8} {r.status:<10} {r.reason}")
        return "\n".join(out)


# -- fast construction for the engine's hot path -------------------------------------------
# A frozen dataclass's __init__ sets each field with object.__setattr__, looked up by name
# per field; plan assembly makes a Shipment per package and a Plan per order, so it sets
# the slots (Shipment) or the instance dict (Plan) directly. The objects are the same as
# the constructors make: these stay in step with the fields (checked below at import).
_SHIPMENT_FIELDS = (
    "site", "lines", "carrier", "service", "cost", "distance_km", "weight_g", "co2_kg",
    "transit_days", "ship_date", "promised_date", "late",
)  # fmt: skip
_PLAN_FIELDS = (
    "order_id", "policy", "shipments", "unfilled", "total_cost", "summary", "method", "reports",
)  # fmt: skip


def _check_fields() -> None:
    from dataclasses import fields

    for cls, names in ((Shipment, _SHIPMENT_FIELDS), (Plan, _PLAN_FIELDS)):
        if tuple(f.name for f in fields(cls)) != names or hasattr(cls, "__post_init__"):
            raise RuntimeError(f"{cls.__name__} changed: update its fast constructor")


_check_fields()
(_s_site, _s_lines, _s_carrier, _s_service, _s_cost, _s_dist, _s_weight, _s_co2, _s_transit,
 _s_ship, _s_promised, _s_late) = (getattr(Shipment, n).__set__ for n in _SHIPMENT_FIELDS)  # fmt: skip
_new = object.__new__


def new_shipment(
    site: str,
    lines: tuple[tuple[int, str, int], ...],
    carrier: str,
    service: str,
    cost: float,
    distance_km: float,
    weight_g: float,
    co2_kg: float,
    transit_days: int | None,
    ship_date: date | None,
    promised_date: date | None,
    late: bool,
) -> Shipment:
    """``Shipment(...)`` with every field given, faster (see above)."""
    s = _new(Shipment)
    _s_site(s, site)
    _s_lines(s, lines)
    _s_carrier(s, carrier)
    _s_service(s, service)
    _s_cost(s, cost)
    _s_dist(s, distance_km)
    _s_weight(s, weight_g)
    _s_co2(s, co2_kg)
    _s_transit(s, transit_days)
    _s_ship(s, ship_date)
    _s_promised(s, promised_date)
    _s_late(s, late)
    return s


def new_plan(
    order_id: str,
    policy: str,
    shipments: tuple[Shipment, ...],
    unfilled: tuple[Unfilled, ...],
    total_cost: float,
    summary: str,
    method: str,
    reports: Any,
) -> Plan:
    """``Plan(...)`` with every field given, faster (see above)."""
    p = _new(Plan)
    p.__dict__.update(
        order_id=order_id, policy=policy, shipments=shipments, unfilled=unfilled,
        total_cost=total_cost, summary=summary, method=method, reports=reports,
    )  # fmt: skip
    return p
