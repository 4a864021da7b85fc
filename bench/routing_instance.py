"""The instance of Jasin & Sinha (Operations Research 63(6), 2015), seeded and reproducible.

    python -m bench.routing --dump DIR [--orders N] [--seed S] [--variant metro|zip]
    python -m bench.routing_instance --make-zip-points    # rebuild zip_points.csv

The network is theirs, as published with the code of Amil, Makhdoumi and Wei (see
``routing/data/jasin_sinha/README.md``): 10 fulfilment centres and 99 US metro areas
weighted by population. Everything else is drawn from one seed, each part from its own
stream (``SeedSequence([seed, part])``), so that changing one rule leaves the others' draws
alone:

* **SKUs**: 100. Popularity ``w_i`` lognormal(0, 1). Centre ``k`` stocks SKU ``i`` with
  probability ``p_i``, drawn per SKU uniformly in [0.25, 0.75] (the paper's 25-75 %);
  a SKU stocked nowhere is given to one centre at random.
* **Orders**: the destination is a demand point drawn with probability proportional to
  its population; the number of items ``n`` is 1-10 with ``P(n)`` proportional to ``1/n``
  (mean 3.41); the ``n`` distinct SKUs are drawn without replacement proportionally to
  popularity (Gumbel top-k), one unit each, as the paper's orders are sets of items.
* **Inventory** (as Jasin & Sinha, and the Amil-Makhdoumi-Wei code, ``inventory.py``):
  the initial stock of SKU ``i`` at centre ``k`` is ``ceil(T * q_i * s_ki)``, where ``T``
  is the number of orders in the stream (the horizon), ``q_i`` the expected units of ``i``
  per order and ``s_ki`` the population share of the demand points whose *closest centre
  stocking i* is ``k``. Total stock is thus the expected demand of the horizon, placed
  where the closest-centre rule would use it; nothing is replenished, so stock runs out
  at some centres before the end and today's choice changes tomorrow's cost. ``q_i`` is
  estimated from 200,000 orders simulated from the same distribution on a stream of their
  own (not the benchmark's orders): a forecast, not the realised demand.
* **Costs** (the paper's): a package from centre ``k`` to point ``j`` costs 8.759, plus per
  item 0.423 + 0.000541 x haversine miles(k, j) (earth radius 3,959 mi). An item not
  filled is shipped from a dummy centre with unlimited stock whose package costs twice
  the fixed cost and whose items cost twice the per-item cost from the farthest centre
  of ``j``: an order with unfilled items pays 2 x 8.759 once, plus 2 x (0.423 + 0.000541 x
  max_k miles(k, j)) per unfilled item, as in the Amil-Makhdoumi-Wei cost code.

Variants: ``metro``, the paper's 99 metro areas as demand points; ``zip``, demand points
are the 4,995 standard ZIP codes whose centroid lies within 15 miles of a metro centre,
each given to its nearest metro, the metro's population split equally among its ZIPs
(no ZIP populations ship with the geography package; ``zip_points.csv`` says where they
come from). In both, ``region`` is the metro of a point: the look-ahead's transportation
LP plans demand by metro.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "routing" / "data" / "jasin_sinha"
EARTH_RADIUS_MI = 3959.0  # the radius of the paper's (and the Amil et al. code's) haversine
ZIP_RADIUS_MI = 15.0
FORECAST_ORDERS = 200_000
# the streams of SeedSequence([seed, part])
_POPULARITY, _STOCKING, _ORDERS, _FORECAST = 1, 2, 3, 4


@dataclass(frozen=True)
class CostModel:
    """Jasin & Sinha's shipping cost: per package + per item + per item-mile."""

    fixed: float = 8.759
    per_item: float = 0.423
    per_item_mile: float = 0.000541
    unfilled_factor: float = 2.0  # the dummy centre: this times the fixed and farthest per-item

    def unit(self, miles: np.ndarray) -> np.ndarray:
        return self.per_item + self.per_item_mile * miles


