"""``doms demo``: the station app against emulated devices that speak the real protocols.

The scale is an MT-SICS emulator on a pty, the scanner a serial scanner on a pty, the
label printer a ZPL printer on a TCP port, the slip printer an ESC/POS printer on a TCP
port. The demo keys push barcodes through the scanner's pty and parcels onto the scale,
so the whole device path runs exactly as it would with hardware.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.serial_scanner import SerialScannerEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from station.config import Devices, Login, StationConfig


class DemoDevices:
    """What the demo keys do, on the emulators."""

    def __init__(
        self,
        scanner: SerialScannerEmulator,
        scale: MtSicsScaleEmulator,
        printer: ZplPrinterEmulator,
    ) -> None:
        self.scanner = scanner
        self.scale = scale
        self.printer = printer
        self._paper_out = False

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


@contextlib.contextmanager
def emulated_station(
    workdir: str | Path, *, orders: int = 40, keep: bool = False, station_id: str = "DEMO-PACK-01"
):
    """Start the emulators, prepare a sample database; yield (config, DemoDevices)."""
    from station.demo_data import load_sample
    from station.store.db import open_db

    work = Path(workdir)
    if not keep and work.exists():
        shutil.rmtree(work)
    (work / "labels").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        scale = stack.enter_context(MtSicsScaleEmulator())
        scanner = stack.enter_context(SerialScannerEmulator())
        printer = stack.enter_context(ZplPrinterEmulator(folder=work / "labels"))
        slips = stack.enter_context(EscposPrinterEmulator())
        config = StationConfig(
            station_id=station_id,
            site="DEMO",
            database=str(work / "station.db"),
            devices=Devices(
                scale=scale.url,
                scanner=scanner.url,
                label_printer=printer.url,
                slip_printer=slips.url,
            ),
            login=Login(idle_lock_s=900),
        )
        db = open_db(config.database)
        load_sample(db, orders=orders)
        db.close()
        yield config, DemoDevices(scanner, scale, printer)


def run_demo(workdir: str | Path, *, orders: int = 40, keep: bool = False) -> int:
    from station.app import StationApp
    from station.logs import log_to_file

    with emulated_station(workdir, orders=orders, keep=keep) as (config, demo):
        log = log_to_file(config.database)
        StationApp(config, demo=demo).run()
    labels = sorted(Path(workdir, "labels").glob("*.zpl"))
    print(
        f"demo finished: {len(labels)} label(s) printed to {Path(workdir, 'labels')}; log in {log}"
    )
    return 0
