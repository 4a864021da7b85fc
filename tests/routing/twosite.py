"""A two-site hub for routing tests: WH1 in Newark, NJ (07102), WH2 in Los Angeles (90001).

Stock: WH1 has 10 SKU-A; WH2 has 10 SKU-A and 5 SKU-B; SKU-C is in the catalogue, stocked
nowhere. Stations: WH1-PACK-01, WH1-PACK-02, WH2-PACK-01. Orders come in through intake as
the doms order CSV (our SKUs as they are), so they are ``new`` and wait for routing.
"""

from __future__ import annotations

import sqlite_utils

from routing import feed, sites, store
from routing.intake import import_bytes

STATIONS = {"WH1": ("WH1-PACK-01", "WH1-PACK-02"), "WH2": ("WH2-PACK-01",)}
STOCK = {"WH1": {"SKU-A": 10}, "WH2": {"SKU-A": 10, "SKU-B": 5}}
HEADER = "order_id,name,street1,city,postal_code,country,ship_by,sku,qty\n"
# Destinations: (city, ZIP). Hand-checked great-circle km to WH1 (Newark) / WH2 (LA):
# New York 10001: 15 / 3,940; San Francisco 94105: 4,112 / 565 (Columbus 43215: 753 / 3,179).
NYC = ("New York", "10001")
SF = ("San Francisco", "94105")


def make_hub(path: str = ":memory:") -> sqlite_utils.Database:
    db = store.open_db(path)
    sites.set_site(db, "WH1", postal_code="07102")
    sites.set_site(db, "WH2", postal_code="90001", utc_offset_h=-8)
    for site, stations in STATIONS.items():
        for station in stations:
            feed.ensure_station(db, site, station)
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        feed.upsert_sku(db, "WH1", {"sku": sku, "name": sku, "weight_g": 400, "length_mm": 200,
                                    "width_mm": 150, "height_mm": 100})  # fmt: skip
    for site, levels in STOCK.items():
        for sku, qty in levels.items():
            feed.record_movement(db, site, sku, qty, "receipt", f"po:{site}:{sku}")
    return db


def csv_order(order_id: str, place: tuple[str, str], *lines: tuple[str, int]) -> bytes:
    """One order of the doms CSV to ``place`` with ``lines`` of (sku, qty)."""
    city, zip_code = place
    rows = [
        f"{order_id},Ada,1 Main St,{city},{zip_code},US,2030-01-02T17:00:00Z,{sku},{qty}"
        for sku, qty in lines
    ]
    return (HEADER + "\n".join(rows) + "\n").encode()


def add_order(db, order_id: str, place: tuple[str, str], *lines: tuple[str, int]) -> str:
    """Take a CSV order in; return its hub id (``CSV-<order_id>``)."""
    report = import_bytes(db, csv_order(order_id, place, *lines), name=f"{order_id}.csv")
    return report.orders[0].order_id


def order_row(db, order_id: str) -> dict:
    cols = ("status", "site", "station", "carrier", "service", "hold_reason")
    row = db.execute(
        f"SELECT {', '.join(cols)} FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return dict(zip(cols, row, strict=True))


def available(db, site: str, sku: str) -> int:
    return store.stock(db, site, sku)[1]


def stream_types(db, station: str) -> list[tuple[str, str]]:
    """``(type, order_id)`` of every change on the station's stream."""
    return [
        (type_, data["order_id"])
        for _, type_, data in store.read_stream(db, store.station_key(station), 1, 10_000)
    ]
