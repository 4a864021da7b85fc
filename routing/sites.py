"""Sites with geography: where each site is and what the routing engine needs to know of it.

A site is registered bare by ``doms hub init`` or a station's first event
(:func:`routing.feed.ensure_site`); :func:`set_site` gives it a location (a postal code's
centroid from :mod:`routing.geo`, or latitude and longitude), a rank, a daily package
capacity, a cut-off hour and a UTC offset. Only sites with a location take part in routing:
without one there is no distance to rank them by, so they are never guessed at.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import sqlite_utils

from doms.db import now_iso, transaction
from routing.engine import Site
from routing.geo import postal_centroid

SITE_COLUMNS = (
    "site", "name", "lat", "lon", "postal_code", "country", "market", "rank", "capacity",
    "cutoff_hour", "utc_offset_h",
)  # fmt: skip
_KEEP = object()  # "leave this column as it is"


def set_site(
    db: sqlite_utils.Database,
    site: str,
    *,
    postal_code: str | None = None,
    country: str = "US",
    lat: float | None = None,
    lon: float | None = None,
    name: str | None = None,
    market: str | None = None,
    rank: int | None = None,
    capacity: int | None | object = _KEEP,
    cutoff_hour: float | None = None,
    utc_offset_h: float | None = None,
) -> dict[str, Any]:
    """Register ``site`` or update it; return its row. Arguments left out (None) keep
    their value; ``capacity=None`` removes the limit. The location is ``lat``/``lon`` when
    given, else the centroid of ``postal_code``. Raises ValueError for a half-given
    location, a value out of range, or routing.geo.UnknownPostalCode (a ValueError) for a
    postal code without offline data."""
    country = country.strip().upper()
    if (lat is None) != (lon is None):
        raise ValueError("give both --lat and --lon, or neither")
    if lat is None and postal_code:
        lat, lon = postal_centroid(postal_code, country)
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat}, {lon}) is not a latitude and longitude")
    if capacity is not _KEEP and capacity is not None and capacity < 0:
        raise ValueError(f"capacity {capacity} is negative")
    if cutoff_hour is not None and not 0 <= cutoff_hour <= 24:
        raise ValueError(f"cut-off hour {cutoff_hour} is not between 0 and 24")
    if utc_offset_h is not None and not -14 <= utc_offset_h <= 14:
        raise ValueError(f"UTC offset {utc_offset_h} h is not between -14 and 14")
    changes: dict[str, Any] = {
        "name": name, "lat": lat, "lon": lon, "postal_code": postal_code, "market": market,
        "rank": rank, "cutoff_hour": cutoff_hour, "utc_offset_h": utc_offset_h,
    }  # fmt: skip
    changes = {k: v for k, v in changes.items() if v is not None}
    if lat is not None or postal_code:
        changes["country"] = country
    if capacity is not _KEEP:
        changes["capacity"] = capacity
    with transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO sites (site, name, created_at) VALUES (?, '', ?)",
            [site, now_iso()],
        )
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.execute(f"UPDATE sites SET {sets} WHERE site = ?", [*changes.values(), site])
        return get_site(db, site)


def get_site(db: sqlite_utils.Database, site: str) -> dict[str, Any]:
    """The site's row (:data:`SITE_COLUMNS`). Raises ValueError for an unknown site."""
    row = db.execute(
        f"SELECT {', '.join(SITE_COLUMNS)} FROM sites WHERE site = ?", [site]
    ).fetchone()
    if row is None:
        raise ValueError(f"no site {site}")
    return dict(zip(SITE_COLUMNS, row, strict=True))


def list_sites(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every site's row with ``stations``, its station count, in site order."""
    rows = db.execute(
        f"SELECT {', '.join('s.' + c for c in SITE_COLUMNS)}, "
        "(SELECT count(*) FROM stations t WHERE t.site = s.site) FROM sites s ORDER BY s.site"
    ).fetchall()
    return [dict(zip((*SITE_COLUMNS, "stations"), r, strict=True)) for r in rows]


def engine_sites(db: sqlite_utils.Database) -> list[Site]:
    """The sites the engine may route to: those with a location and at least one station
    (a site with none has nobody to pack), in site order."""
    return [
        Site(
            r["site"],
            r["lat"],
            r["lon"],
            country=r["country"],
            market=r["market"],
            rank=r["rank"],
            capacity=r["capacity"],
            cutoff_hour=r["cutoff_hour"],
            utc_offset_h=r["utc_offset_h"],
        )  # fmt: skip
        for r in list_sites(db)
        if r["lat"] is not None and r["stations"]
    ]


def local_day_start(utc_offset_h: float, now: dt.datetime | None = None) -> str:
    """When the site's current local day began, in UTC, as the hub writes times
    (``2026-11-26T08:00:00``; compares as text with ``orders.assigned_at``)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    offset = dt.timedelta(hours=utc_offset_h)
    local = (now + offset).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - offset).strftime("%Y-%m-%dT%H:%M:%S")


def loads_today(
    db: sqlite_utils.Database, sites: tuple[str, ...], now: dt.datetime | None = None
) -> np.ndarray:
    """Orders assigned per site since the start of that site's local day (each a
    package, near enough), for the engine's daily ``capacity`` rule, in ``sites`` order.
    Cancelled orders are not counted: nobody packs them. Counted from local midnight,
    not UTC: a site at UTC-8 would otherwise start a new day at 16:00 local, mid-shift."""
    starts = {
        site: local_day_start(offset, now)
        for site, offset in db.execute(
            "SELECT site, utc_offset_h FROM sites WHERE site IN (SELECT value FROM json_each(?))",
            [json.dumps(list(sites))],
        ).fetchall()
    }
    counts = dict(
        db.execute(
            "SELECT o.site, count(*) FROM orders o JOIN json_each(?) j "
            "ON o.site = json_extract(j.value, '$[0]') "
            "WHERE o.assigned_at >= json_extract(j.value, '$[1]') AND o.status != 'cancelled' "
            "GROUP BY o.site",
            [json.dumps(sorted(starts.items()))],
        ).fetchall()
    )
    return np.array([counts.get(s, 0) for s in sites], np.int64)
