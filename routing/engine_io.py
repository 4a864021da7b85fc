"""What the routing engine reads from the hub database, and where a routed order goes.

:func:`engine_order` turns a queue entry into the engine's :class:`~routing.engine.Order`
(destination from the address, unit weights and sizes from the catalogue);
:func:`load_inventory` reads available to promise per site from the ledger's sums in one
query; :func:`incoming_to_queue` shapes a channel order that is not stored (``doms hub
route``) like a queue entry; :class:`StationPicker` chooses the station within a site.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import msgspec
import numpy as np
import sqlite_utils

from routing.engine import Inventory, Order, OrderLine
from routing.geo import postal_centroid
from routing.store import OPEN_STATUSES


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


def catalog(
    db: sqlite_utils.Database, skus: Iterable[str]
) -> dict[str, tuple[float, tuple[float, float, float]]]:
    """``{sku: (weight_g, (L, W, H) mm)}`` of ``skus`` from the catalogue."""
    rows = db.execute(
        "SELECT sku, weight_g, length_mm, width_mm, height_mm FROM skus "
        "WHERE sku IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(skus))],
    ).fetchall()
    return {sku: (float(w), (float(a), float(b), float(c))) for sku, w, a, b, c in rows}


def short_sites(db: sqlite_utils.Database, order_ids: list[str]) -> dict[str, str]:
    """``{order_id: site}``: for re-routed short picks, the site that was short."""
    rows = db.execute(
        "SELECT p.order_id, o.site FROM order_parts p JOIN orders o "
        "ON o.order_id = p.parent_order_id WHERE p.kind = 'short' "
        "AND p.order_id IN (SELECT value FROM json_each(?))",
        [json.dumps(order_ids)],
    ).fetchall()
    return {oid: site for oid, site in rows if site}


def inherited_promises(db: sqlite_utils.Database, order_ids: list[str]) -> dict[str, str]:
    """``{order_id: deliver_by}`` of the channel order each part was split off (at any
    depth): a part keeps the order's promise to the buyer."""
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

    def pick(self, site: str, same_as: str | None = None) -> str:
        """The station to give the next order at ``site``; counts it. ``same_as``: that
        station, counted again (a further package of an order the site ships in several).
        Raises ValueError for a site without stations."""
        if same_as is not None:
            self.open[same_as] += 1
            return same_as
        candidates = self._by_site.get(site)
        if not candidates:
            raise ValueError(f"site {site} has no station")
        if len(candidates) == 1:
            station = candidates[0]
        else:
            station = min(candidates, key=lambda s: (self.open[s], s))
        self.open[station] += 1
        return station

    def release(self, station: str) -> None:
        """Uncount one order picked for ``station`` (its assignment was refused)."""
        self.open[station] -= 1


def incoming_to_queue(db: sqlite_utils.Database, incoming: Any) -> dict[str, Any]:
    """A channel order that is not stored (a :class:`routing.intake.IncomingOrder`) in
    the shape of a queue entry, its products linked to SKUs as intake would link them.
    Reads only. Raises ValueError naming the lines not linked to a SKU."""
    from routing.intake import skumap

    lines, unlinked = [], []
    for n, line in enumerate(incoming.lines, 1):
        sku = skumap.resolve(db, incoming.channel, line)
        if sku is None:
            unlinked.append(skumap.unlinked_reason(incoming.channel, n, line))
        lines.append({"line_no": n, "sku": sku, "qty": line.qty, "qty_short": 0})
    if unlinked:
        raise ValueError("; ".join(unlinked))
    deliver_by = incoming.deliver_by
    return {
        "order_id": incoming.order_id,
        "channel": incoming.channel,
        "ship_to": msgspec.to_builtins(incoming.ship_to),
        "lines": lines,
        "deliver_by": deliver_by.isoformat() if deliver_by else None,
    }
