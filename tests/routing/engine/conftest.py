"""Small hand-made networks: sites on the equator east of the destination (0, 0), so the
distance ranks are obvious (one degree of longitude ~ 111 km)."""

from __future__ import annotations

import pytest

from routing.engine import Inventory, LinearCost, Order, OrderLine, Site
from routing.freight import RateTable

DEST = (0.0, 0.0)


def site(id: str, deg: float, **kw) -> Site:
    """A site ``deg`` degrees of longitude east of the destination."""
    return Site(id, 0.0, deg, **kw)


def order(*lines: tuple[str, int], id: str = "SO-1", **kw) -> Order:
    """An order to DEST with lines ``(sku, qty)`` numbered 1, 2, ... (500 g a unit)."""
    return Order(
        id,
        *DEST,
        tuple(OrderLine(n, sku, qty, 500.0, (100.0, 100.0, 100.0)) for n, (sku, qty) in
              enumerate(lines, 1)),
        **kw,
    )  # fmt: skip


def stock(**per_site: dict[str, int]) -> Inventory:
    return Inventory.from_levels(per_site)


def ships(plan) -> dict[str, list[int]]:
    """``{site: [line_no, ...]}`` of a plan."""
    return {s.site: [n for n, _, _ in s.lines] for s in plan.shipments}


@pytest.fixture
def linear() -> LinearCost:
    return LinearCost.jasin_sinha()


def tiny_table(**over) -> RateTable:
    """A one-carrier table (units: kg, cm, km) small enough to check by hand: zones 0-500
    km and beyond; Ground (2 / 4 days) and Express (1 day); breaks 1, 5, 10 kg."""
    d = {
        "name": "tiny",
        "currency": "USD",
        "countries": ["US"],
        "weight_unit": "kg",
        "length_unit": "cm",
        "distance_unit": "km",
        "zones": {"names": ["near", "far"], "upper_bounds": [500, None]},
        "co2": {"road": 100, "air": 1000, "circuity": {"road": 1.0, "air": 1.0}},
        "carriers": {
            "C": {
                "dim_divisor": 5000,
                "dim_min_volume": 0,
                "pickup_hour": 18,
                "services": {
                    "Ground": {"mode": "road", "fuel": 0.1, "transit_days": [2, 4],
                               "weights": [1, 5, 10], "rates": [[5, 8], [7, 12], [10, 20]]},
                    "Express": {"mode": "air", "fuel": 0.0, "transit_days": [1, 1],
                                "weights": [1, 5, 10], "rates": [[20, 30], [25, 40], [30, 60]]},
                },
            }
        },
    }  # fmt: skip
    d.update(over)
    return RateTable.from_dict(d)
