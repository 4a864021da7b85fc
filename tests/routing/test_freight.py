"""Carrier rates: zones, weight breaks, dimensional weight, fuel, the cheapest service that
meets a promise, business days and cut-offs, CO2. Hand-checked on a tiny table (kg, cm,
km: zones near <= 500 km / far; Ground 5/8, 7/12, 10/20 for 1/5/10 kg with 10 % fuel, 2/4
days; Express 20/30, 25/40, 30/60, no fuel, 1 day) and spot-checked on the bundled one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from routing import freight
from routing.freight import (
    add_business_days,
    business_days_between,
    cheapest,
    co2_kg,
    promise_deadline,
    quotes,
    ship_date,
)

from .engine.conftest import tiny_table

T = tiny_table()
GROUND, EXPRESS = T.service("C", "Ground"), T.service("C", "Express")
MI = 1.609344


def test_zones_come_from_distance_bands():
    assert (T.zone(0), T.zone(500), T.zone(500.01), T.zone(5000)) == (0, 0, 1, 1)
    us = freight.default_rates()
    name = lambda miles: us.zone_names[us.zone(miles * MI)]  # noqa: E731
    assert [name(m) for m in (10, 150, 151, 450, 1000, 1500, 2500)] == [
        "2", "2", "3", "4", "5", "7", "8",
    ]  # fmt: skip


def test_weight_breaks_bill_the_next_break_up():
    assert GROUND.price(0, 1000, 0) == pytest.approx(5.5)  # exactly 1 kg
    assert GROUND.price(0, 1001, 0) == pytest.approx(7.7)  # a gram over: the 5 kg break
    assert GROUND.price(1, 5000, 0) == pytest.approx(13.2)
    assert GROUND.price(0, 10_000, 0) == pytest.approx(11.0)
    assert GROUND.price(0, 10_001, 0) == float("inf")  # heavier than the last break


def test_dimensional_weight_bills_bulky_light_parcels_by_volume():
    box = 300 * 300 * 300  # 30 cm cube: 27,000 cm^3 / 5000 = 5.4 kg
    assert GROUND.billable_g(1000, box) == pytest.approx(5400)
    assert GROUND.price(0, 1000, box) == pytest.approx(11.0)  # the 10 kg break
    us = freight.default_rates()
    usps = us.service("USPS", "Ground Advantage")
    inch3 = 25.4**3
    assert usps.billable_g(453.6, 1000 * inch3) == 453.6  # under 1 cubic foot: no dim weight
    assert usps.billable_g(453.6, 2744 * inch3) / 453.59237 == pytest.approx(2744 / 166)
    ups = us.service("UPS", "Ground")
    assert ups.billable_g(453.6, 1000 * inch3) / 453.59237 == pytest.approx(1000 / 139)


def test_fuel_surcharge_is_a_share_of_the_base_rate():
    assert GROUND.price(1, 500, 0) == pytest.approx(8 * 1.1)
    assert EXPRESS.price(1, 500, 0) == pytest.approx(30.0)
    us = freight.default_rates()
    raw = json.loads((freight.resources.files("routing.data") / "rates_us.json").read_text())
    ground = raw["carriers"]["UPS"]["services"]["Ground"]
    expected = round(ground["rates"][0][0] * (1 + ground["fuel"]), 2)
    assert us.service("UPS", "Ground").price(0, 400, 0) == pytest.approx(expected)


def test_cheapest_service_that_meets_the_promise():
    assert cheapest(T, 800, 500).service == "Ground"  # no promise: the cheapest
    assert cheapest(T, 800, 500, max_transit_days=4).service == "Ground"
    q = cheapest(T, 800, 500, max_transit_days=2)
    assert (q.service, q.cost, q.transit_days) == ("Express", 30.0, 1)
    assert cheapest(T, 800, 500, max_transit_days=0) is None
    late = cheapest(T, 800, 500, max_transit_days=0, late_ok=True)
    assert (late.service, late.on_time) == ("Express", False)  # the soonest, marked late
    assert cheapest(T, 800, 50_000) is None  # too heavy for every service
    assert [q.service for q in quotes(T, 100, 500)] == ["Ground", "Express"]  # cheapest first


def test_business_days_skip_weekends_and_holidays():
    fri, sat = date(2026, 3, 6), date(2026, 3, 7)
    assert add_business_days(fri, 1) == date(2026, 3, 9)  # Monday
    assert add_business_days(fri, 2) == date(2026, 3, 10)
    assert add_business_days(sat, 0) == date(2026, 3, 9)
    assert business_days_between(fri, date(2026, 3, 10)) == 2
    assert business_days_between(fri, fri) == 0
    hol = freight.default_rates().holidays
    assert date(2026, 7, 3) in hol  # Independence Day observed (a Friday)
    assert add_business_days(date(2026, 7, 2), 1, hol) == date(2026, 7, 6)


def test_cut_off_decides_the_ship_day_in_the_sites_local_time():
    # 20:00 UTC is 15:00 in UTC-5: after a 14:00 cut-off on a Friday -> Monday.
    late_friday = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert ship_date(late_friday, -5, 14) == date(2026, 3, 9)
    assert ship_date(late_friday, -5, 16) == date(2026, 3, 6)
    assert ship_date(datetime(2026, 3, 7, 9, 0), 0, 14) == date(2026, 3, 9)  # Saturday
    # Thursday 2 July 2026 after the cut-off; Friday 3 July is a carrier holiday.
    hol = freight.default_rates().holidays
    assert ship_date(datetime(2026, 7, 2, 20, 0), -5, 14, hol) == date(2026, 7, 6)


def test_a_promise_over_a_weekend_picks_the_service_that_arrives_in_time():
    placed = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # Friday 15:00 at UTC-5
    deadline = promise_deadline(placed, 2, -5)  # 2 business days: Tuesday
    assert deadline == date(2026, 3, 10)
    kw = {"placed_at": placed, "site_utc_offset_h": -5, "site_cutoff_hour": 14}
    qs = {q.service: q for q in quotes(T, 800, 500, deadline=deadline, **kw)}
    assert qs["Ground"].ship_date == date(2026, 3, 9)  # Monday
    assert (qs["Ground"].delivery_date, qs["Ground"].on_time) == (date(2026, 3, 13), False)
    assert (qs["Express"].delivery_date, qs["Express"].on_time) == (date(2026, 3, 10), True)
    assert cheapest(T, 800, 500, deadline=deadline, **kw).service == "Express"
    # Near zone, Ground takes 2 days: Wednesday, too late for Tuesday, in time for a
    # promise of 3 business days.
    assert cheapest(T, 100, 500, deadline=deadline, **kw).service == "Express"
    wednesday = promise_deadline(placed, 3, -5)
    assert cheapest(T, 100, 500, deadline=wednesday, **kw).service == "Ground"


def test_the_carriers_pickup_can_come_before_the_sites_cut_off():
    placed = datetime(2026, 3, 4, 18, 30)  # Wednesday 18:30, site open until 20:00
    q = {x.service: x for x in quotes(T, 100, 500, placed_at=placed, site_cutoff_hour=20)}
    assert q["Ground"].ship_date == date(2026, 3, 5)  # the 18:00 pickup has gone


def test_co2_is_distance_by_weight_by_a_factor_per_mode():
    assert co2_kg(1000, 1000, "road") == pytest.approx(1000 * 1.2 * 0.001 * 150 / 1000)
    assert co2_kg(1000, 1000, "air") == pytest.approx(1000 * 1.08 * 0.001 * 2900 / 1000)
    assert co2_kg(1000, 1000, "road", T) == pytest.approx(0.1)
    assert "Defra" in freight.default_rates().source["co2"]["sources"]["road"]


def test_the_bundled_table_and_bad_tables():
    us = freight.default_rates()
    assert len(us.services) == 7 and all(s.monotone for s in us.services)
    assert {q.carrier for q in quotes(us, 500, 40_000)} == {"UPS", "FedEx"}  # USPS <= 70 lb
    assert quotes(us, 500, 1000, origin_country="US", dest_country="CA") == []
    bad = dict(T.source)
    bad["zones"] = {"names": ["a", "b"], "upper_bounds": [100, 200]}
    with pytest.raises(ValueError, match="last one null"):
        freight.RateTable.from_dict(bad)