@dataclass(frozen=True)
class Params:
    """What the instance is drawn from (all of it goes into the dump)."""

    n_orders: int = 5000
    seed: int = 1
    variant: str = "metro"
    n_skus: int = 100
    max_items: int = 10
    stock_prob_range: tuple[float, float] = (0.25, 0.75)
    popularity_sigma: float = 1.0
    inventory_factor: float = 1.0  # x the expected demand of the horizon
    forecast_orders: int = FORECAST_ORDERS
    sites_limit: int | None = None  # the first n centres only (tiny test instances)
    points_limit: int | None = None  # the n most populous metros only


@dataclass
class Instance:
    """Arrays indexed by site ``k`` (0..K-1, and K = the dummy "unfilled" centre), demand
    point ``p``, region (metro) ``r``, SKU ``i`` and order ``o``."""

    params: Params
    cost: CostModel
    site_codes: list[str]
    site_states: list[str]
    site_lat: np.ndarray
    site_lon: np.ndarray
    point_ids: list[str]
    point_names: list[str]
    point_states: list[str]
    point_lat: np.ndarray
    point_lon: np.ndarray
    point_weight: np.ndarray  # population
    point_region: np.ndarray  # metro index
    region_names: list[str]
    region_lat: np.ndarray
    region_lon: np.ndarray
    skus: list[str]
    popularity: np.ndarray
    stock_prob: np.ndarray
    size_probs: np.ndarray  # P(n items), n = 1..max_items
    expected_units: np.ndarray  # q_i: expected units of SKU i per order (the forecast)
    stocked: np.ndarray  # (K, S) bool
    inventory: np.ndarray  # (K, S) int: initial stock
    order_point: np.ndarray  # (N,)
    order_start: np.ndarray  # (N + 1,): order o's SKUs are order_items[start[o]:start[o+1]]
    order_items: np.ndarray
    dist: np.ndarray = field(repr=False)  # (K, P) miles
    unit: np.ndarray = field(repr=False)  # (K + 1, P) per-item cost, row K = unfilled
    fixed: np.ndarray = field(repr=False)  # (K + 1,) per-package cost
    region_unit: np.ndarray = field(repr=False)  # (K + 1, R) per-item cost to a metro centre

    @property
    def n_sites(self) -> int:
        return len(self.site_codes)

    @property
    def unfilled(self) -> int:
        """The index of the dummy centre (``n_sites``)."""
        return len(self.site_codes)

    @property
    def n_orders(self) -> int:
        return len(self.order_point)

    def items(self, o: int) -> np.ndarray:
        return self.order_items[self.order_start[o] : self.order_start[o + 1]]

    def plan_cost(self, o: int, assign: np.ndarray) -> float:
        """The true cost of shipping order ``o``'s items from sites ``assign`` (K = not
        filled): a package per distinct site, plus each item's per-item cost."""
        p = self.order_point[o]
        sites = np.unique(assign)
        return float(self.fixed[sites].sum() + self.unit[assign, p].sum())

    def sizes(self) -> dict[str, int]:
        return {
            "sites": self.n_sites,
            "demand_points": len(self.point_ids),
            "regions": len(self.region_names),
            "skus": len(self.skus),
            "orders": self.n_orders,
            "items": int(len(self.order_items)),
            "stocked_site_skus": int(self.stocked.sum()),
            "initial_units": int(self.inventory.sum()),
        }


# -- geography -----------------------------------------------------------------------------


