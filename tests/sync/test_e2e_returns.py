"""End to end with a real Mosquitto: an order packed at a station comes back as a customer
return at its dock; the hub books the units back into stock once, lists the return for
the channel, and the stock level comes back to the station."""

from __future__ import annotations

from station.inspection import record_inspection
from station.receiving import close_receipt, count_units, find_return, start_receipt
from station.store.db import open_db
from sync.hub import HubSync
from tests.sync.e2e_helpers import (
    RECEIPT,
    SITE,
    STATION,
    hub_applied_seq,
    hub_order,
    hub_settings,
    needs_mosquitto,
    new_station_db,
    pack_all,
    rows,
    seed_hub,
    start_station_sync,
    station_config,
    station_last_seq,
    wait_until,
)
from tests.sync.test_e2e_receiving import hub_stock, station_stock

pytestmark = needs_mosquitto

ORDER = "SO-4242"


def test_a_packed_order_returned_at_the_dock_goes_back_into_stock(tmp_path, broker):
    hub_path, station_path = tmp_path / "hub.db", tmp_path / "station.db"
    order = hub_order(ORDER, "2026-11-27T10:00:00Z", 0, [("MUG-WHT", 3), ("TSH-M-BLK", 1)])
    seed_hub(hub_path, {STATION: [order]})
    new_station_db(station_path)
    config = station_config(station_path, broker.port)
    with HubSync(hub_path, SITE, hub_settings(broker.port), poll_interval=0.05) as hub:
        sync = start_station_sync(config, broker.port)
        try:
            wait_until(
                lambda: rows(station_path, "SELECT 1 FROM orders WHERE order_id = ?", [ORDER]),
                what="the order at the station",
            )
            station = open_db(station_path, synchronous="NORMAL")
            try:
                pack_all(station, config, seed=7)
                [(status, mugs)] = station.execute(
                    "SELECT o.status, l.qty - l.qty_short FROM orders o JOIN order_lines l "
                    "USING (order_id) WHERE order_id = ? AND l.sku = 'MUG-WHT'",
                    [ORDER],
                ).fetchall()
                assert status == "packed" and mugs >= 1
                wait_until(
                    lambda: hub_applied_seq(hub_path) == station_last_seq(station_path),
                    what="the packed order at the hub",
                )
                after_ship = hub_stock(hub_path, "MUG-WHT")
                assert after_ship[0] == RECEIPT - mugs  # the mugs left
                # The customer sends every mug back, one broken, with the slip of #4242.
                assert find_return(station, "#4242") == (ORDER, "#4242")
                receipt = start_receipt(station, "#4242", "L9001", ORDER, is_return=True)
                count_units(station, receipt.receipt_id, "MUG-WHT", mugs, "L9001")
                record_inspection(
                    station, STATION, "L9001", "#4242", "MUG-WHT", 1, "broken",
                    receipt_id=receipt.receipt_id,
                )  # fmt: skip
                close_receipt(station, STATION, receipt.receipt_id, "L9001")
            finally:
                station.close()
            last = station_last_seq(station_path)
            wait_until(lambda: hub_applied_seq(hub_path) == last, what="the return at the hub")
            good = mugs - 1
            assert hub_stock(hub_path, "MUG-WHT") == (after_ship[0] + good, after_ship[1] + good)
            assert rows(
                hub_path,
                "SELECT kind, qty, order_id FROM ledger WHERE ref = ? ORDER BY movement_id",
                [f"{STATION}:{last}/MUG-WHT"],
            ) == [("return", mugs, ORDER), ("adjustment", -1, ORDER)]
            assert rows(
                hub_path, "SELECT order_id, line_no, sku, qty_returned, qty_damaged FROM returns"
            ) == [(ORDER, 1, "MUG-WHT", mugs, 1)]
            wait_until(
                lambda: station_stock(station_path, "MUG-WHT") == hub_stock(hub_path, "MUG-WHT"),
                what="the new stock level at the station",
            )
            assert hub.counters.rejected == 0
            assert rows(hub_path, "SELECT error FROM inbox WHERE type = 'goods_returned'") == [
                (None,)
            ]
        finally:
            sync.stop()
