"""``doms hub load`` end to end: two sites' hubs and a station at each over a real broker;
each station ends up with the loaded SKU, barcodes, carton and operator, and a packer
logs in with the loaded badge and PIN."""

from __future__ import annotations

import pytest

from doms.cli import main
from routing import feed, store
from station.packing.errors import Refused
from station.packing.operators import authenticate
from station.store.db import open_db as open_station_db
from sync.broker.runner import Broker
from sync.hub import HubSync
from tests.sync.e2e_helpers import (
    hub_settings,
    new_station_db,
    rows,
    start_station_sync,
    station_config,
    wait_until,
)

STATIONS = {"WH1": "WH1-PACK-01", "WH2": "WH2-PACK-01"}
FILES = {
    "catalog": "sku,name,weight_g,length_mm,width_mm,height_mm,gtin,barcode\n"
    "KETTLE-1,Kettle,1200,250,200,220,4006381333931,KETTLE-1\n",
    "barcodes": "code,sku,units\n14006381333938,KETTLE-1,6\n",
    "cartons": "code,name,length_mm,width_mm,height_mm,tare_g,max_weight_g\n"
    "BOX-K,Kettle box,300,250,260,300,8000\n",
    "operators": "badge,name,role,pin\nB4242,Noor Haddad,packer,2468\n",
}


@pytest.fixture
def broker(tmp_path):
    with Broker(workdir=tmp_path / "broker") as b:
        yield b


def test_stations_at_both_sites_get_the_loaded_data_and_the_operator_logs_in(tmp_path, broker):
    hub_path = tmp_path / "hub.db"
    db = store.open_db(hub_path)
    for site, station in STATIONS.items():
        feed.ensure_station(db, site, station)
    db.close()
    hubs = [HubSync(hub_path, site, hub_settings(broker.port), poll_interval=0.05,
                    synchronous="NORMAL").start() for site in STATIONS]  # fmt: skip
    syncs, paths = [], {}
    try:
        for site, station in STATIONS.items():
            paths[site] = tmp_path / f"{station}.db"
            new_station_db(paths[site])
            config = station_config(paths[site], broker.port, station, site)
            syncs.append(start_station_sync(config, broker.port))
        # Bootstrapped from an empty hub first, so what follows travels on the streams.
        for sync in syncs:
            wait_until(lambda s=sync: s.state().counters.get("snapshots_applied"), 60, "snapshot")
        for kind, text in FILES.items():
            path = tmp_path / f"{kind}.csv"
            path.write_text(text)
            assert main(["hub", "load", kind, str(path), "--db", str(hub_path)]) == 0
        for site, path in paths.items():
            wait_until(lambda p=path: rows(p, "SELECT 1 FROM operators WHERE badge = 'B4242'"),
                       60, f"the operator at {site}")  # fmt: skip
            assert rows(path, "SELECT sku, gtin, weight_g FROM skus") == [
                ("KETTLE-1", "04006381333931", 1200.0)
            ]
            assert rows(path, "SELECT code, units, kind FROM barcodes ORDER BY code") == [
                ("04006381333931", 1, "gtin"), ("14006381333938", 6, "gtin"),
                ("KETTLE-1", 1, "sku"),
            ]  # fmt: skip
            assert rows(path, "SELECT code, max_weight_g FROM cartons") == [("BOX-K", 8000.0)]
            assert rows(path, "SELECT count(*) FROM quarantine")[0][0] == 0
            station_db = open_station_db(path)
            try:
                assert authenticate(station_db, "B4242", "2468").name == "Noor Haddad"
                with pytest.raises(Refused):
                    authenticate(station_db, "B4242", "1234")
            finally:
                station_db.close()
    finally:
        for sync in syncs:
            sync.stop()
        for hub in hubs:
            hub.stop()