def haversine_miles(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle miles, broadcasting (degrees in)."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MI * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_network(data: Path = DATA) -> tuple[list[dict], list[dict]]:
    """(centres, metros) as in the published CSVs."""
    return _read_csv(data / "fulfillment_centers.csv"), _read_csv(data / "cities.csv")


def make_zip_points(data: Path = DATA, radius: float = ZIP_RADIUS_MI) -> int:
    """Write ``zip_points.csv``: active standard ZIP codes (centroids of the ``zipcodes``
    package) within ``radius`` miles of a metro centre, each with its nearest metro.
    Returns how many. Only needed to rebuild the shipped file."""
    import zipcodes  # the one use of it: the shipped CSV is what the benchmark reads

    _, metros = load_network(data)
    mlat = np.array([float(m["Latitude"]) for m in metros])
    mlon = np.array([float(m["Longitude"]) for m in metros])
    rows = []
    for z in zipcodes.list_all():
        if z["zip_code_type"] != "STANDARD" or not z["active"] or not z["lat"] or not z["long"]:
            continue
        d = haversine_miles(float(z["lat"]), float(z["long"]), mlat, mlon)
        r = int(d.argmin())
        if d[r] <= radius:
            rows.append((z["zip_code"], z["state"], z["lat"], z["long"], r))
    rows.sort()
    with (data / "zip_points.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["zip", "state", "lat", "lon", "metro"])
        w.writerows(rows)
    return len(rows)


# -- the instance --------------------------------------------------------------------------


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, part]))


def size_probabilities(max_items: int) -> np.ndarray:
    p = 1.0 / np.arange(1, max_items + 1)
    return p / p.sum()


