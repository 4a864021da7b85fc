"""``doms demo``: a whole site on one machine, with nothing to install.

- a broker: Mosquitto when it is installed, else the embedded amqtt broker;
- the hub (routing node) with the sample catalogue, stock and orders, assigned to two
  stations, running HubSync;
- station 2 packed by a robot in the background (the same packing service, scans from
  the sample), so the hub hears from two stations;
- station 1, the Textual app you drive, whose devices are emulators speaking the real
  protocols: an MT-SICS scale and a serial scanner on ptys, a ZPL label printer and an
  ESC/POS slip printer on TCP ports, and a test-card camera. The station starts empty and builds its replica from
  the hub's snapshot, as a new station on a real site does.

The demo keys push barcodes through the scanner's pty and parcels onto the scale, so the
whole device path runs as it would with hardware; Ctrl+G has the hub route a new order
to this station.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import threading
import time
from pathlib import Path

from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.serial_scanner import SerialScannerEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from station.config import Devices, Login, StationConfig, Sync

SITE = "DEMO"
STATIONS = ("DEMO-PACK-01", "DEMO-PACK-02")


class DemoDevices:
    """What the demo keys do: drive the emulators, and ask the hub for a new order."""

    def __init__(
        self,
        scanner: SerialScannerEmulator,
        scale: MtSicsScaleEmulator,
        printer: ZplPrinterEmulator,
        hub_db: Path | None = None,
        station_id: str = STATIONS[0],
    ) -> None:
        self.scanner = scanner
        self.scale = scale
        self.printer = printer
        self.hub_db = hub_db
        self.station_id = station_id
        self._paper_out = False
        self._rng = random.Random()

    def scan(self, code: str) -> None:
        self.scanner.scan(code)

    def place(self, grams: float) -> None:
        self.scale.place(grams)

    def remove(self) -> None:
        self.scale.remove()

    def toggle_paper(self) -> bool:
        self._paper_out = not self._paper_out
        self.printer.paper_out(self._paper_out)
        return self._paper_out

    def new_order(self) -> str | None:
        """The hub takes a new order in and assigns it to this station (it arrives over
        the station stream). Returns its id, or None without a hub."""
        if self.hub_db is None:
            return None
        return hub_new_order(self.hub_db, SITE, self.station_id, self._rng)


def hub_new_order(hub_db: Path, site: str, station: str, rng: random.Random) -> str:
    import json

    from routing import feed, store

    db = store.open_db(hub_db)
    try:
        skus = [
            r[0]
            for r in db.execute(
                "SELECT sku FROM skus WHERE sku IN (SELECT sku FROM barcodes) "
                "AND tracking = 'none' ORDER BY random() LIMIT 3"
            ).fetchall()
        ]
        template = db.execute(
            "SELECT ship_to, carrier, service FROM orders ORDER BY random() LIMIT 1"
        ).fetchone()
        n = db.execute("SELECT count(*) FROM orders").fetchone()[0] + 1
        order_id = f"SO-{20000 + n}"
        ship_to = json.loads(template[0]) if isinstance(template[0], str) else template[0]
        order = {
            "order_id": order_id,
            "order_ref": f"#{5000 + n}",
            "channel": "shopify",
            "ship_by": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
            "priority": 2,
            "ship_to": ship_to,
            "carrier": template[1],
            "service": template[2],
            "tote": f"TOTE-{9000 + n}",
            "lines": [
                {"line_no": i + 1, "sku": sku, "qty": rng.choice((1, 1, 2))}
                for i, sku in enumerate(skus)
            ],
        }
        feed.assign_order(db, site, station, order)
    finally:
        db.close()
    return order_id


@contextlib.contextmanager
def emulated_devices(workdir: Path):
    with contextlib.ExitStack() as stack:
        scale = stack.enter_context(MtSicsScaleEmulator())
        scanner = stack.enter_context(SerialScannerEmulator())
        printer = stack.enter_context(ZplPrinterEmulator(folder=workdir / "labels"))
        slips = stack.enter_context(EscposPrinterEmulator())
        yield scale, scanner, printer, slips


@contextlib.contextmanager
def demo_site(
    workdir: str | Path, *, orders: int = 40, keep: bool = False, robot_every_s: float = 20.0
):
    """Broker, hub and station 2 running, station 1's emulators up; yields
    (station 1 config, DemoDevices, hub db path)."""
    from routing import feed, store
    from sync.broker.runner import Broker
    from sync.hub import HubSync
    from sync.mqtt import BrokerSettings
    from sync.station import StationSync

    work = Path(workdir)
    if not keep and work.exists():
        shutil.rmtree(work)
    (work / "labels").mkdir(parents=True, exist_ok=True)
    hub_db = work / "hub.db"
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Broker(workdir=work / "broker"))
        # We know what we started: no need to try MQTT 5 on the embedded (3.1.1) broker.
        mqtt = "5" if broker.kind == "mosquitto" else "3.1.1"
        settings = BrokerSettings(port=broker.port, protocol=mqtt)
        db = store.open_db(hub_db)
        feed.load_sample_hub(db, SITE, list(STATIONS), orders=orders)
        db.close()
        hub = HubSync(hub_db, SITE, settings).start()
        stack.callback(hub.stop)
        second = StationConfig(
            station_id=STATIONS[1],
            site=SITE,
            database=str(work / f"{STATIONS[1]}.db"),
            sync=Sync(enabled=True, port=broker.port, mqtt=mqtt),
        )
        from station.store.db import open_db

        open_db(second.database).close()
        background = StationSync(second.database, second, settings).start()
        stack.callback(background.stop)
        robot = RobotPacker(second, every_s=robot_every_s)
        robot.start()
        stack.callback(robot.stop)
        scale, scanner, printer, slips = stack.enter_context(emulated_devices(work))
        config = StationConfig(
            station_id=STATIONS[0],
            site=SITE,
            database=str(work / f"{STATIONS[0]}.db"),
            devices=Devices(
                scale=scale.url,
                scanner=scanner.url,
                label_printer=printer.url,
                slip_printer=slips.url,
                camera="emulator://camera",  # Shift+F1 works in the demo
            ),
            login=Login(idle_lock_s=900),
            sync=Sync(enabled=True, port=broker.port, mqtt=mqtt),
        )
        yield config, DemoDevices(scanner, scale, printer, hub_db), hub_db


class RobotPacker(threading.Thread):
    """Packs station 2's next order every ``every_s`` seconds through PackingService,
    exactly as a packer at its screen would (scans, carton, weight)."""

    def __init__(self, config: StationConfig, every_s: float) -> None:
        super().__init__(name="robot-packer", daemon=True)
        self.config = config
        self.every_s = every_s
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        from station.demo_data import demo_barcodes_for
        from station.packing.errors import Refused
        from station.packing.operators import Operator
        from station.packing.service import PackingService
        from station.store.db import open_db

        db = open_db(self.config.database)
        service = PackingService(db, self.config)
        robot = Operator("B1004", "Robot packer", "packer")
        try:
            while not self._halt.wait(self.every_s):
                order_id = service.next_order()
                if order_id is None:
                    continue
                try:
                    service.open_order(order_id, robot)
                    for code in demo_barcodes_for(db, order_id, remaining=True):
                        service.scan_item(order_id, service.classify(code), robot)
                    package = service.view(order_id).package_to_weigh
                    carton = service.suggest_carton(order_id, package.package_id) or "BOX-L"
                    service.set_carton(order_id, package.package_id, carton, robot)
                    service.record_weight(
                        order_id,
                        package.package_id,
                        service.expected_weight(package.package_id),
                        robot,
                    )
                except (Refused, LookupError, AttributeError):
                    continue  # e.g. the catalogue not synced yet: try again later
        finally:
            db.close()


def hub_summary(hub_db: Path) -> str:
    from routing import store

    db = store.open_db(hub_db)
    try:
        rows = db.execute(
            "SELECT station, status, count(*) FROM orders GROUP BY station, status "
            "ORDER BY station, status"
        ).fetchall()
        ship = db.execute(
            "SELECT count(*), coalesce(-sum(qty), 0) FROM ledger WHERE kind = 'ship'"
        ).fetchone()
    finally:
        db.close()
    lines = [f"  {station or '-':14} {status:10} {n}" for station, status, n in rows]
    return (
        "hub orders by station and status:\n"
        + "\n".join(lines)
        + f"\nhub ledger: {ship[0]} ship movements, {ship[1]} units shipped"
    )


def run_demo(workdir: str | Path, *, orders: int = 40, keep: bool = False) -> int:
    from station.app import StationApp
    from station.logs import log_to_file

    with demo_site(workdir, orders=orders, keep=keep) as (config, demo, hub_db):
        log = log_to_file(config.database)
        StationApp(config, demo=demo).run()
    labels = sorted(Path(workdir, "labels").glob("*.zpl"))
    print(
        f"demo finished: {len(labels)} label(s) printed to {Path(workdir, 'labels')}; log in {log}"
    )
    print(hub_summary(hub_db))
    return 0
