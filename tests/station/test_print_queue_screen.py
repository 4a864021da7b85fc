"""The print-queue dialog (F10) in the app: a packer needs a lead's badge to move a job;
the moved job prints on the other printer (emulators over TCP)."""

from __future__ import annotations

import asyncio

from drivers.emulators.zpl_printer import ZplPrinterEmulator
from station.app import StationApp
from station.config import Devices, Login, StationConfig
from station.printing import queue
from station.screens.dialogs import OverrideDialog
from station.screens.print_queue import PrintQueueDialog
from tests.station.conftest import make_db
from tests.station.test_app_flow import login, type_text, wait_for


async def test_packer_moves_a_stuck_label_with_a_lead_badge(tmp_path):
    with ZplPrinterEmulator() as here, ZplPrinterEmulator() as there:
        config = StationConfig(
            database=str(tmp_path / "station.db"),
            devices=Devices(label_printer=here.url),
            printers={"pack-02-label": there.url},
            login=Login(idle_lock_s=600),
        )
        make_db(config.database).close()
        here.head_open()
        app = StationApp(config)
        async with app.run_test(size=(160, 50)) as pilot:
            await login(pilot)  # B1001, a packer
            await pilot.press("ctrl+p")  # queues the command sheet: a label job
            await wait_for(pilot, lambda: "label" in app.printer_errors, what="label stuck")
            await pilot.press("f10")
            await wait_for(pilot, lambda: isinstance(app.screen, PrintQueueDialog))
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, OverrideDialog), what="badge")
            await type_text(pilot, "L9001")  # the lead's badge, no PIN
            await wait_for(pilot, lambda: isinstance(app.screen, PrintQueueDialog))
            assert "1  pack-02-label" in str(app.screen.query_one("#targets").render())
            await pilot.press("1")
            labels = await asyncio.to_thread(there.wait_for_labels, 1, 10)
            job = queue.get(app.db, 1)
            assert "moved to pack-02-label" in str(app.screen.query_one("#note").render())
        assert job is not None and job.printer == "pack-02-label"
        assert labels and here.labels == [] and here.held == []  # never sent to the first
