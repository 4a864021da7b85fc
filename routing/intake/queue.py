"""The routing queue: the hub takes ``new`` orders from here and hands back its plan.

:func:`new_orders` lists orders waiting to be routed; :func:`mark_routed` assigns one to
the station(s) of the plan (reserving its stock and streaming ``order_assigned``, as
:func:`routing.feed.assign_order` does for an order created at once), and
:func:`assign_plans` does the same for a whole chunk of plans (back-orders included) in a
handful of statements; :func:`hold_order` parks one the plan cannot fill (back order)
and :func:`requeue_order` puts it back.
An order is at no station and reserves nothing until it is routed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed
from routing import parts as parts_mod
from routing.store import station_key


class Part(msgspec.Struct, frozen=True, kw_only=True):
    """One shipment of a plan: the station that packs it, how it ships, and which units
    (``{line_no: qty}``; None = every line in full, for a plan of one part)."""

    site: str
    station: str
    carrier: str
    service: str
    lines: dict[int, int] | None = None


def new_orders(db: sqlite_utils.Database, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Orders waiting to be routed, earliest ship-by first (then higher priority): each
    the ``order_assigned`` shape of :func:`routing.feed.order_payload` (``ship_to`` a map,
    ``lines: [{line_no, sku, qty, ...}]``) plus ``placed_at`` and ``deliver_by`` (None
    for an order that did not come through intake or has no promise)."""
    # Two queries for the whole batch: order_payload per order costs two each, which the
    # hub paid for every order it routed.
    columns = (*feed.ORDER_COLUMNS, "status", "hold_reason")
    rows = db.execute(
        f"SELECT {', '.join(f'o.{c}' for c in columns)}, c.placed_at, c.deliver_by "
        "FROM orders o LEFT JOIN channel_orders c USING (order_id) "
        "WHERE o.status = 'new' AND o.station IS NULL "
        "ORDER BY o.ship_by, o.priority DESC, o.order_id LIMIT ?",
        [-1 if limit is None else limit],
    ).fetchall()
    lines: dict[str, list[dict[str, Any]]] = {r[0]: [] for r in rows}
    for order_id, line_no, sku, qty, qty_short, short_reason in db.execute(
        "SELECT order_id, line_no, sku, qty, qty_short, short_reason FROM order_lines "
        "WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id, line_no",
        [json.dumps(list(lines))],
    ).fetchall():
        lines[order_id].append(
            {"line_no": line_no, "sku": sku, "qty": qty, "qty_short": qty_short,
             "short_reason": short_reason}
        )  # fmt: skip
    out = []
    for row in rows:
        order = dict(zip(columns, row, strict=False))
        order["ship_to"] = _ADDRESS(order["ship_to"])
        order["lines"] = lines[order["order_id"]]
        order["placed_at"], order["deliver_by"] = row[-2:]
        out.append(order)
    return out


_ADDRESS = msgspec.json.Decoder().decode  # json.loads, faster


