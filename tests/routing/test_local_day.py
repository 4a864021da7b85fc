"""Daily capacity counts packages per site's local day (routing.sites.loads_today)."""

from __future__ import annotations

import datetime as dt

from routing import feed
from routing.sites import loads_today, local_day_start

from .twosite import make_hub

NOW = dt.datetime(
    2026, 11, 27, 5, 0, tzinfo=dt.UTC
)  # WH1 (UTC): 05:00; WH2 (UTC-8): 21:00 the 26th


def assign(db, site: str, station: str, order_id: str, at: str) -> None:
    feed.assign_order(
        db, site, station,
        {"order_id": order_id, "order_ref": order_id, "ship_by": "2026-11-28T17:00:00Z",
         "ship_to": {"name": "Ada", "street1": "1 Main St", "city": "X", "country": "US"},
         "carrier": "UPS", "service": "Ground", "assigned_at": at,
         "lines": [{"line_no": 1, "sku": "SKU-A", "qty": 1}]},
    )  # fmt: skip


def test_a_local_day_starts_at_local_midnight_in_utc():
    assert local_day_start(0, NOW) == "2026-11-27T00:00:00"
    assert local_day_start(-8, NOW) == "2026-11-26T08:00:00"
    assert local_day_start(5.5, NOW) == "2026-11-26T18:30:00"  # 10:30 local, the 27th


def test_packages_are_counted_from_each_sites_local_midnight():
    db = make_hub()
    assign(db, "WH1", "WH1-PACK-01", "E1", "2026-11-26T23:00:00.000Z")  # yesterday at WH1
    assign(db, "WH1", "WH1-PACK-01", "E2", "2026-11-27T01:00:00.000Z")
    assign(db, "WH2", "WH2-PACK-01", "W1", "2026-11-26T07:59:00.000Z")  # 23:59 the 25th, local
    assign(db, "WH2", "WH2-PACK-01", "W2", "2026-11-26T09:00:00.000Z")  # 01:00 the 26th, local
    assign(db, "WH2", "WH2-PACK-01", "W3", "2026-11-26T20:00:00.000Z")  # 12:00 the 26th, local
    assign(db, "WH2", "WH2-PACK-01", "W4", "2026-11-27T04:00:00.000Z")  # 20:00 the 26th, local
    assert list(loads_today(db, ("WH1", "WH2"), NOW)) == [1, 3]
    feed.cancel_order(db, "W3")  # nobody packs it: it takes no capacity
    assert list(loads_today(db, ("WH2", "WH1"), NOW)) == [2, 1]
