"""A small hand-made station database: few enough rows to check results by hand."""

from __future__ import annotations

import json

import pytest

from station.config import StationConfig
from station.packing.operators import Operator, hash_pin
from station.packing.service import PackingService
from station.store.db import open_db

SHIP_TO = {
    "name": "Zoë Müller",
    "company": "",
    "street1": "12 Elm St",
    "street2": "",
    "city": "Columbus",
    "region": "OH",
    "postal_code": "43215",
    "country": "US",
    "phone": "",
}

# sku, name, gtin14, weight_g, dims, tracking, keyable
SKUS = [
    ("MUG-WHT", "White mug 350 ml", "04006381333931", 350.0, (120, 90, 100), "none", 0),
    ("TSH-M-BLK", "T-shirt M black", "00036000291452", 180.0, (300, 250, 20), "none", 0),
    ("BAT-AA-4", "AA batteries 4-pack", "00012345678905", 100.0, (80, 60, 15), "none", 1),
    ("SERUM-30", "Face serum 30 ml", "06141410004159", 90.0, (40, 40, 120), "lot_expiry", 0),
    ("EARBUDS", "Wireless earbuds", "09506000134352", 60.0, (70, 50, 30), "serial", 0),
]


def make_db(path, orders=None):
    db = open_db(path)
    with db.atomic():
        db["operators"].insert_all(
            [
                {"badge": "B1001", "name": "Sam Packer", "role": "packer", "pin_hash": None},
                {
                    "badge": "B1002",
                    "name": "Pinned Packer",
                    "role": "packer",
                    "pin_hash": hash_pin("4321"),
                },
                {"badge": "L9001", "name": "Priya Raman", "role": "lead", "pin_hash": None},
            ]
        )
        for sku, name, gtin, weight, (ln, w, h), tracking, keyable in SKUS:
            db["skus"].insert(
                {
                    "sku": sku,
                    "name": name,
                    "gtin": gtin,
                    "weight_g": weight,
                    "length_mm": ln,
                    "width_mm": w,
                    "height_mm": h,
                    "tracking": tracking,
                    "qty_keyable": keyable,
                }
            )
            db["barcodes"].insert({"code": gtin, "sku": sku, "units": 1, "kind": "gtin"})
            db["barcodes"].insert({"code": sku, "sku": sku, "units": 1, "kind": "sku"})
        db["barcodes"].insert(
            {"code": "10012345678902", "sku": "BAT-AA-4", "units": 12, "kind": "gtin"}
        )
        db["cartons"].insert_all(
            [
                {
                    "code": "BOX-S",
                    "name": "Small box",
                    "length_mm": 200,
                    "width_mm": 150,
                    "height_mm": 100,
                    "tare_g": 120.0,
                    "max_weight_g": 5000.0,
                },
                {
                    "code": "BOX-M",
                    "name": "Medium box",
                    "length_mm": 350,
                    "width_mm": 250,
                    "height_mm": 150,
                    "tare_g": 250.0,
                    "max_weight_g": 15000.0,
                },
            ]
        )
        for order_id, ship_by, priority, lines in orders or ORDERS:
            db["orders"].insert(
                {
                    "order_id": order_id,
                    "order_ref": "#" + order_id[-4:],
                    "channel": "shopify",
                    "tote": "TOTE-" + order_id[-4:],
                    "pick_list": None,
                    "ship_by": ship_by,
                    "priority": priority,
                    "status": "assigned",
                    "ship_to": json.dumps(SHIP_TO),
                    "carrier": "UPS",
                    "service": "Ground",
                    "assigned_at": "2026-11-27T08:00:00Z",
                }
            )
            for n, (sku, qty) in enumerate(lines, 1):
                db["order_lines"].insert(
                    {"order_id": order_id, "line_no": n, "sku": sku, "qty": qty}
                )
    return db


ORDERS = [
    ("SO-0002", "2026-11-28T12:00:00Z", 0, [("MUG-WHT", 2), ("TSH-M-BLK", 1)]),
    ("SO-0001", "2026-11-28T12:00:00Z", 2, [("TSH-M-BLK", 1)]),
    ("SO-0003", "2026-11-27T18:00:00Z", 0, [("BAT-AA-4", 30), ("MUG-WHT", 1)]),
]


@pytest.fixture
def config(tmp_path):
    return StationConfig(database=str(tmp_path / "station.db"))


@pytest.fixture
def db(config):
    db = make_db(config.database)
    yield db
    db.close()


@pytest.fixture
def service(db, config):
    return PackingService(db, config)


@pytest.fixture
def packer():
    return Operator("B1001", "Sam Packer", "packer")


@pytest.fixture
def lead():
    return Operator("L9001", "Priya Raman", "lead")
