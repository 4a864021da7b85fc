"""Carrier rate tables, delivery promises and CO2 per shipment. Pure functions, no I/O
beyond reading the bundled table once.

A rate table is data (``routing/data/rates_us.json``, or any dict of the same shape given to
:meth:`RateTable.from_dict`): per carrier a dimensional-weight divisor, a maximum weight and a
pickup hour; per service a mode (road or air), a fuel surcharge, transit days by zone and a
price grid of weight breaks x zones. How a package is priced:

1. **Zone** from the great-circle distance site -> destination: the first distance band whose
   upper bound is >= the distance (the bands of the USPS zone chart, zones 2-8).
2. **Billable weight** = max(actual weight, dimensional weight), where dimensional weight =
   volume / divisor (139 in^3/lb for UPS and FedEx; USPS 166, and only above one cubic foot).
3. **Weight break**: the first break >= the billable weight (so a fraction of a pound is
   billed as the next whole break, as carriers do). Heavier than the last break: no price.
4. **Fuel surcharge**: the base rate x (1 + fuel).

Delivery promise, in business days (Monday-Friday less the table's holidays): a package
ships the day the order arrives if it arrives before the cut-off (the earlier of the site's
cut-off and the carrier's pickup hour, in the site's local time) on a business day, else on
the next business day; it is delivered ``transit_days`` business days later. An order placed
on day D with a promise of N business days must be delivered by the N-th business day after
D. :func:`cheapest` is the cheapest service that meets that.

CO2 (kg) = distance x circuity(mode) x weight (t) x factor(mode) (g CO2e per tonne-km) / 1000,
with the factors and their sources in the table's ``co2`` section.

Units inside: grams, millimetres, km. The table says its own units (lb/in/mi) and is
converted once on load.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Quote",
    "RateTable",
    "Service",
    "add_business_days",
    "business_days_between",
    "cheapest",
    "co2_kg",
    "default_rates",
    "is_business_day",
    "load_rates",
    "next_business_day",
    "promise_deadline",
    "quotes",
    "ship_date",
]

G_PER = {"lb": 453.59237, "kg": 1000.0, "g": 1.0, "oz": 28.349523125}
MM_PER = {"in": 25.4, "cm": 10.0, "mm": 1.0}
KM_PER = {"mi": 1.609344, "km": 1.0}
INF = float("inf")


@dataclass(frozen=True, eq=False)
class Service:
    """One carrier service. ``rates[b][z]`` is the base price of weight break ``b`` in zone
    ``z``; ``price_grid`` is the same with fuel, shaped zones x (breaks + 1), the extra
    last column infinite (too heavy)."""

    carrier: str
    name: str
    mode: str  # "road" | "air"
    fuel: float  # surcharge as a fraction of the base rate
    transit_days: tuple[int, ...]  # business days, by zone index
    caps_g: tuple[float, ...]  # weight breaks (upper bounds), grams, increasing
    rates: tuple[tuple[float, ...], ...]  # [break][zone], before fuel
    dim_divisor: float  # mm^3 per gram
    dim_min_volume_mm3: float  # dimensional weight only above this volume
    pickup_hour: float  # the carrier's last pickup at a site, local hour
    price_grid: np.ndarray = field(init=False, repr=False)
    caps: np.ndarray = field(init=False, repr=False)
    monotone: bool = field(init=False, repr=False)
    _rows: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        grid = np.array(self.rates, dtype=float).T * (1.0 + self.fuel)
        grid = np.round(grid, 2)
        grid = np.hstack([grid, np.full((grid.shape[0], 1), INF)])
        object.__setattr__(self, "price_grid", grid)
        object.__setattr__(self, "caps", np.array(self.caps_g, dtype=float))
        object.__setattr__(self, "_rows", grid.tolist())
        # Prices that never fall as weight grows: what the optimiser's bounds assume.
        object.__setattr__(self, "monotone", bool((np.diff(grid, axis=1) >= 0).all()))
        if any(b <= a for a, b in zip(self.caps_g, self.caps_g[1:], strict=False)):
            raise ValueError(f"{self.label}: weight breaks must increase")

    @property
    def label(self) -> str:
        return f"{self.carrier} {self.name}"

    def billable_g(self, weight_g: float, volume_mm3: float) -> float:
        """max(actual, dimensional) weight in grams."""
        if volume_mm3 > self.dim_min_volume_mm3:
            return max(weight_g, volume_mm3 / self.dim_divisor)
        return weight_g

    def price(self, zone: int, weight_g: float, volume_mm3: float) -> float:
        """Price with fuel of a package in zone index ``zone``; inf when too heavy."""
        if volume_mm3 > self.dim_min_volume_mm3:
            bill = max(weight_g, volume_mm3 / self.dim_divisor)
        else:
            bill = weight_g
        return self._rows[zone][bisect.bisect_left(self.caps_g, bill - 1e-9)]

    def prices(self, zone: int | np.ndarray, weight_g: np.ndarray, volume_mm3: np.ndarray):
        """Vectorised :meth:`price`: ``zone`` an int, or an array broadcast against the
        weights (e.g. ``zones[:, None]``)."""
        w = np.asarray(weight_g, dtype=float)
        v = np.asarray(volume_mm3, dtype=float)
        bill = np.where(v > self.dim_min_volume_mm3, np.maximum(w, v / self.dim_divisor), w)
        b = np.searchsorted(self.caps, bill - 1e-9, side="left")
        return self.price_grid[zone, b]


@dataclass(frozen=True, eq=False)
class RateTable:
    """Zones, services, holidays and CO2 factors. Build with :func:`load_rates`,
    :func:`default_rates` or :meth:`from_dict`."""

    name: str
    currency: str
    countries: frozenset[str]  # domestic services: origin and destination both in here
    zone_names: tuple[str, ...]
    zone_bounds_km: tuple[float, ...]  # upper bound of each zone's band (last: inf)
    services: tuple[Service, ...]
    holidays: frozenset[date]
    co2_g_per_tkm: Mapping[str, float]
    circuity: Mapping[str, float]
    source: Mapping[str, Any] = field(default_factory=dict, repr=False)
    transit: np.ndarray = field(init=False, repr=False)  # services x zones, business days

    def __post_init__(self) -> None:
        days = np.array([s.transit_days for s in self.services], dtype=np.int64)
        object.__setattr__(self, "transit", days.reshape(len(self.services), -1))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RateTable:
        """Build from the JSON shape of ``routing/data/rates_us.json``. Raises ValueError
        (or KeyError) for a malformed table."""
        g = G_PER[d.get("weight_unit", "lb")]
        mm = MM_PER[d.get("length_unit", "in")]
        km = KM_PER[d.get("distance_unit", "mi")]
        zones = d["zones"]
        bounds = tuple(INF if b is None else float(b) * km for b in zones["upper_bounds"])
        names = tuple(str(n) for n in zones["names"])
        if len(bounds) != len(names) or bounds[-1] != INF:
            raise ValueError("zones: one upper bound per name, the last one null (no bound)")
        services = []
        for carrier, c in d["carriers"].items():
            for sname, s in c["services"].items():
                weights = [float(w) for w in s["weights"]]
                max_w = float(s.get("max_weight", c.get("max_weight", weights[-1])))
                rows = [tuple(float(x) for x in r) for r in s["rates"]]
                keep = [i for i, w in enumerate(weights) if w <= max_w]
                if len(rows) != len(weights) or any(len(r) != len(names) for r in rows):
                    raise ValueError(f"{carrier} {sname}: rates must be weights x zones")
                if len(s["transit_days"]) != len(names):
                    raise ValueError(f"{carrier} {sname}: one transit time per zone")
                div = float(s.get("dim_divisor", c["dim_divisor"]))
                services.append(
                    Service(
                        carrier=carrier,
                        name=sname,
                        mode=s.get("mode", "road"),
                        fuel=float(s.get("fuel", c.get("fuel", 0.0))),
                        transit_days=tuple(int(t) for t in s["transit_days"]),
                        caps_g=tuple(weights[i] * g for i in keep),
                        rates=tuple(rows[i] for i in keep),
                        dim_divisor=div * mm**3 / g,
                        dim_min_volume_mm3=float(
                            s.get("dim_min_volume", c.get("dim_min_volume", 0))
                        )
                        * mm**3,
                        pickup_hour=float(s.get("pickup_hour", c.get("pickup_hour", 24))),
                    )
                )
        co2 = d.get("co2", {})
        return cls(
            name=d.get("name", ""),
            currency=d.get("currency", ""),
            countries=frozenset(d.get("countries", ["US"])),
            zone_names=names,
            zone_bounds_km=bounds,
            services=tuple(services),
            holidays=frozenset(date.fromisoformat(h) for h in d.get("holidays", [])),
            co2_g_per_tkm={k: float(co2[k]) for k in ("road", "air") if k in co2}
            or {"road": 150.0, "air": 2900.0},
            circuity=dict(co2.get("circuity", {"road": 1.2, "air": 1.08})),
            source=d,
        )

    def zone(self, distance_km: float) -> int:
        """Index into ``zone_names`` of the band holding ``distance_km``."""
        return bisect.bisect_left(self.zone_bounds_km, distance_km)

    def zones(self, distances_km: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`zone`."""
        return np.searchsorted(np.array(self.zone_bounds_km), distances_km, side="left")

    def serves(self, origin_country: str, dest_country: str) -> bool:
        """Whether the table has services from ``origin_country`` to ``dest_country``."""
        return origin_country in self.countries and dest_country in self.countries

    def service(self, carrier: str, name: str) -> Service:
        """The service named so. Raises KeyError."""
        for s in self.services:
            if s.carrier == carrier and s.name == name:
                return s
        raise KeyError(f"no service {carrier} {name} in rate table {self.name!r}")


