"""Intake fixtures: a fresh hub database with the few SKUs the channel fixtures name."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing import feed, store

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "WH1"
SKUS = ("TSH-ORG-M-BLK", "MUG-STW-OAT", "BTL-STL-CRL", "CDL-SOY-LAV", "TWL-BTH-OAT", "KNF-CHF")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def db():
    hub = store.open_db(":memory:")
    for sku in SKUS:
        feed.upsert_sku(hub, SITE, {"sku": sku, "name": sku.title(), "weight_g": 300,
                                    "length_mm": 100, "width_mm": 100, "height_mm": 100})  # fmt: skip
    return hub


@pytest.fixture
def linked(db):
    """``db`` with the Shopify fixture's first variant linked (the second is not)."""
    from routing.intake import map_sku

    map_sku(db, "shopify", "44321", "TSH-ORG-M-BLK")
    return db
