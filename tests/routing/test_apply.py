"""Station events applied to the hub: exactly once, in sequence, with their effects."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import feed, store
from routing.apply import applied_seq, receive_events
from tests.sync.fake_station import StationLog

SITE = "WH1"
SKUS = ("SKU-A", "SKU-B", "SKU-C")
# order -> (station, {line_no: (sku, qty)})
ORDERS = {
    "SO-1": ("P1", {1: ("SKU-A", 2), 2: ("SKU-B", 1)}),
    "SO-2": ("P1", {1: ("SKU-C", 3)}),
    "SO-3": ("P2", {1: ("SKU-A", 1), 2: ("SKU-C", 2)}),
    "SO-4": ("P2", {1: ("SKU-B", 4)}),
}


def make_hub() -> store.sqlite_utils.Database:
    db = store.open_db(":memory:")
    for sku in SKUS:
        feed.upsert_sku(db, SITE, {"sku": sku, "name": sku, "weight_g": 100, "length_mm": 1,
                                   "width_mm": 1, "height_mm": 1})  # fmt: skip
        feed.record_movement(db, SITE, sku, 50, "receipt", f"po:{sku}")
    for order_id, (station, lines) in ORDERS.items():
        feed.assign_order(db, SITE, station, {
            "order_id": order_id, "order_ref": order_id, "ship_by": "2025-01-02T00:00:00Z",
            "ship_to": {"name": "Zoë"}, "carrier": "UPS", "service": "Ground",
            "lines": [{"line_no": n, "sku": s, "qty": q} for n, (s, q) in lines.items()],
        })  # fmt: skip
    return db


@pytest.fixture
def db():
    return make_hub()


def lines_of(order_id: str) -> dict[int, int]:
    return {n: q for n, (_, q) in ORDERS[order_id][1].items()}


def status(db, order_id: str) -> str:
    return db.execute("SELECT status FROM orders WHERE order_id = ?", [order_id]).fetchone()[0]


def sums(db, order_id: str) -> dict[str, int]:
    rows = db.execute(
        "SELECT kind, sum(qty) FROM ledger WHERE order_id = ? GROUP BY kind", [order_id]
    ).fetchall()
    return {k: q for k, q in rows if q}


# -- the protocol -----------------------------------------------------------------------
def test_events_in_sequence_are_applied_and_recorded_in_the_inbox(db):
    log = StationLog("P1")
    log.noise(3)
    receipt = receive_events(db, SITE, "P1", log.events)
    assert (receipt.applied_seq, receipt.applied, receipt.resend_from) == (3, 3, None)
    assert db.execute("SELECT seq, type FROM inbox ORDER BY seq").fetchall() == [
        (1, "operator_logged_in"), (2, "future_event_type"), (3, "operator_logged_in"),
    ]  # fmt: skip


def test_a_duplicate_batch_changes_nothing(db):
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    receive_events(db, SITE, "P1", log.events)
    before = hub_state(db)
    receipt = receive_events(db, SITE, "P1", log.events)
    assert (receipt.applied, receipt.duplicates, receipt.applied_seq) == (
        0,
        len(log.events),
        len(log.events),
    )
    assert hub_state(db) == before


def test_a_gap_stops_the_batch_and_asks_for_a_resend(db):
    log = StationLog("P1")
    log.noise(9)
    receive_events(db, SITE, "P1", log.events[0:3])
    receipt = receive_events(db, SITE, "P1", log.events[6:9])
    assert (receipt.applied_seq, receipt.resend_from, receipt.applied) == (3, 4, 0)
    assert db.execute("SELECT max(seq) FROM inbox").fetchone()[0] == 3


def test_the_resend_fills_the_gap(db):
    log = StationLog("P1")
    log.noise(9)
    receive_events(db, SITE, "P1", log.events[0:3])
    receive_events(db, SITE, "P1", log.events[6:9])
    receipt = receive_events(db, SITE, "P1", log.events[3:9])
    assert (receipt.applied_seq, receipt.resend_from, receipt.applied) == (9, None, 6)


def test_a_batch_applies_in_seq_order_whatever_its_order_in_transit(db):
    log = StationLog("P1")
    log.noise(4)
    receipt = receive_events(db, SITE, "P1", list(reversed(log.events)))
    assert (receipt.applied_seq, receipt.resend_from) == (4, None)


def test_marks_are_kept_per_station(db):
    one, two = StationLog("P1"), StationLog("P2")
    one.noise(5)
    two.noise(2)
    receive_events(db, SITE, "P1", one.events)
    receive_events(db, SITE, "P2", two.events)
    assert (applied_seq(db, "P1"), applied_seq(db, "P2")) == (5, 2)


# -- effects ----------------------------------------------------------------------------
def test_order_packed_marks_the_order_packed_and_records_its_shipment(db):
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    receive_events(db, SITE, "P1", log.events)
    assert status(db, "SO-1") == "packed"
    rows = db.execute("SELECT package_no, carton, grams, station FROM shipments").fetchall()
    assert rows == [(1, "BOX-S", 500.0, "P1")]


def test_order_packed_ships_each_line_and_releases_its_reservation(db):
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    receive_events(db, SITE, "P1", log.events)
    assert sums(db, "SO-1") == {"ship": -3}  # reservation -3 then +3: nets to nothing
    assert store.stock(db, SITE, "SKU-A") == (48, 47)  # SO-3 still reserves 1
    ship = db.execute(
        "SELECT sku, qty, ref FROM ledger WHERE kind = 'ship' ORDER BY sku"
    ).fetchall()
    seq = len(log.events)
    assert ship == [("SKU-A", -2, f"P1:{seq}/1"), ("SKU-B", -1, f"P1:{seq}/2")]


def test_order_packed_ships_what_was_ordered_minus_short(db):
    log = StationLog("P1")
    log.short("SO-1", 1, "SKU-A", 1)
    log.pack("SO-1", lines_of("SO-1"), short={1: 1})
    receive_events(db, SITE, "P1", log.events)
    assert sums(db, "SO-1") == {"ship": -2, "short": -1}
    assert store.stock(db, SITE, "SKU-A") == (48, 47)  # one shipped, one missing


def test_order_packed_ships_what_left_even_when_the_channel_cut_the_line_meanwhile(db):
    # The channel cut SO-1 line 1 from 2 to 1 (routing.intake.amend) while P1, which had
    # opened the order, packed both: the parcel holds 2, so the ledger ships 2.
    db.execute("UPDATE order_lines SET qty = 1 WHERE order_id = 'SO-1' AND line_no = 1")
    feed.settle_order(db, "SO-1", "amend:SO-1", None)
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    receive_events(db, SITE, "P1", log.events)
    assert sums(db, "SO-1") == {"ship": -3}
    assert store.stock(db, SITE, "SKU-A") == (48, 47)  # as if never cut: 2 left the shelf
    qty = db.execute("SELECT qty FROM order_lines WHERE order_id = 'SO-1' AND line_no = 1")
    assert qty.fetchone() == (2,)


def test_line_short_records_a_short_movement_and_marks_the_line(db):
    log = StationLog("P1")
    log.short("SO-2", 1, "SKU-C", 2, reason="damaged")
    receive_events(db, SITE, "P1", log.events)
    line = db.execute("SELECT qty_short, short_reason FROM order_lines WHERE order_id = 'SO-2'")
    assert line.fetchone() == (2, "damaged")
    assert sums(db, "SO-2") == {"short": -2, "reservation": -1}
    assert store.stock(db, SITE, "SKU-C") == (48, 45)  # SO-3 still reserves 2


def test_order_held_puts_the_order_on_hold(db):
    log = StationLog("P1")
    log.hold("SO-2", reason="short: SKU-C x1 missing")
    receive_events(db, SITE, "P1", log.events)
    row = db.execute("SELECT status, hold_reason FROM orders WHERE order_id = 'SO-2'").fetchone()
    assert row == ("on_hold", "short: SKU-C x1 missing")


def test_label_voided_after_packed_reverses_the_shipment(db):
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    log.void("SO-1")
    receive_events(db, SITE, "P1", log.events)
    assert status(db, "SO-1") == "packing"
    assert db.execute("SELECT count(*) FROM shipments").fetchone()[0] == 0
    assert sums(db, "SO-1") == {"reservation": -3}
    void_seq = len(log.events)
    refs = db.execute("SELECT DISTINCT ref FROM ledger WHERE kind = 'ship' AND qty > 0").fetchall()
    assert sorted(refs) == [(f"P1:{void_seq}/1",), (f"P1:{void_seq}/2",)]


def test_a_repack_after_a_void_ships_once(db):
    log = StationLog("P1")
    log.pack("SO-1", lines_of("SO-1"))
    log.void("SO-1")
    log.pack("SO-1", lines_of("SO-1"))
    receive_events(db, SITE, "P1", log.events)
    assert status(db, "SO-1") == "packed"
    assert sums(db, "SO-1") == {"ship": -3}


def test_label_voided_before_the_order_is_packed_changes_nothing(db):
    log = StationLog("P1")
    log.void("SO-1")
    receive_events(db, SITE, "P1", log.events)
    assert status(db, "SO-1") == "assigned"
    assert sums(db, "SO-1") == {"reservation": -3}


def test_an_unknown_event_type_is_recorded_and_ignored(db):
    before = hub_state(db)
    log = StationLog("P1")
    log.add("teleported", order_id="SO-1")
    receipt = receive_events(db, SITE, "P1", log.events)
    assert (receipt.applied, receipt.rejected) == (1, 0)
    assert hub_state(db) | {"inbox": None, "marks": None} == before | {"inbox": None, "marks": None}


def test_an_event_for_an_unknown_order_takes_its_seq_with_the_reason(db):
    log = StationLog("P1")
    log.hold("SO-404")
    log.noise()
    receipt = receive_events(db, SITE, "P1", log.events)
    assert (receipt.applied_seq, receipt.rejected) == (2, 1)
    errors = db.execute("SELECT seq, error FROM inbox WHERE error IS NOT NULL").fetchall()
    assert errors == [(1, "unknown order 'SO-404'")]


def test_a_station_cannot_pack_another_stations_order(db):
    log = StationLog("P1")
    log.pack("SO-3", lines_of("SO-3"))
    receipt = receive_events(db, SITE, "P1", log.events)
    assert receipt.rejected == 1
    assert status(db, "SO-3") == "assigned"


def test_a_refused_effect_leaves_nothing_half_done(db):
    log = StationLog("P1")
    log.add("order_packed", order_id="SO-1", packages=[{"package_no": 1}, {"grams": 5}])
    receipt = receive_events(db, SITE, "P1", log.events)
    assert receipt.rejected == 1
    assert status(db, "SO-1") == "assigned"
    assert db.execute("SELECT count(*) FROM shipments").fetchone()[0] == 0


# -- any delivery, the same hub -----------------------------------------------------------
def hub_state(db) -> dict[str, object]:
    """What must not depend on how batches arrived (times of application excluded)."""
    q = lambda sql: sorted(db.execute(sql).fetchall())  # noqa: E731
    last_level = {}
    for data in db.execute(
        "SELECT data FROM streams WHERE type = 'stock_level' ORDER BY stream_key, seq"
    ):
        level = store.json.loads(data[0])
        last_level[level["sku"]] = (level["on_hand"], level["available"])
    return {
        "sums": q("SELECT site, sku, kind, sum(qty) FROM ledger GROUP BY 1, 2, 3"),
        "movements": q("SELECT ref, kind, sku, qty FROM ledger"),
        "orders": q("SELECT order_id, status, hold_reason, packed_at FROM orders"),
        "lines": q("SELECT order_id, line_no, qty_short, short_reason FROM order_lines"),
        "shipments": q("SELECT order_id, package_no, sscc, tracking, grams FROM shipments"),
        "inbox": q("SELECT station, seq, type, error FROM inbox"),
        "marks": q("SELECT station, applied_seq FROM sync_marks"),
        "levels": last_level,
    }


STORIES = ("pack", "short_pack", "short_hold", "pack_void", "pack_void_repack", "noise")


def write_story(log: StationLog, order_id: str, story: str) -> None:
    lines = lines_of(order_id)
    sku = ORDERS[order_id][1][1][0]
    if story == "pack":
        log.pack(order_id, lines)
    elif story == "short_pack":
        log.short(order_id, 1, sku, 1)
        log.pack(order_id, lines, short={1: 1})
    elif story == "short_hold":
        log.short(order_id, 1, sku, 1)
        log.hold(order_id)
    elif story.startswith("pack_void"):
        log.pack(order_id, lines)
        log.void(order_id)
        if story == "pack_void_repack":
            log.pack(order_id, lines)
    else:
        log.noise(2)


@st.composite
def deliveries(draw):
    logs = {"P1": StationLog("P1"), "P2": StationLog("P2")}
    for order_id, (station, _) in ORDERS.items():
        write_story(logs[station], order_id, draw(st.sampled_from(STORIES)))
    batches = []
    for station, log in logs.items():
        size = draw(st.integers(1, 5))
        batches += [(station, b) for b in log.batches(size)]
    # Any subset, in any order, with repeats: lost, duplicated, reordered deliveries.
    delivered = draw(st.lists(st.sampled_from(batches), max_size=3 * len(batches)))
    return logs, delivered


def deliver_then_resend(db, logs, delivered) -> None:
    """Deliver as drawn, then do what stations do on acks: send again from applied + 1
    until everything is applied."""
    for station, batch in delivered:
        receive_events(db, SITE, station, batch)
    for station, log in logs.items():
        while (mark := applied_seq(db, station)) < len(log.events):
            receipt = receive_events(db, SITE, station, log.events[mark : mark + 7])
            assert receipt.resend_from is None and receipt.applied >= 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_delivery_then_resend_gives_the_state_of_in_order_delivery(case):
    logs, delivered = case
    in_order = make_hub()
    for station, log in logs.items():
        receive_events(in_order, SITE, station, log.events)
    shuffled = make_hub()
    deliver_then_resend(shuffled, logs, delivered)
    assert hub_state(shuffled) == hub_state(in_order)