def load_rates(path: str | Path | None = None) -> RateTable:
    """The rate table in JSON file ``path`` (default: the bundled illustrative US table).
    Raises OSError, ValueError or KeyError for a missing or malformed file."""
    if path is None:
        text = resources.files("routing.data").joinpath("rates_us.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return RateTable.from_dict(json.loads(text))


@cache
def default_rates() -> RateTable:
    """The bundled table, loaded once."""
    return load_rates()


# -- calendar ------------------------------------------------------------------------------
def is_business_day(d: date, holidays: Iterable[date] = frozenset()) -> bool:
    """Monday-Friday and not a holiday."""
    return d.weekday() < 5 and d not in holidays


def next_business_day(d: date, holidays: Iterable[date] = frozenset()) -> date:
    """``d`` itself when it is a business day, else the next one."""
    while not is_business_day(d, holidays):
        d += timedelta(days=1)
    return d


def add_business_days(d: date, n: int, holidays: Iterable[date] = frozenset()) -> date:
    """The ``n``-th business day after ``d`` (``n == 0``: :func:`next_business_day`)."""
    if n <= 0:
        return next_business_day(d, holidays)
    while n:
        d += timedelta(days=1)
        n -= is_business_day(d, holidays)
    return d


def business_days_between(a: date, b: date, holidays: Iterable[date] = frozenset()) -> int:
    """How many business days lie in ``(a, b]`` (negative or zero when ``b <= a``): a
    package shipped on business day ``a`` with that transit time is delivered by ``b``."""
    if b <= a:
        return 0 if b == a else -1
    days = np.busday_count(a + timedelta(days=1), b + timedelta(days=1), holidays=list(holidays))
    return int(days)


def _local(placed_at: datetime, utc_offset_h: float) -> datetime:
    if placed_at.tzinfo is not None:
        placed_at = placed_at.astimezone(UTC).replace(tzinfo=None)
    return placed_at + timedelta(hours=utc_offset_h)


def ship_date(
    placed_at: datetime,
    utc_offset_h: float,
    cutoff_hour: float,
    holidays: Iterable[date] = frozenset(),
) -> date:
    """The day a package leaves a site whose local time is UTC + ``utc_offset_h`` for an
    order placed at ``placed_at`` (aware, or naive UTC): today when it is a business day
    and before ``cutoff_hour`` local, else the next business day."""
    local = _local(placed_at, utc_offset_h)
    d = local.date()
    hour = local.hour + local.minute / 60 + local.second / 3600
    if is_business_day(d, holidays) and hour < cutoff_hour:
        return d
    return next_business_day(d + timedelta(days=1), holidays)


def promise_deadline(
    placed_at: datetime,
    promise_days: int,
    utc_offset_h: float = 0.0,
    holidays: Iterable[date] = frozenset(),
) -> date:
    """The last delivery day that keeps a promise of ``promise_days`` business days for an
    order placed at ``placed_at``, dated in UTC + ``utc_offset_h``."""
    return add_business_days(_local(placed_at, utc_offset_h).date(), promise_days, holidays)


# -- quotes --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Quote:
    """One service's price and timing for one package."""

    carrier: str
    service: str
    mode: str
    cost: float
    zone: str
    billable_g: float
    transit_days: int
    ship_date: date | None = None
    delivery_date: date | None = None
    on_time: bool = True


def quotes(
    table: RateTable,
    distance_km: float,
    weight_g: float,
    volume_mm3: float = 0.0,
    *,
    origin_country: str = "US",
    dest_country: str = "US",
    placed_at: datetime | None = None,
    site_utc_offset_h: float = 0.0,
    site_cutoff_hour: float = 24.0,
    deadline: date | None = None,
    max_transit_days: int | None = None,
) -> list[Quote]:
    """Every service that can carry the package, cheapest first, each with ``on_time``:
    delivered by ``deadline`` (when ``placed_at`` gives dates) and within
    ``max_transit_days`` business days (when given)."""
    if not table.serves(origin_country, dest_country):
        return []
    z = table.zone(distance_km)
    out = []
    for s in table.services:
        cost = s.price(z, weight_g, volume_mm3)
        if cost == INF:
            continue
        transit = s.transit_days[z]
        shipped = delivered = None
        on_time = max_transit_days is None or transit <= max_transit_days
        if placed_at is not None:
            cutoff = min(site_cutoff_hour, s.pickup_hour)
            shipped = ship_date(placed_at, site_utc_offset_h, cutoff, table.holidays)
            delivered = add_business_days(shipped, transit, table.holidays)
            if deadline is not None:
                on_time = on_time and delivered <= deadline
        out.append(
            Quote(
                s.carrier,
                s.name,
                s.mode,
                cost,
                table.zone_names[z],
                s.billable_g(weight_g, volume_mm3),
                transit,
                shipped,
                delivered,
                on_time,
            )
        )
    out.sort(key=lambda q: (q.cost, q.transit_days, q.carrier, q.service))
    return out


def cheapest(table: RateTable, distance_km: float, weight_g: float, volume_mm3: float = 0.0,
             *, late_ok: bool = False, **promise: Any) -> Quote | None:  # fmt: skip
    """The cheapest service that meets the promise (keywords of :func:`quotes`), or None.
    With ``late_ok``, when none meets it: the cheapest of those delivering soonest, with
    ``on_time=False``."""
    qs = quotes(table, distance_km, weight_g, volume_mm3, **promise)
    for q in qs:
        if q.on_time:
            return q
    if not late_ok or not qs:
        return None
    return min(qs, key=lambda q: (q.delivery_date or date.min, q.transit_days, q.cost))


def co2_kg(
    distance_km: float, weight_g: float, mode: str = "road", table: RateTable | None = None
) -> float:
    """Estimated kg CO2e of carrying ``weight_g`` over great-circle ``distance_km`` by
    ``mode``: distance x circuity x tonnes x g CO2e per tonne-km (the table's factors)."""
    t = table or default_rates()
    factor = t.co2_g_per_tkm.get(mode, t.co2_g_per_tkm["road"])
    km = distance_km * t.circuity.get(mode, 1.0)
    return km * (weight_g / 1e6) * factor / 1000.0
