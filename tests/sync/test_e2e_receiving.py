"""End to end with a real Mosquitto: goods received at a station's dock become stock at the
hub, once, and the hub's stock level comes back to the station."""

from __future__ import annotations

from station.inspection import record_inspection
from station.receiving import close_receipt, count_units, start_receipt
from station.store.db import open_db
from sync.hub import HubSync
from tests.sync.e2e_helpers import (
    RECEIPT,
    SITE,
    STATION,
    hub_applied_seq,
    hub_settings,
    needs_mosquitto,
    new_station_db,
    rows,
    seed_hub,
    start_station_sync,
    station_config,
    station_last_seq,
    wait_until,
)

pytestmark = needs_mosquitto


def hub_stock(path, sku: str) -> tuple[int, int] | None:
    found = rows(
        path, "SELECT on_hand, available FROM stock_totals WHERE site = ? AND sku = ?", [SITE, sku]
    )
    return found[0] if found else None


def station_stock(path, sku: str) -> tuple[int, int] | None:
    found = rows(path, "SELECT on_hand, available FROM stock WHERE sku = ?", [sku])
    return found[0] if found else None


def test_goods_received_at_the_dock_become_stock_at_the_hub_and_the_station(tmp_path, broker):
    hub_path, station_path = tmp_path / "hub.db", tmp_path / "station.db"
    seed_hub(hub_path, {STATION: []})
    new_station_db(station_path)
    config = station_config(station_path, broker.port)
    with HubSync(hub_path, SITE, hub_settings(broker.port), poll_interval=0.05) as hub:
        sync = start_station_sync(config, broker.port)
        try:
            # The snapshot brings the catalogue (the dock needs it to know items) and stock.
            wait_until(lambda: station_stock(station_path, "MUG-WHT"), what="the snapshot")
            assert station_stock(station_path, "MUG-WHT") == (RECEIPT, RECEIPT)
            station = open_db(station_path, synchronous="NORMAL")
            try:
                receipt = start_receipt(station, "PO-4711", "L9001")
                count_units(station, receipt.receipt_id, "MUG-WHT", 10, "L9001", "04006381333931")
                count_units(station, receipt.receipt_id, "BAT-AA-4", 24, "L9001", "10012345678902")
                record_inspection(
                    station, STATION, "L9001", "PO-4711", "MUG-WHT", 3, "crushed",
                    receipt_id=receipt.receipt_id,
                )  # fmt: skip
                close_receipt(station, STATION, receipt.receipt_id, "L9001")
            finally:
                station.close()
            last = station_last_seq(station_path)
            wait_until(lambda: hub_applied_seq(hub_path) == last, what="the receipt at the hub")
            assert hub_stock(hub_path, "MUG-WHT") == (RECEIPT + 7, RECEIPT + 7)
            assert hub_stock(hub_path, "BAT-AA-4") == (RECEIPT + 24, RECEIPT + 24)
            assert rows(
                hub_path,
                "SELECT sku, kind, qty FROM ledger WHERE ref LIKE ? ORDER BY movement_id",
                [f"{STATION}:%"],
            ) == [
                ("MUG-WHT", "receipt", 10),
                ("MUG-WHT", "adjustment", -3),
                ("BAT-AA-4", "receipt", 24),
            ]
            # ... and the levels the hub computed travel back on the site stream.
            wait_until(
                lambda: (
                    station_stock(station_path, "MUG-WHT") == (RECEIPT + 7, RECEIPT + 7)
                    and station_stock(station_path, "BAT-AA-4") == (RECEIPT + 24, RECEIPT + 24)
                ),
                what="the new stock levels at the station",
            )
            wait_until(lambda: sync.state().outbox_depth == 0, what="the outbox drained")
            assert hub.counters.rejected == 0
            inbox = rows(hub_path, "SELECT type, error FROM inbox ORDER BY seq")
            assert inbox == [("inbound_inspected", None), ("goods_received", None)]
        finally:
            sync.stop()