def draw_baskets(
    rng: np.random.Generator, n: int, popularity: np.ndarray, size_probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` orders' SKU sets: sizes from ``size_probs``, SKUs without replacement
    proportional to ``popularity`` (Gumbel top-k). Returns (start (n+1,), items)."""
    max_items = len(size_probs)
    sizes = rng.choice(np.arange(1, max_items + 1), size=n, p=size_probs)
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(n, len(popularity)))
    top = np.argpartition(-keys, max_items - 1, axis=1)[:, :max_items]
    top_keys = np.take_along_axis(keys, top, axis=1)
    top = np.take_along_axis(top, np.argsort(-top_keys, axis=1), axis=1)  # in draw order
    keep = np.arange(max_items)[None, :] < sizes[:, None]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    return start, top[keep].astype(np.int64)


def expected_units(params: Params, popularity: np.ndarray, size_probs: np.ndarray) -> np.ndarray:
    """q_i, estimated from ``forecast_orders`` simulated orders (their own stream)."""
    rng = _rng(params.seed, _FORECAST)
    counts = np.zeros(len(popularity))
    left = params.forecast_orders
    while left > 0:
        n = min(left, 20_000)
        _, items = draw_baskets(rng, n, popularity, size_probs)
        counts += np.bincount(items, minlength=len(popularity))
        left -= n
    return counts / params.forecast_orders


def _points(params: Params, metros: list[dict], data: Path):
    """(ids, names, states, lat, lon, weight, region) of the demand points."""
    pop = np.array([float(m["Population"]) for m in metros])
    if params.variant == "metro":
        return (
            [f"M{r:02d}" for r in range(len(metros))],
            [m["City"] for m in metros],
            [m["State"] for m in metros],
            np.array([float(m["Latitude"]) for m in metros]),
            np.array([float(m["Longitude"]) for m in metros]),
            pop,
            np.arange(len(metros)),
        )
    if params.variant != "zip":
        raise ValueError(f"variant must be metro or zip, not {params.variant!r}")
    rows = [r for r in _read_csv(data / "zip_points.csv") if int(r["metro"]) < len(metros)]
    region = np.array([int(r["metro"]) for r in rows])
    per_metro = np.bincount(region, minlength=len(metros))
    missing = np.flatnonzero(per_metro == 0)
    if len(missing):  # cannot happen with the shipped file; kept honest for smaller radii
        raise ValueError(f"metros without a ZIP point: {missing.tolist()}")
    return (
        [r["zip"] for r in rows],
        [metros[g]["City"] for g in region],
        [r["state"] for r in rows],
        np.array([float(r["lat"]) for r in rows]),
        np.array([float(r["lon"]) for r in rows]),
        pop[region] / per_metro[region],
        region,
    )


def build(
    params: Params | None = None, cost: CostModel | None = None, data: Path = DATA
) -> Instance:
    """Draw the instance of ``params`` (the same params give the same instance)."""
    params = params or Params()
    cost = cost or CostModel()
    centres, metros = load_network(data)
    if params.sites_limit:
        centres = centres[: params.sites_limit]
    if params.points_limit:
        metros = metros[: params.points_limit]  # the CSV is by population, largest first
    ids, names, states, plat, plon, weight, region = _points(params, metros, data)
    slat = np.array([float(c["Latitude"]) for c in centres])
    slon = np.array([float(c["Longitude"]) for c in centres])
    n_sites, n_skus = len(centres), params.n_skus

    popularity = _rng(params.seed, _POPULARITY).lognormal(0.0, params.popularity_sigma, n_skus)
    rng = _rng(params.seed, _STOCKING)
    lo, hi = params.stock_prob_range
    stock_prob = rng.uniform(lo, hi, n_skus)
    stocked = rng.random((n_sites, n_skus)) < stock_prob[None, :]
    for i in np.flatnonzero(~stocked.any(axis=0)):
        stocked[rng.integers(n_sites), i] = True

    size_probs = size_probabilities(params.max_items)
    q = expected_units(params, popularity, size_probs)

    dist = haversine_miles(slat[:, None], slon[:, None], plat[None, :], plon[None, :])
    # closest stocking centre of every (SKU, point) -> population share of each centre
    masked = np.where(stocked[:, :, None], dist[:, None, :], np.inf)  # (K, S, P)
    closest = masked.argmin(axis=0)  # (S, P)
    share = np.zeros((n_sites, n_skus))
    for k in range(n_sites):
        share[k] = ((closest == k) * weight[None, :]).sum(axis=1)
    share /= weight.sum()
    inventory = np.ceil(
        params.inventory_factor * params.n_orders * q[None, :] * share - 1e-9
    ).astype(np.int64)
    inventory[~stocked] = 0

    rng = _rng(params.seed, _ORDERS)
    order_point = rng.choice(len(ids), size=params.n_orders, p=weight / weight.sum())
    order_start, order_items = draw_baskets(rng, params.n_orders, popularity, size_probs)

    unit = np.empty((n_sites + 1, len(ids)))
    unit[:n_sites] = cost.unit(dist)
    unit[n_sites] = cost.unfilled_factor * cost.unit(dist.max(axis=0))
    fixed = np.full(n_sites + 1, cost.fixed)
    fixed[n_sites] = cost.unfilled_factor * cost.fixed
    rlat = np.array([float(m["Latitude"]) for m in metros])
    rlon = np.array([float(m["Longitude"]) for m in metros])
    rdist = haversine_miles(slat[:, None], slon[:, None], rlat[None, :], rlon[None, :])
    region_unit = np.empty((n_sites + 1, len(metros)))
    region_unit[:n_sites] = cost.unit(rdist)
    # the dummy's per-item cost of a metro: the mean over its points, by population
    wsum = np.bincount(region, weights=weight, minlength=len(metros))
    region_unit[n_sites] = (
        np.bincount(region, weights=weight * unit[n_sites], minlength=len(metros)) / wsum
    )

    return Instance(
        params=params,
        cost=cost,
        site_codes=[c["Facility"] for c in centres],
        site_states=[c["State"] for c in centres],
        site_lat=slat,
        site_lon=slon,
        point_ids=ids,
        point_names=names,
        point_states=states,
        point_lat=plat,
        point_lon=plon,
        point_weight=weight,
        point_region=region,
        region_names=[m["City"] for m in metros],
        region_lat=rlat,
        region_lon=rlon,
        skus=[f"SKU-{i + 1:03d}" for i in range(n_skus)],
        popularity=popularity,
        stock_prob=stock_prob,
        size_probs=size_probs,
        expected_units=q,
        stocked=stocked,
        inventory=inventory,
        order_point=order_point,
        order_start=order_start,
        order_items=order_items,
        dist=dist,
        unit=unit,
        fixed=fixed,
        region_unit=region_unit,
    )


# -- the dump ------------------------------------------------------------------------------


def dump(inst: Instance, out: Path) -> list[Path]:
    """Write the exact instance as CSV/JSON into ``out``; return the files written.

    ``instance.json``: parameters, cost constants, order-size distribution, sizes and the
    rules by which everything was drawn; ``sites.csv``, ``demand_points.csv``, ``skus.csv``,
    ``inventory.csv`` (stocked site-SKU pairs and their initial units), ``orders.csv`` (id,
    demand point, position in the stream) and ``order_lines.csv`` (one unit per line).
    Distances are the haversine miles of the coordinates written, radius 3,959 mi."""
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def table(name: str, header: list[str], rows) -> None:
        path = out / name
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        written.append(path)

    table(
        "sites.csv",
        ["site", "state", "lat", "lon"],
        zip(inst.site_codes, inst.site_states, inst.site_lat, inst.site_lon, strict=True),
    )
    table(
        "demand_points.csv",
        ["point", "name", "state", "lat", "lon", "weight", "region", "region_name"],
        (
            (pid, name, st, lat, lon, round(float(w), 6), int(r), inst.region_names[r])
            for pid, name, st, lat, lon, w, r in zip(
                inst.point_ids,
                inst.point_names,
                inst.point_states,
                inst.point_lat,
                inst.point_lon,
                inst.point_weight,
                inst.point_region,
                strict=True,
            )
        ),  # fmt: skip
    )
    table(
        "skus.csv",
        ["sku", "popularity", "stock_prob", "expected_units_per_order"],
        (
            (s, round(float(p), 9), round(float(sp), 9), round(float(q), 9))
            for s, p, sp, q in zip(
                inst.skus, inst.popularity, inst.stock_prob, inst.expected_units, strict=True
            )
        ),
    )
    table(
        "inventory.csv",
        ["site", "sku", "qty"],
        (
            (inst.site_codes[k], inst.skus[i], int(inst.inventory[k, i]))
            for k, i in zip(*np.nonzero(inst.stocked), strict=True)
        ),
    )
    table(
        "orders.csv",
        ["order_id", "seq", "point"],
        ((order_id(o), o, inst.point_ids[inst.order_point[o]]) for o in range(inst.n_orders)),
    )
    table(
        "order_lines.csv",
        ["order_id", "line_no", "sku", "qty"],
        (
            (order_id(o), n + 1, inst.skus[i], 1)
            for o in range(inst.n_orders)
            for n, i in enumerate(inst.items(o))
        ),
    )
    meta = {
        "source": "Jasin & Sinha, Operations Research 63(6), 2015; network from "
        "AyoubAmil/multi-item-order-fulfillment_AA_AM_YW, ORDER_FULFILLMENT/Data",
        "params": asdict(inst.params),
        "cost_model": {
            **asdict(inst.cost),
            "earth_radius_miles": EARTH_RADIUS_MI,
            "package": "fixed + sum over items of (per_item + per_item_mile * miles)",
            "unfilled": "a dummy site: unfilled_factor * fixed once per order with unfilled "
            "items, plus unfilled_factor * (per_item + per_item_mile * farthest site miles) "
            "per unfilled item",
        },
        "order_size_probs": [round(float(p), 12) for p in inst.size_probs],
        "inventory_rule": "ceil(inventory_factor * n_orders * expected_units[sku] * share), "
        "share = population share of the demand points whose closest site stocking the SKU "
        "is this site",
        "sizes": inst.sizes(),
    }
    path = out / "instance.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    written.append(path)
    return written


def order_id(o: int) -> str:
    return f"JS-{o + 1:06d}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.routing_instance", description=__doc__)
    p.add_argument("--make-zip-points", action="store_true", help="rebuild zip_points.csv")
    p.add_argument("--radius", type=float, default=ZIP_RADIUS_MI)
    args = p.parse_args(argv)
    if args.make_zip_points:
        n = make_zip_points(radius=args.radius)
        print(f"{DATA / 'zip_points.csv'}: {n} ZIP codes within {args.radius:g} mi of a metro")
        return 0
    p.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
