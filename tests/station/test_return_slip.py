"""The return slip: built by the station, queued, printed by the slip worker on the ESC/POS
emulator over TCP, and read back (text, Code 128, QR) from the bytes the printer got."""

from __future__ import annotations

import time

import pytest

from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.urls import open_slip_printer
from station.config import StationConfig
from station.labels.slip import ReturnItem, return_slip
from station.packing.labelling import queue_return_slip
from station.printing import queue
from station.printing.worker import PrintWorker
from station.store.db import open_db

LINES = [
    ReturnItem("MUG-WHT", "White mug 350 ml", 1, "arrived broken"),
    ReturnItem("TSH-M-BLK", "T-shirt M black", 2, "too small"),
]
URL = "https://shop.example/returns/RMA-2024-0042"


def test_return_slip_is_printed_with_reasons_barcode_and_qr(tmp_path):
    config = StationConfig(database=str(tmp_path / "station.db"))
    db = open_db(config.database)
    with EscposPrinterEmulator() as emu:
        job = queue_return_slip(db, config, "SO-1", "WEB-1001", "RMA-2024-0042", LINES, URL)
        worker = PrintWorker(config.database, "slip", lambda: open_slip_printer(emu.url))
        worker.start()
        try:
            (printed,) = emu.wait_for_jobs(1)
            deadline = time.monotonic() + 5
            while queue.get(db, job).status != "printed":
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            worker.stop()
            worker.join(5)
            db.close()
    assert "RETURN SLIP" in printed.text and "Return RMA-2024-0042" in printed.text
    assert "Order WEB-1001" in printed.text
    assert "Reason: arrived broken" in printed.text and "Reason: too small" in printed.text
    assert "Units returned 3" in printed.text
    assert printed.barcodes == ["RMA-2024-0042"]
    assert printed.qr_codes == [URL]
    assert printed.slip.cuts == 1


def test_return_slip_refuses_what_cannot_print():
    with pytest.raises(ValueError, match="at least one"):
        return_slip("WEB-1", "RMA-1", [], URL)
    with pytest.raises(ValueError, match="RMA must be printable ASCII"):
        return_slip("WEB-1", "RMA-ü", [("A", "a", 1, "r")], URL)
    with pytest.raises(ValueError, match=">= 1"):
        return_slip("WEB-1", "RMA-1", [("A", "a", 0, "r")], URL)
