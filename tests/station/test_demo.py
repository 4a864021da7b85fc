"""The demo a new user meets: a whole site (broker, hub, two stations) on one machine.
Station 1's replica comes from the hub's snapshot; packing it shows up at the hub."""

from __future__ import annotations

import asyncio

from routing import store
from station.app import StationApp
from station.demo import demo_site
from tests.station.test_app_flow import login, wait_for


def hub_packed(hub_db, station):
    db = store.open_db(hub_db)
    try:
        return db.execute(
            "SELECT count(*) FROM orders WHERE station = ? AND status = 'packed'", [station]
        ).fetchone()[0]
    finally:
        db.close()


async def test_demo_packs_an_order_and_the_hub_sees_it(tmp_path):
    with demo_site(tmp_path / "demo", orders=6, robot_every_s=0.5) as (config, demo, hub_db):
        app = StationApp(config, demo=demo)
        async with app.run_test(size=(160, 50)) as pilot:
            # the empty station builds its replica (operators too) from the hub snapshot
            await wait_for(
                pilot,
                lambda: app.service.next_order() is not None,
                timeout=40,
                what="snapshot from the hub",
            )
            screen = await login(pilot, "B1003")
            await wait_for(pilot, lambda: screen.order is not None, what="an order open")
            first = screen.order.order_id
            while not screen.order.all_resolved:
                before = screen.order.units_scanned
                await pilot.press("ctrl+n")  # through the emulated serial scanner
                await wait_for(pilot, lambda b=before: screen.order.units_scanned > b)
            await pilot.press("f7")
            await wait_for(pilot, lambda: screen.order.package_to_weigh.carton_code)
            await pilot.press("ctrl+o")  # parcel on the emulated scale
            await asyncio.to_thread(demo.printer.wait_for_labels, 1, 15)
            await wait_for(
                pilot,
                lambda: hub_packed(hub_db, "DEMO-PACK-01") == 1,
                timeout=40,
                what="the hub to apply order_packed",
            )
            await pilot.press("ctrl+g")  # the hub routes a new order to this station
            depth = app.service.queue_depth()
            await wait_for(
                pilot,
                lambda: app.service.queue_depth() == depth + 1,
                timeout=40,
                what="the new order over the station stream",
            )
        assert first
        # the robot at station 2 packs too, and the hub hears it
        for _ in range(400):
            if hub_packed(hub_db, "DEMO-PACK-02") >= 1:
                break
            await asyncio.sleep(0.1)
        assert hub_packed(hub_db, "DEMO-PACK-02") >= 1