def mark_routed(
    db: sqlite_utils.Database,
    order_id: str,
    parts: Sequence[Part],
    *,
    moved: dict[str, set[str]] | None = None,
) -> list[str]:
    """Assign the ``new`` order ``order_id`` as planned, in one transaction; return the
    ids of the orders now at stations. ``moved``: ``{site: SKUs}`` to add the SKUs whose
    stock moved to, for the caller to publish their levels once for many orders
    (:func:`routing.feed.publish_stock`); None publishes them now.

    The first part keeps ``order_id``; each further part becomes order
    ``<order_id>-2``, ``-3`` ... (same reference, address and ship-by; its parent in
    ``order_parts``), so a station always packs one order per shipment. Each part's
    stock is reserved at its site and ``order_assigned`` goes on its station's stream.
    Raises ValueError when the order is not ``new``, a part names an unknown line, or
    the parts do not add up to every unit of every line."""
    if not parts:
        raise ValueError("a plan needs at least one part")
    with transaction(db):
        row = db.execute(
            "SELECT status, station FROM orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is None:
            raise ValueError(f"no order {order_id}")
        if row[0] != "new" or row[1] is not None:
            raise ValueError(f"order {order_id} is {row[0]}, not new")
        order = feed.order_payload(db, order_id)
        lines = {line["line_no"]: line for line in order["lines"]}
        split = [_units(order_id, lines, part) for part in parts]
        for line_no, line in lines.items():
            planned = sum(units.get(line_no, 0) for units in split)
            if planned != line["qty"]:
                raise ValueError(
                    f"order {order_id} line {line_no}: the plan ships {planned} of {line['qty']}"
                )
        at = now_iso()

        def moved_at(site: str) -> set[str] | None:
            return None if moved is None else moved.setdefault(site, set())

        first = _assign_in_place(
            db, order_id, lines, parts[0], split[0], at, moved_at(parts[0].site)
        )
        placed = [first]
        for n, (part, units) in enumerate(zip(parts[1:], split[1:], strict=True), 2):
            part_id = f"{order_id}-{n}"
            data = {k: order[k] for k in feed.ORDER_COLUMNS if k in order}
            data |= {
                "order_id": part_id, "carrier": part.carrier, "service": part.service,
                "assigned_at": at,
                "lines": [{"line_no": no, "sku": lines[no]["sku"], "qty": q}
                          for no, q in sorted(units.items())],
            }  # fmt: skip
            feed.assign_order(db, part.site, part.station, data, moved=moved_at(part.site))
            db.execute(
                "INSERT INTO order_parts (order_id, parent_order_id) VALUES (?, ?)",
                [part_id, order_id],
            )
            placed.append(part_id)
        return placed


def assign_whole(
    db: sqlite_utils.Database,
    orders: Sequence[tuple[dict[str, Any], Part]],
    *,
    moved: dict[str, set[str]] | None = None,
) -> list[str]:
    """:func:`assign_plans` for plans of one part that ships the whole order: each
    ``(order, part)`` with ``order`` as :func:`new_orders` returned it inside the caller's
    transaction. Returns the order ids. Raises ValueError, writing nothing, when a part
    does not ship every unit of its order, or an order is no longer ``new``."""
    plans = [Planned(order=order, parts=[part]) for order, part in orders]
    for plan in plans:
        if not fits(plan):
            raise ValueError(f"order {plan.order['order_id']}: the plan does not ship it whole")
    return [done.placed[0] for done in assign_plans(db, plans, moved=moved)]


class Planned(msgspec.Struct, kw_only=True):
    """One order's plan for :func:`assign_plans`: ``order`` as :func:`new_orders`
    returned it in the caller's transaction, its ``parts`` (as for :func:`mark_routed`),
    and the units no site fills now (``backorder``: ``{line_no: qty}``), split off as a
    back-order held with ``reason``."""

    order: dict[str, Any]
    parts: list[Part]
    backorder: dict[int, int] = {}
    reason: str = ""
    units: list[dict[int, int]] | None = None  # per part, once :func:`fits` said yes


class Assigned(msgspec.Struct, frozen=True):
    """What :func:`assign_plans` did with one order: the ids now at stations (the order,
    then its parts) and the back-order split off (None when none)."""

    placed: list[str]
    backorder: str | None


def assign_plans(
    db: sqlite_utils.Database,
    plans: Sequence[Planned],
    *,
    moved: dict[str, set[str]] | None = None,
    savepoint: bool = True,
) -> list[Assigned]:
    """The bulk form of a back-order split (:func:`routing.parts.split_off`) and
    :func:`mark_routed` for many orders, in one savepoint and a handful of statements:
    the database ends as if each plan had gone through them in turn (same order ids,
    lines, ``order_parts``, ledger refs and kinds, ``order_assigned`` changes in the same
    sequence on each station's stream; the back-order is ``on_hold`` with the reason).
    ``moved``: as for :func:`mark_routed`. Returns what was done, plan for plan.

    Only for plans the per-order path would take as they are: each :func:`fits`, and
    no order is in :func:`bulk_blocked`. Raises ValueError, writing nothing, when one
    is not so, or an order is no longer ``new``. ``savepoint=False``: for a caller whose
    own transaction is the unit of work, which it rolls back on ValueError (the batch may
    then be half written): an open savepoint makes SQLite journal the pages each write
    statement touches, about 2.5 times the cost of the statement."""
    ids = [p.order["order_id"] for p in plans]
    if _blocked(db, {oid: len(p.parts) for oid, p in zip(ids, plans, strict=True)}):
        raise ValueError("an order of the batch has a part's id taken, or movements")
    backorders = parts_mod.next_child_ids(
        db, [p.order["order_id"] for p in plans if p.backorder], "backorder"
    )
    at = now_iso()
    rows = _Rows()
    out = []
    for plan in plans:
        split = plan.units or _split(plan)
        if split is None:
            raise ValueError(f"order {plan.order['order_id']}: the plan does not fit the order")
        child = backorders.get(plan.order["order_id"]) if plan.backorder else None
        out.append(Assigned(rows.add(plan, split, child, at, moved), child))
    if ids:
        if savepoint:
            with transaction(db):
                _write(db, rows)
        else:
            _write(db, rows)
    return out


def bulk_blocked(
    db: sqlite_utils.Database, orders: Sequence[dict[str, Any]], most_parts: int
) -> set[str]:
    """The ids of ``orders`` that :func:`assign_plans` must leave to the per-order path
    (plans of up to ``most_parts`` parts): one of its parts' ids (``<order>-2`` ...) is
    taken, or it has ledger movements already (mark_routed settles against them)."""
    # A plan has at most a part per site, and per unit (a line may split across sites).
    return _blocked(
        db, {o["order_id"]: min(most_parts, sum(li["qty"] for li in o["lines"])) for o in orders}
    )


def _blocked(db, parts: dict[str, int]) -> set[str]:
    # parts: {order id: how many parts its plan may have}. Part ids are looked up as one
    # range of the orders' key per order ("<id>-" to "<id>."), not spelt out one by one.
    split = [oid for oid, n in parts.items() if n > 1]
    blocked = set()
    for oid, taken in db.execute(
        "SELECT j.value, o.order_id FROM json_each(?) j JOIN orders o "
        "ON o.order_id > j.value || '-' AND o.order_id < j.value || '.'",
        [json.dumps(split)],
    ):
        n = taken[len(oid) + 1 :]
        if n.isdecimal() and taken == f"{oid}-{int(n)}" and 2 <= int(n) <= parts[oid]:
            blocked.add(oid)
    blocked.update(
        r[0]
        for r in db.execute(
            "SELECT DISTINCT order_id FROM ledger "
            "WHERE order_id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(parts))],
        )
    )
    return blocked


def fits(plan: Planned) -> bool:
    """Whether ``plan`` ships exactly the units its order's lines hold once the
    back-order leaves them, none of them already short: what :func:`assign_plans` takes.
    Anything else goes through :func:`mark_routed`, which refuses it with a reason."""
    plan.units = _split(plan)
    return plan.units is not None


def _split(plan: Planned) -> list[dict[int, int]] | None:
    left: dict[int, int] = {}
    for line in plan.order["lines"]:
        if line["qty_short"]:
            return None
        left[line["line_no"]] = line["qty"]
    for n, q in plan.backorder.items():
        if q:
            if not 0 < q <= left.get(n, 0):
                return None
            left[n] -= q
    if len(plan.parts) == 1 and plan.parts[0].lines is None:
        return None if plan.backorder else [left]
    split, planned = [], {}
    for part in plan.parts:
        if part.lines is None:
            return None
        units = {}
        for n, q in part.lines.items():
            if n not in left or type(q) is not int or q < 0:
                return None
            if q:
                units[n] = q
                planned[n] = planned.get(n, 0) + q
        if not units:
            return None
        split.append(units)
    return split if planned == {n: q for n, q in left.items() if q} else None


class _Rows:
    """The rows of a batch of plans, gathered in memory in plan order."""

    def __init__(self) -> None:
        self.updates: list[tuple] = []  # the orders themselves
        self.line_deletes: list[tuple] = []
        self.line_updates: list[tuple] = []
        self.new_orders: list[tuple] = []  # parts, assigned
        self.held: list[tuple] = []  # back-orders, on hold
        self.new_lines: list[tuple] = []
        self.order_parts: list[tuple] = []
        self.movements: list[tuple] = []
        self.changes: list[tuple[str, dict[str, Any]]] = []  # (station, order_assigned)
        self.stations: dict[str, str] = {}

    def add(self, plan: Planned, split, child: str | None, at: str, moved) -> list[str]:
        order, parts = plan.order, plan.parts
        oid = order["order_id"]
        if child is not None:
            self._backorder(order, plan, child)
        first, units = parts[0], split[0]
        kept = order["lines"]
        if plan.backorder or len(parts) > 1:  # lines leave the order
            kept = []
            for line in order["lines"]:
                n = line["line_no"]
                if n not in units:
                    self.line_deletes.append((oid, n))
                elif units[n] != line["qty"]:
                    self.line_updates.append((units[n], oid, n))
                    kept.append(line | {"qty": units[n]})
                else:
                    kept.append(line)
        self.updates.append((first.site, first.station, first.carrier, first.service, at, oid))
        base = {k: order[k] for k in feed.ORDER_COLUMNS}
        self._assigned(first, base, oid, kept, at, moved)
        if len(parts) == 1:
            return [oid]
        placed = [oid]
        skus = {line["line_no"]: line["sku"] for line in order["lines"]}
        ship_to = json.dumps(order["ship_to"], ensure_ascii=False)  # as assign_order stores it
        for k, (part, these) in enumerate(zip(parts[1:], split[1:], strict=True), 2):
            pid = f"{oid}-{k}"
            self.new_orders.append((
                pid, part.site, part.station, order["order_ref"], order["channel"],
                order["tote"], order["pick_list"], order["ship_by"], order["priority"],
                "assigned", ship_to, part.carrier, part.service, at,
            ))  # fmt: skip
            self.order_parts.append((pid, oid, "split"))
            part_lines = [{"line_no": n, "sku": skus[n], "qty": q, "qty_short": 0,
                           "short_reason": None} for n, q in sorted(these.items())]  # fmt: skip
            self.new_lines += [(pid, n, skus[n], q) for n, q in sorted(these.items())]
            self._assigned(part, base, pid, part_lines, at, moved)
            placed.append(pid)
        return placed

    def _backorder(self, order: dict[str, Any], plan: Planned, child: str) -> None:
        oid = order["order_id"]
        skus = {line["line_no"]: line["sku"] for line in order["lines"]}
        self.held.append((child, order["order_ref"], order["channel"], order["ship_by"],
                          order["priority"], oid, plan.reason))  # fmt: skip
        self.new_lines += [(child, n, skus[n], q) for n, q in sorted(plan.backorder.items()) if q]
        self.order_parts.append((child, oid, "backorder"))

    def _assigned(self, part: Part, base: dict[str, Any], oid: str, lines, at: str, moved) -> None:
        # The order_assigned payload: the order's columns (base), as this part has them.
        site = part.site
        data = {**base, "order_id": oid, "carrier": part.carrier, "service": part.service,
                "assigned_at": at, "status": "assigned", "hold_reason": None, "lines": lines}  # fmt: skip
        self.stations[part.station] = site
        self.changes.append((part.station, data))
        ref = f"assign:{oid}/"
        self.movements += [
            (site, line["sku"], -line["qty"], "reservation", f"{ref}{line['line_no']}", oid,
             line["line_no"], at) for line in lines
        ]  # fmt: skip
        if moved is not None:
            moved.setdefault(site, set()).update([line["sku"] for line in lines])


_PART_COLUMNS = (
    "order_id", "site", "station", "order_ref", "channel", "tote", "pick_list", "ship_by",
    "priority", "status", "ship_to", "carrier", "service", "assigned_at",
)  # fmt: skip
_MOVEMENT_COLUMNS = ("site", "sku", "qty", "kind", "ref", "order_id", "line_no", "at")


def _write(db, rows: _Rows) -> None:
    if not db.conn.in_transaction:
        raise RuntimeError("the bulk writer writes in its caller's transaction")
    try:
        for station, site in rows.stations.items():
            feed.ensure_station(db, site, station)
        cur = db.conn.executemany(
            "UPDATE orders SET site = ?, station = ?, carrier = ?, service = ?, "
            "status = 'assigned', hold_reason = NULL, assigned_at = ? "
            "WHERE order_id = ? AND status = 'new' AND station IS NULL",
            rows.updates,
        )
        if cur.rowcount != len(rows.updates):
            raise ValueError("an order of the batch is no longer new")
        if rows.held:
            # A back-order copies the stored address text, as split_off does.
            db.conn.executemany(
                "INSERT INTO orders (order_id, order_ref, channel, ship_by, priority, "
                "status, hold_reason, ship_to, carrier, service) "
                "SELECT ?, ?, ?, ?, ?, 'on_hold', ?7, ship_to, '', '' FROM orders "
                "WHERE order_id = ?6",
                rows.held,
            )
        db.conn.executemany(  # not insert_many: ship_to is JSON text (see it)
            f"INSERT INTO orders ({', '.join(_PART_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _PART_COLUMNS)})",
            rows.new_orders,
        )
        db.conn.executemany(
            "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?", rows.line_deletes
        )
        db.conn.executemany(
            "UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ?",
            rows.line_updates,
        )
        feed.insert_many(db, "order_lines", ("order_id", "line_no", "sku", "qty"), rows.new_lines)
        feed.insert_many(
            db, "order_parts", ("order_id", "parent_order_id", "kind"), rows.order_parts
        )
        feed.insert_many(db, "ledger", _MOVEMENT_COLUMNS, rows.movements)
        feed.append_changes(
            db, [(station_key(st), "order_assigned", data) for st, data in rows.changes]
        )
    except sqlite3.IntegrityError as exc:  # an id or a reservation already recorded
        raise ValueError(f"assigning the batch: {exc}") from None


def _units(order_id: str, lines: dict[int, dict], part: Part) -> dict[int, int]:
    if part.lines is None:
        return {no: line["qty"] for no, line in lines.items()}
    for no, qty in part.lines.items():
        if no not in lines:
            raise ValueError(f"order {order_id} has no line {no}")
        if not isinstance(qty, int) or qty < 0:
            raise ValueError(f"order {order_id} line {no}: {qty!r} units")
    return {no: qty for no, qty in part.lines.items() if qty}


def _assign_in_place(db, order_id: str, lines, part: Part, units: dict[int, int], at, moved) -> str:
    if not units:
        raise ValueError(f"order {order_id}: the first part of the plan ships nothing")
    feed.ensure_station(db, part.site, part.station)
    for line_no, line in lines.items():
        qty = line["qty"]
        if line_no not in units:
            db.execute(
                "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?", [order_id, line_no]
            )
        elif units[line_no] != qty:
            db.execute(
                "UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ?",
                [units[line_no], order_id, line_no],
            )
    db.execute(
        "UPDATE orders SET site = ?, station = ?, carrier = ?, service = ?, "
        "status = 'assigned', hold_reason = NULL, assigned_at = ? WHERE order_id = ?",
        [part.site, part.station, part.carrier, part.service, at, order_id],
    )
    feed.settle_order(db, order_id, f"assign:{order_id}", at, moved=moved)
    feed.append_change(
        db, station_key(part.station), "order_assigned", feed.order_payload(db, order_id)
    )
    return order_id


def hold_order(db: sqlite_utils.Database, order_id: str, reason: str) -> None:
    """Park a ``new`` order (e.g. no site can fill it: a back order) with ``reason``.
    Raises ValueError when it is not ``new`` or the reason is empty."""
    if not reason.strip():
        raise ValueError("a hold needs a reason")
    _move(db, order_id, "new", "on_hold", reason)


def requeue_order(db: sqlite_utils.Database, order_id: str) -> None:
    """Put an order parked by :func:`hold_order` back in the queue. Raises ValueError
    when it is not on hold at the hub, or is held for unlinked products (link them:
    :func:`routing.intake.orders.release_held` releases it)."""
    with transaction(db):
        row = db.execute(
            "SELECT unlinked FROM channel_orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is not None and row[0]:
            raise ValueError(f"order {order_id} has lines not linked to a SKU")
        _move(db, order_id, "on_hold", "new", None)


def _move(db, order_id: str, before: str, after: str, reason: str | None) -> None:
    with transaction(db):
        cur = db.execute(
            "UPDATE orders SET status = ?, hold_reason = ? "
            "WHERE order_id = ? AND status = ? AND station IS NULL",
            [after, reason, order_id, before],
        )
        if cur.rowcount != 1:
            raise ValueError(f"order {order_id} is not {before} at the hub")
