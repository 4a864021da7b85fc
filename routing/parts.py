"""Orders split off other orders: back-orders, short picks routed again, and their families.

An order is split when part of it must go its own way. ``mark_routed`` splits a plan's
further shipments into ``<order>-2``, ``-3`` ... (kind ``split``); this module adds:

* ``backorder`` (``<order>-B1``): the units no site could fill when the rest of the order
  was routed. They leave the parent, which ships what it can; the child is held with the
  engine's reason until someone puts it back in the queue.
* ``short`` (``<order>-R1``): units a station reported missing (``line_short``, or the
  ``short`` list of ``order_packed``). The parent keeps its lines (their ``qty_short``
  says what it did not ship); the child is ``new`` and the next routing run sends it to a
  site that has the stock (never back to the site that was short, see
  :mod:`routing.dispatch`).

Every child is in ``order_parts`` with its parent and kind, so a cancellation reaches the
whole family (:func:`cancel_family`) and ``doms hub explain`` finds a part's decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import sqlite_utils

from doms.db import transaction
from routing import feed

_PREFIX = {"backorder": "B", "short": "R"}
_COPIED = ("order_ref", "channel", "ship_by", "priority", "ship_to")


def split_off(
    db: sqlite_utils.Database,
    order_id: str,
    units: Mapping[int, int],
    *,
    kind: str,
    take_from_parent: bool,
) -> str:
    """Create the ``new`` order ``<order_id>-B<n>`` / ``-R<n>`` (same reference, address,
    ship-by; no site, station, carrier or service) holding ``units`` (``{line_no: qty}``)
    of ``order_id``'s lines, under the same line numbers; return its id. With
    ``take_from_parent`` the units leave the parent's lines (only for an order that
    reserves nothing: ``new`` at the hub). Raises ValueError for an unknown order or line,
    or more units than the line has."""
    prefix = _PREFIX[kind]
    with transaction(db):
        row = db.execute(
            f"SELECT {', '.join(_COPIED)}, status, station FROM orders WHERE order_id = ?",
            [order_id],
        ).fetchone()
        if row is None:
            raise ValueError(f"no order {order_id}")
        parent = dict(zip((*_COPIED, "status", "station"), row, strict=True))
        if take_from_parent and (parent["status"] != "new" or parent["station"] is not None):
            raise ValueError(f"order {order_id} is {parent['status']}: its lines are reserved")
        lines = {
            n: (sku, qty)
            for n, sku, qty in db.execute(
                "SELECT line_no, sku, qty FROM order_lines WHERE order_id = ?", [order_id]
            ).fetchall()
        }
        wanted = {n: q for n, q in units.items() if q}
        for n, q in wanted.items():
            if n not in lines or not 0 < q <= lines[n][1]:
                raise ValueError(f"order {order_id} line {n}: cannot split off {q} units")
        n = (
            1
            + db.execute(
                "SELECT count(*) FROM order_parts WHERE parent_order_id = ? AND kind = ?",
                [order_id, kind],
            ).fetchone()[0]
        )
        while db.execute(
            "SELECT 1 FROM orders WHERE order_id = ?", [f"{order_id}-{prefix}{n}"]
        ).fetchone():
            n += 1
        child = f"{order_id}-{prefix}{n}"
        db["orders"].insert(
            {
                "order_id": child,
                **{c: parent[c] for c in _COPIED},
                "status": "new",
                "carrier": "",
                "service": "",
            }  # fmt: skip
        )
        for line_no, qty in sorted(wanted.items()):
            db.execute(
                "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
                [child, line_no, lines[line_no][0], qty],
            )
            if not take_from_parent:
                continue
            if qty == lines[line_no][1]:
                db.execute(
                    "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?",
                    [order_id, line_no],
                )
            else:
                db.execute(
                    "UPDATE order_lines SET qty = qty - ? WHERE order_id = ? AND line_no = ?",
                    [qty, order_id, line_no],
                )
        db.execute(
            "INSERT INTO order_parts (order_id, parent_order_id, kind) VALUES (?, ?, ?)",
            [child, order_id, kind],
        )
        return child


def next_child_ids(db: sqlite_utils.Database, order_ids: list[str], kind: str) -> dict[str, str]:
    """``{order_id: id}`` of the child :func:`split_off` would make next for each order
    (``<order>-B<n>`` / ``-R<n>``), in three queries however many orders."""
    if not order_ids:
        return {}
    prefix = _PREFIX[kind]
    counts = dict(
        db.execute(
            "SELECT parent_order_id, count(*) FROM order_parts WHERE kind = ? "
            "AND parent_order_id IN (SELECT value FROM json_each(?)) GROUP BY parent_order_id",
            [kind, json.dumps(order_ids)],
        ).fetchall()
    )
    ids = {oid: f"{oid}-{prefix}{1 + counts.get(oid, 0)}" for oid in order_ids}
    taken = db.execute(
        "SELECT order_id FROM orders WHERE order_id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(ids.values()))],
    ).fetchall()
    if taken:
        by_id = {child: oid for oid, child in ids.items()}
        for (child,) in taken:  # rare: a number skipped by split_off's own search
            oid = by_id[child]
            n = 1 + counts.get(oid, 0)
            while db.execute(
                "SELECT 1 FROM orders WHERE order_id = ?", [f"{oid}-{prefix}{n}"]
            ).fetchone():
                n += 1
            ids[oid] = f"{oid}-{prefix}{n}"
    return ids


def reroute_shorts(db: sqlite_utils.Database, order_id: str) -> str | None:
    """Split off, as one ``short`` child, the units of ``order_id`` reported short and not
    yet routed again; return the child's id, or None when there is nothing new (so
    applying the same event twice, or a later event that repeats the count, adds
    nothing). A cancelled order's shorts are not routed again.

    The count is a difference of state (``qty_short`` less the units of earlier
    ``short`` children and of the parts and back-orders routing split off them, per
    line), not of events: the station's final word in
    ``order_packed`` is handled by the same call. A short count that later drops (the
    packer found the unit) leaves the children already made as they are."""
    # Reads first, so the common case (nothing new) costs no savepoint; split_off is
    # atomic on its own, and callers (routing.apply) hold the transaction anyway.
    status = db.execute("SELECT status FROM orders WHERE order_id = ?", [order_id]).fetchone()
    if status is None or status[0] == "cancelled":
        return None
    short = db.execute(
        "SELECT line_no, qty_short FROM order_lines WHERE order_id = ? AND qty_short > 0",
        [order_id],
    ).fetchall()
    if not short:
        return None
    # Units already sent again: the lines of the short children and of whatever routing
    # split off them (parts, back-orders: same line numbers), but not of their own shorts.
    sent = dict(
        db.execute(
            "WITH RECURSIVE fam(order_id) AS ("
            "  SELECT order_id FROM order_parts WHERE parent_order_id = ? AND kind = 'short' "
            "  UNION ALL SELECT p.order_id FROM order_parts p JOIN fam "
            "  ON p.parent_order_id = fam.order_id WHERE p.kind != 'short') "
            "SELECT line_no, sum(qty) FROM order_lines WHERE order_id IN fam GROUP BY line_no",
            [order_id],
        ).fetchall()
    )
    missing = [(n, q - sent.get(n, 0)) for n, q in short]
    units = {n: q for n, q in missing if q > 0}
    if not units:
        return None
    return split_off(db, order_id, units, kind="short", take_from_parent=False)


def family(db: sqlite_utils.Database, order_id: str) -> list[str]:
    """``order_id`` and every order split off it, at any depth, parents first."""
    rows = db.execute(
        "WITH RECURSIVE f(order_id, depth) AS (SELECT ?, 0 UNION ALL "
        "SELECT p.order_id, f.depth + 1 FROM order_parts p JOIN f "
        "ON p.parent_order_id = f.order_id) SELECT order_id FROM f ORDER BY depth, order_id",
        [order_id],
    ).fetchall()
    return [r[0] for r in rows]


def cancel_family(db: sqlite_utils.Database, order_id: str, reason: str = "") -> dict[str, str]:
    """Cancel ``order_id`` and its parts that are not packed yet (stock released,
    ``order_cancelled`` streamed to each station holding one: :func:`routing.feed.
    cancel_order`), in one transaction. Returns ``{order_id: outcome}`` for the family:
    ``cancelled``, ``already cancelled`` or ``packed: too late to cancel``. Raises
    ValueError for an unknown order."""
    outcome: dict[str, str] = {}
    with transaction(db):
        members = family(db, order_id)
        statuses = dict(
            db.execute(
                "SELECT order_id, status FROM orders WHERE order_id IN "
                "(SELECT value FROM json_each(?))",
                [json.dumps(members)],
            ).fetchall()
        )
        if order_id not in statuses:
            raise ValueError(f"no order {order_id}")
        for member in members:
            status = statuses[member]
            if status == "packed":
                outcome[member] = "packed: too late to cancel"
            elif status == "cancelled":
                outcome[member] = "already cancelled"
            else:
                feed.cancel_order(db, member, reason)
                outcome[member] = "cancelled"
    return outcome
