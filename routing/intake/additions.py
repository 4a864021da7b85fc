"""Units a channel added to an order the hub has: a Shopify order edit's new lines and
higher quantities (``orders/updated`` lists them; ``orders/edited`` names the line items).

Where the units go depends on how far the hub's order has gone:

* not routed yet (``new``, or ``on_hold`` at the hub: nothing reserved, no station told):
  the lines grow, or new lines join the order, and the routing engine routes it whole;
* routed (reserved at a site, assigned to a station, opened there or packed): the added
  units become a new part of the order, ``<order>-E1`` (``-E2`` ...), ``new``, routed on
  its own by the next routing run, which may send it to another site. Its lines keep the
  channel's line numbers, so a later cancellation of those units finds them
  (:mod:`routing.intake.amend`), and cancelling the order cancels it too.

The part is the simplest correct choice: growing a reserved part would need stock at its
site (it may have none) and a station copy replaced under a packer who may have opened
it; a part of its own is routed like any order. Its ``order_parts`` kind is ``split``:
another shipment of the same order, as a plan's ``<order>-2`` is.

A new line whose product is not linked to a SKU is not added (the outcome says which):
the channel's copy of the order is left without it, so the next delivery of the order,
after ``doms hub map-sku``, adds it.
"""

from __future__ import annotations

import msgspec
import sqlite_utils

from routing.intake import skumap
from routing.intake.model import IncomingOrder, Line
from routing.intake.orders import channel_line_row, relink

_COPIED = ("order_ref", "channel", "ship_by", "priority", "ship_to")
_PREFIX = "E"


def add_units(
    db: sqlite_utils.Database,
    order_id: str,
    stored: IncomingOrder,
    added: dict[int, int],
    new_lines: list[Line],
    refunds: tuple[str, ...],
) -> tuple[IncomingOrder, list[str]]:
    """Add ``added`` units (``{line_no: units}``) to lines of hub order ``order_id`` and
    ``new_lines`` as new lines (call inside a transaction); record the channel's new copy
    of the order and return it with notes for the outcome."""
    notes: list[str] = []
    skus: dict[int, str] = {}
    lines = list(stored.lines)
    for line in new_lines:
        sku = skumap.resolve(db, stored.channel, line)
        if sku is None:
            notes.append(skumap.unlinked_reason(stored.channel, len(lines) + 1, line)
                         + ": the added line is not taken in")  # fmt: skip
            continue
        lines.append(line)
        skus[len(lines)] = sku
    for n, more in added.items():
        lines[n - 1] = msgspec.structs.replace(lines[n - 1], qty=lines[n - 1].qty + more)
        skus[n] = skumap.resolve(db, stored.channel, lines[n - 1])  # None: held unlinked
    units = {n: added.get(n) or lines[n - 1].qty for n in skus}
    if not units:
        return stored, notes
    view = msgspec.structs.replace(stored, lines=tuple(lines), refunds=refunds)
    _record(db, order_id, view, skus)
    status, station, unlinked = db.execute(
        "SELECT o.status, o.station, c.unlinked FROM orders o JOIN channel_orders c "
        "USING (order_id) WHERE o.order_id = ?",
        [order_id],
    ).fetchone()
    if status == "cancelled":
        notes.append("the order is cancelled: the added units are not shipped")
    elif station is None and status in ("new", "on_hold"):
        if unlinked:
            relink(db, order_id)  # writes every line at once when all are linked
        else:
            _grow(db, order_id, units, skus)
        notes.append(f"{_count(units)} added to {order_id}")
    else:
        part = _new_part(db, order_id, units, skus)
        notes.append(f"{_count(units)} added as {part}, routed on its own ({order_id} is {status})")
    return view, notes


def _count(units: dict[int, int]) -> str:
    total = sum(units.values())
    lines = ", ".join(f"line {n}: {q}" for n, q in sorted(units.items()))
    return f"{total} unit{'' if total == 1 else 's'} ({lines})"


def _record(db, order_id: str, view: IncomingOrder, skus: dict[int, str | None]) -> None:
    """The channel's copy of the order: its JSON, and the rows of the lines that grew
    (a line the channel had emptied before has no row left: it gets one again)."""
    db.execute(
        "UPDATE channel_orders SET incoming = ? WHERE order_id = ?",
        [msgspec.json.encode(view).decode(), order_id],
    )
    for n, sku in skus.items():
        line = view.lines[n - 1]
        db["channel_order_lines"].upsert(
            channel_line_row(order_id, n, line, sku), pk=("order_id", "line_no")
        )


def _grow(db, order_id: str, units: dict[int, int], skus: dict[int, str | None]) -> None:
    """An order not routed yet takes the units itself (it reserves nothing yet)."""
    for n, more in sorted(units.items()):
        cur = db.execute(
            "UPDATE order_lines SET qty = qty + ? WHERE order_id = ? AND line_no = ?",
            [more, order_id, n],
        )
        if cur.rowcount == 0:
            db.execute(
                "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
                [order_id, n, skus[n], more],
            )


def _new_part(db, order_id: str, units: dict[int, int], skus: dict[int, str | None]) -> str:
    """``<order_id>-E<n>``: a ``new`` order with ``units`` under the channel's line
    numbers, the same reference, address and ship-by."""
    n = 1
    while db.execute(
        "SELECT 1 FROM orders WHERE order_id = ?", [f"{order_id}-{_PREFIX}{n}"]
    ).fetchone():
        n += 1
    part = f"{order_id}-{_PREFIX}{n}"
    row = db.execute(
        f"SELECT {', '.join(_COPIED)} FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    db["orders"].insert(
        {"order_id": part, **dict(zip(_COPIED, row, strict=True)), "status": "new",
         "carrier": "", "service": ""}
    )  # fmt: skip
    for line_no, qty in sorted(units.items()):
        db.execute(
            "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
            [part, line_no, skus[line_no], qty],
        )
    db.execute(
        "INSERT INTO order_parts (order_id, parent_order_id, kind) VALUES (?, ?, 'split')",
        [part, order_id],
    )
    return part
