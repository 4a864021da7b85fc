"""route_pending's bulk writer against the per-order path (``bulk=False``): the same queue
routed both ways leaves the same database, timestamps and row ids aside."""

from __future__ import annotations

import json
import random

import pytest

from routing import feed
from routing.dispatch import route_pending
from routing.explain import decisions, explain_decision
from routing.intake import import_bytes

from .twosite import HEADER, NYC, SF, make_hub

PLACES = (NYC, SF, ("Columbus", "43215"))


def queue_csv(seed: int, n: int) -> bytes:
    """``n`` orders of 1-3 lines of SKU-A/B/C (C is stocked nowhere) to three places:
    enough to split across sites, back-order the rest and hold the hopeless; and one
    order first in the queue that closest splits, Z01, whose part's id (``CSV-Z01-2``) an
    order already has: the bulk writer leaves it to the per-order path, which holds it."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        city, zip_code = rng.choice(PLACES)
        skus = rng.sample(["SKU-A", "SKU-A2", "SKU-B", "SKU-B2", "SKU-C"], rng.randint(1, 3))
        ship_by = f"2030-01-{1 + k % 3:02d}T17:00:00Z"  # ties: order id breaks them
        for sku in skus:
            qty = rng.randint(1, 3)
            sku = sku.removesuffix("2")  # a SKU on two lines of one order
            rows.append(f"Q{k:03d},Ada,1 Main St,{city},{zip_code},US,{ship_by},{sku},{qty}")
    z01 = "Z01,Bo,2 Main St,New York,10001,US,2030-01-01T00:00:00Z"
    rows += [f"{z01},SKU-A,1", f"{z01},SKU-B,1"]
    rows.append("Z01-2,Bo,2 Main St,Boston,02108,US,2030-01-09T17:00:00Z,SKU-C,1")
    return (HEADER + "\n".join(rows) + "\n").encode()


def hub_with_queue(seed: int, n: int):
    db = make_hub()
    # SKU-A mostly in the east, SKU-B only in the west: orders of both split.
    feed.record_movement(db, "WH1", "SKU-A", 40, "receipt", "po:more-a")
    feed.record_movement(db, "WH2", "SKU-B", 30, "receipt", "po:more-b")
    report = import_bytes(db, queue_csv(seed, n), name="queue.csv")
    assert len(report.orders) == n + 2
    return db


def state(db) -> dict[str, list]:
    """Every table routing writes, without what differs by design: timestamps, row ids,
    the order decisions were written in."""

    def rows(sql: str) -> list:
        return sorted(tuple(r) for r in db.execute(sql).fetchall())

    def data(text: str) -> dict:
        d = json.loads(text)
        return {k: v for k, v in d.items() if k not in ("at", "assigned_at")}

    streams = db.execute("SELECT stream_key, seq, type, data FROM streams").fetchall()
    kept = db.execute("SELECT DISTINCT order_id FROM routing_decisions").fetchall()
    return {
        "orders": rows(
            "SELECT order_id, site, station, order_ref, channel, tote, pick_list, ship_by, "
            "priority, status, hold_reason, ship_to, carrier, service, packed_at, cancelled_at "
            "FROM orders"
        ),
        "assigned": rows("SELECT order_id FROM orders WHERE assigned_at IS NOT NULL"),
        "order_lines": rows("SELECT * FROM order_lines"),
        "order_parts": rows("SELECT * FROM order_parts"),
        "ledger": rows("SELECT site, sku, qty, kind, ref, order_id, line_no FROM ledger"),
        "stock_totals": rows("SELECT * FROM stock_totals"),
        "stream_heads": rows("SELECT * FROM stream_heads"),
        "streams": sorted(
            (key, seq, type_, json.dumps(data(text), sort_keys=True))
            for key, seq, type_, text in streams
        ),
        "decisions": rows("SELECT order_id, policy, outcome FROM routing_decisions"),
        "explained": sorted(
            json.dumps([{**d, "at": None} for d in decisions(db, oid)], sort_keys=True)
            for (oid,) in kept
        ),
    }


@pytest.mark.parametrize(
    "policy", ["closest", "closest;split_lines=yes", "min_splits", "cost_optimal"]
)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_bulk_writer_leaves_what_the_per_order_path_leaves(policy, seed):
    assert_as_per_order(seed, policy)


def assert_as_per_order(seed: int, policy: str) -> None:
    """The queue of ``seed`` routed in bulk leaves what the per-order path leaves."""
    bulk, reference = hub_with_queue(seed, 40), hub_with_queue(seed, 40)
    got = route_pending(bulk, policy, chunk=7)
    want = route_pending(reference, policy, chunk=7, bulk=False)
    assert sorted(got.routed) == sorted(want.routed)
    assert got.held == want.held and got.backorders == want.backorders
    assert got.orders == want.orders == 42
    a, b = state(bulk), state(reference)
    for table in a:
        assert a[table] == b[table], table


def test_the_queue_exercises_splits_back_orders_and_holds():
    # What the equivalence above covers: it would prove little on a queue of easy orders.
    db = hub_with_queue(1, 40)
    summary = route_pending(db, "closest;split_lines=yes", chunk=7)
    kinds = dict(db.execute("SELECT kind, count(*) FROM order_parts GROUP BY kind").fetchall())
    assert kinds.get("split", 0) >= 5 and kinds.get("backorder", 0) >= 5
    assert summary.held and summary.backorders
    assert "CSV-Z01-2 already exists" in summary.held["CSV-Z01"]


@pytest.mark.parametrize(
    "policy", ["closest", "closest;split_lines=yes", "min_splits", "cost_optimal"]
)
def test_a_compact_decision_reads_back_as_the_full_plan(policy, monkeypatch):
    # What doms hub explain printed when the whole Plan.to_dict() was kept, site reports
    # included, is what it prints now: captured at routing time, compared on reading.
    from routing import dispatch

    full: dict[str, dict] = {}
    encode = dispatch.encode_decision

    def capture(plan, what, run):
        full[plan.order_id] = plan.to_dict()
        return encode(plan, what, run)

    monkeypatch.setattr(dispatch, "encode_decision", capture)
    db = hub_with_queue(3, 25)
    route_pending(db, policy, chunk=6)
    assert len(full) >= 20
    for order_id, plan in full.items():
        kept = [d["plan"] for d in decisions(db, order_id) if d["order_id"] == order_id]
        assert kept[0] == plan, order_id


def test_explain_rebuilds_the_site_reports_of_a_compact_decision():
    db = hub_with_queue(1, 12)
    route_pending(db, "closest;split_lines=yes", chunk=5)
    partial = db.execute(
        "SELECT order_id FROM routing_decisions WHERE outcome = 'partial' LIMIT 1"
    ).fetchone()[0]
    [decision] = decisions(db, partial)
    plan = decision["plan"]
    assert plan["order_id"] == partial and plan["unfilled"] and "sites_note" not in plan
    assert {r["site"] for r in plan["sites"]} == {"WH1", "WH2"}
    text = explain_decision(decision)
    assert f"order {partial} partial at" in text and "back-order line" in text
    assert "WH1 chosen" in " ".join(text.split()) or "WH2 chosen" in " ".join(text.split())
    # Only the first decision of a chunk holds the run's context; the others point to it.
    sizes = [len(r[0]) for r in db.execute("SELECT plan FROM routing_decisions")]
    assert max(sizes) > 2 * min(sizes)


def test_a_decision_kept_as_plan_json_by_an_earlier_version_still_reads():
    db = make_hub()
    old = {"order_id": "X1", "policy": "closest", "method": "rules", "summary": "kept",
           "shipments": [], "unfilled": [], "sites": [
               {"site": "WH1", "status": "chosen", "reason": "closest"}]}  # fmt: skip
    db.execute(
        "INSERT INTO routing_decisions (order_id, at, policy, outcome, plan) "
        "VALUES ('X1', 'then', 'closest', 'held', ?)",
        [json.dumps(old)],
    )
    [decision] = decisions(db, "X1")
    assert decision["plan"] == old
    assert "WH1 chosen" in " ".join(explain_decision(decision).split())


def test_assign_plans_refuses_a_batch_it_cannot_write_whole_and_writes_nothing():
    from routing.intake.queue import Part, Planned, assign_plans, new_orders

    db = hub_with_queue(1, 3)
    order = next(o for o in new_orders(db) if o["order_id"] == "CSV-Z01")
    lines = {li["line_no"]: li["qty"] for li in order["lines"]}
    a, b = sorted(lines)
    parts = [Part(site="WH1", station="WH1-PACK-01", carrier="c", service="s", lines={a: 1}),
             Part(site="WH2", station="WH2-PACK-01", carrier="c", service="s", lines={b: 1})]  # fmt: skip
    before = db.execute("SELECT count(*) FROM ledger").fetchone()
    with pytest.raises(ValueError, match="part's id taken"):  # CSV-Z01-2 is an order
        assign_plans(db, [Planned(order=order, parts=parts)])
    short = Planned(order=order, parts=parts[:1])  # leaves a unit of line b unplanned
    with pytest.raises(ValueError, match="does not fit"):
        assign_plans(db, [short])
    assert db.execute("SELECT count(*) FROM ledger").fetchone() == before
    assert db.execute("SELECT status FROM orders WHERE order_id = 'CSV-Z01'").fetchone()[0] == "new"


def test_explain_says_so_when_it_cannot_rebuild_the_site_reports():
    from routing.engine import LinearCost

    class Local(LinearCost):  # a cost model explain may not import from the database
        pass

    db = hub_with_queue(1, 3)
    route_pending(db, "closest", Local())
    [decision] = decisions(db, "CSV-Q000")
    plan = decision["plan"]
    assert plan["shipments"] and plan["sites"] == []
    assert "not one of routing's" in plan["sites_note"]
    assert "site reports cannot be rebuilt" in explain_decision(decision)


def test_a_chunk_the_bulk_writer_refuses_half_written_is_routed_again_order_by_order(
    monkeypatch,
):
    # The bulk writer writes in the chunk's own transaction, without a savepoint: when
    # it refuses after writing, the whole chunk rolls back and goes the per-order way,
    # so the database ends as bulk=False leaves it.
    from routing import dispatch

    real, calls = dispatch.assign_plans, []

    def write_then_refuse(db, plans, **kw):
        done = real(db, plans, **kw)
        calls.append(len(plans))
        if len(calls) == 2:  # the second chunk, after its rows are in
            raise ValueError("refused after writing")
        return done

    monkeypatch.setattr(dispatch, "assign_plans", write_then_refuse)
    assert_as_per_order(2, "closest;split_lines=yes")
    assert len(calls) >= 3 and calls[1] > 0  # refused once, bulk again afterwards


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cyclic_collector_is_paused_per_chunk_and_left_as_it_was(enabled, monkeypatch):
    import gc

    from routing import dispatch

    seen_enabled = []
    encode = dispatch.encode_decision

    def spy(*args):
        seen_enabled.append(gc.isenabled())
        return encode(*args)

    monkeypatch.setattr(dispatch, "encode_decision", spy)
    db = hub_with_queue(1, 12)
    (gc.enable if enabled else gc.disable)()
    try:
        route_pending(db, "closest", chunk=5)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert seen_enabled and not any(seen_enabled)


def test_bulk_blocked_names_orders_whose_part_ids_are_taken_or_that_have_movements():
    from routing.intake.queue import bulk_blocked

    db = make_hub()
    taken = ["A-3", "B-B1", "B-1", "B-02", "C-10", "C-x", "D-2"]
    db.conn.executemany(
        "INSERT INTO orders (order_id, order_ref, ship_by, ship_to, carrier, service) "
        "VALUES (?, ?, '2030-01-01', '{}', '', '')",
        [(oid, oid) for oid in taken],
    )
    feed.record_movement(db, "WH1", "SKU-A", -1, "adjustment", "fix:E")
    db.execute("UPDATE ledger SET order_id = 'E' WHERE ref = 'fix:E'")

    def order(oid: str, units: int) -> dict:
        return {"order_id": oid, "lines": [{"line_no": 1, "sku": "SKU-A", "qty": units}]}

    orders = [order("A", 3), order("B", 5), order("C", 20), order("D", 1), order("E", 1)]
    # A-3 is a third part's id; B's ids are no part's (back-order, 1, 02); C may have 9
    # parts at most (C-10 is none of them); D ships one unit, so no part of its own.
    assert bulk_blocked(db, orders, most_parts=9) == {"A", "E"}
    assert bulk_blocked(db, [order("A", 3)], most_parts=2) == set()
