"""Receiving at the dock: count what arrived against a receipt, then book it in one event.

The inspector opens a receipt by scanning its reference (receipt, PO or ASN number), scans
every unit that came off the truck (a case GTIN counts the units it holds, a GS1 count
(30)/(37) multiplies, a keyed quantity multiplies again) and notes which of the counted
units are damaged (``station.inspection.record_inspection`` with the receipt). Closing
writes ONE ``goods_received`` event ``{ref, lines: [{sku, qty_received, qty_damaged}],
operator}`` in the transaction that closes the receipt.

Why one event at the close and not one per scan: the counts are the station's working
state until the inspector vouches for the total, as a dock clerk signs the delivery note.
Each scan is committed at once to ``receipt_counts`` (a crash or restart mid-receipt loses
no count; the receipt is open again at the next Shift+F2), miscounts are undone locally
before anything reaches stock, and the hub sees one fact per receipt, applied once by the
station's seq (and, below that, by the ledger's unique ``(ref, kind)``), never a stream of
+1s that a half-finished receipt would have put into available stock for routing to
promise. At most one receipt is open at a station.

A customer return is a receipt of the order it names (:func:`find_return`: the order
reference its slip's barcode encodes, or the order id). The station checks what it can
from the orders it holds (it keeps every order it packed): only the order's SKUs, at most
what the order shipped (ordered less short) on this receipt. Closing writes ONE
``goods_returned`` event ``{order_id, lines: [{sku, qty_returned, qty_damaged}],
operator}``; the hub checks the rest (earlier returns of the order, from any station).
An order packed at another station is not here: the inspector says the reference is a
return (F5) and the event names it by ``order_ref`` instead; any known item counts, and
the hub checks it all.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from station.packing.barcodes import ParsedScan
from station.packing.errors import Refused
from station.store.db import tx
from station.store.outbox import now_iso, record_event


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    name: str
    units: int  # units one scan of this code stands for (a case GTIN: its units)


@dataclass(frozen=True, slots=True)
class OpenReceipt:
    receipt_id: int
    ref: str
    operator: str
    opened_at: str
    order_id: str | None = None  # set: a customer return of this order
    is_return: bool = False  # order_id None: of an order not held here, named by ref


@dataclass(frozen=True, slots=True)
class TallyLine:
    sku: str
    name: str
    qty_received: int
    qty_damaged: int

    @property
    def qty_good(self) -> int:
        return self.qty_received - self.qty_damaged


def find_item(db: sqlite_utils.Database, parsed: ParsedScan) -> Item | None:
    """The item a scanned code is (the SKU's own label first, else its GTIN) with the
    units one scan counts (a case GTIN's units times a GS1 count), None when the code is
    no item here."""
    for code in filter(None, (parsed.text, parsed.gtin14)):
        row = db.execute(
            "SELECT s.sku, s.name, b.units FROM barcodes b JOIN skus s ON s.sku = b.sku "
            "WHERE b.code = ?",
            [code],
        ).fetchone()
        if row is not None:
            return Item(row[0], row[1], row[2] * (parsed.count or 1))
    return None


def open_receipt(db: sqlite_utils.Database) -> OpenReceipt | None:
    """The receipt open at this station, if any (it survives a restart)."""
    row = db.execute(
        "SELECT receipt_id, ref, operator, opened_at, order_id, is_return FROM receipts "
        "WHERE closed_at IS NULL"
    ).fetchone()
    return OpenReceipt(*row[:5], bool(row[5])) if row else None


def find_return(db: sqlite_utils.Database, code: str) -> tuple[str, str] | None:
    """``(order_id, order_ref)`` of the packed order ``code`` names (its id, else its
    reference, the code on its slips), None when no order here has it. Raises Refused for
    an order here that has not shipped: nothing of it can come back."""
    code = code.strip()
    row = db.execute(
        "SELECT order_id, order_ref, status FROM orders WHERE order_id = ?1 OR order_ref = ?1 "
        "ORDER BY order_id = ?1 DESC, status = 'packed' DESC, packed_at DESC LIMIT 1",
        [code],
    ).fetchone()
    if row is None:
        return None
    if row[2] != "packed":
        raise Refused(
            f"Order {row[0]} is {row[2]} here, not shipped: it cannot come back.", kind="receipt"
        )
    return row[0], row[1]


def start_receipt(
    db: sqlite_utils.Database,
    ref: str,
    operator: str,
    order_id: str | None = None,
    *,
    is_return: bool = False,
) -> OpenReceipt:
    """Open the receipt ``ref`` and return it. A customer return (``is_return``) is of
    ``order_id`` when the station holds the order, else of the order reference ``ref``. The open receipt is returned as it is when it is the same; one with nothing
    counted is dropped for the new one. Raises Refused
    for an empty ref, or while another receipt with counts is open (it must be closed
    first: its counts are not lost by a stray scan)."""
    ref = ref.strip()
    if not ref:
        raise Refused("Scan the receipt or PO reference.", kind="receipt")
    with tx(db):
        current = open_receipt(db)
        if current is not None:
            same = (current.ref, current.order_id, current.is_return)
            if same == (ref, order_id, is_return):
                return current
            if _counted(db, current.receipt_id):
                raise Refused(
                    f"Receipt {current.ref} is open with counts: close it before the next "
                    f"one, or undo its counts. ({ref!r} is no item here.)",
                    kind="receipt",
                )
            db.execute("DELETE FROM receipt_counts WHERE receipt_id = ?", [current.receipt_id])
            db.execute("DELETE FROM receipts WHERE receipt_id = ?", [current.receipt_id])
        at = now_iso()
        cur = db.execute(
            "INSERT INTO receipts (ref, operator, opened_at, order_id, is_return) "
            "VALUES (?, ?, ?, ?, ?)",
            [ref, operator, at, order_id, int(is_return)],
        )
        return OpenReceipt(int(cur.lastrowid), ref, operator, at, order_id, is_return)


def _counted(db: sqlite_utils.Database, receipt_id: int) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM receipt_counts WHERE receipt_id = ? AND undone_at IS NULL LIMIT 1",
            [receipt_id],
        ).fetchone()
        is not None
    )


def count_units(
    db: sqlite_utils.Database, receipt_id: int, sku: str, qty: int, operator: str, raw: str = ""
) -> None:
    """Count ``qty`` units of ``sku`` received on the receipt, committed at once. Raises
    Refused for a quantity below 1 and, on a return, for a SKU not on the order or more
    units than it shipped."""
    if qty < 1:
        raise Refused(f"Quantity {qty} is not allowed.", kind="qty")
    with tx(db):
        _check_return(db, receipt_id, sku, qty)
        _add(db, receipt_id, sku, qty, 0, operator, raw)


def _check_return(db: sqlite_utils.Database, receipt_id: int, sku: str, qty: int) -> None:
    row = db.execute(
        "SELECT r.order_id, (SELECT sum(l.qty - l.qty_short) FROM order_lines l "
        "WHERE l.order_id = r.order_id AND l.sku = ?) FROM receipts r WHERE r.receipt_id = ?",
        [sku, receipt_id],
    ).fetchone()
    if row is None or row[0] is None:
        return  # a PO receipt, or a return of an order not here: the hub checks
    order_id, shipped = row
    if shipped is None:
        raise Refused(f"{sku} is not on order {order_id}: it does not go back on this return.")
    counted = _line(db, receipt_id, sku)[0]
    if counted + qty > shipped:
        raise Refused(
            f"Order {order_id} shipped {shipped} × {sku}; {counted} counted back already, "
            f"+{qty} would be more.",
            kind="qty",
        )


def add_damage(
    db: sqlite_utils.Database, receipt_id: int, sku: str, qty: int, operator: str
) -> None:
    """Mark ``qty`` counted units of ``sku`` damaged, in the caller's transaction (that of
    the damage note's event). Raises Refused when fewer undamaged units were counted:
    damaged units are counted first, like every unit that arrived."""
    line = _line(db, receipt_id, sku)
    left = line[0] - line[1]
    if qty > left:
        raise Refused(
            f"Only {left} counted unit(s) of {sku} are not already noted damaged: "
            "count every unit that arrived first, damaged ones too.",
            kind="qty",
        )
    _add(db, receipt_id, sku, 0, qty, operator, "")


def undamaged_counted(db: sqlite_utils.Database, receipt_id: int, sku: str) -> int:
    """Counted units of ``sku`` not noted damaged: how many a damage note may name."""
    received, damaged = _line(db, receipt_id, sku)
    return received - damaged


def _line(db: sqlite_utils.Database, receipt_id: int, sku: str) -> tuple[int, int]:
    row = db.execute(
        "SELECT coalesce(sum(qty_received), 0), coalesce(sum(qty_damaged), 0) "
        "FROM receipt_counts WHERE receipt_id = ? AND sku = ? AND undone_at IS NULL",
        [receipt_id, sku],
    ).fetchone()
    return int(row[0]), int(row[1])


def _add(db, receipt_id, sku, received, damaged, operator, raw) -> None:
    db.execute(
        "INSERT INTO receipt_counts (receipt_id, sku, qty_received, qty_damaged, raw, "
        "operator, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [receipt_id, sku, received, damaged, raw, operator, now_iso()],
    )


def undo_count(db: sqlite_utils.Database, receipt_id: int) -> tuple[str, int]:
    """Take back the receipt's last count; return ``(sku, qty)`` it counted. Raises Refused
    when nothing is counted, or when the units are noted damaged (a damage note went to
    the hub already)."""
    with tx(db):
        row = db.execute(
            "SELECT count_id, sku, qty_received FROM receipt_counts WHERE receipt_id = ? "
            "AND qty_received > 0 AND undone_at IS NULL ORDER BY count_id DESC LIMIT 1",
            [receipt_id],
        ).fetchone()
        if row is None:
            raise Refused("Nothing counted to undo.", kind="undo")
        count_id, sku, qty = row
        if undamaged_counted(db, receipt_id, sku) < qty:
            raise Refused(f"Cannot undo: those units of {sku} are noted damaged.", kind="undo")
        db.execute(
            "UPDATE receipt_counts SET undone_at = ? WHERE count_id = ?", [now_iso(), count_id]
        )
        return sku, int(qty)


def tally(db: sqlite_utils.Database, receipt_id: int) -> list[TallyLine]:
    """Per SKU of the receipt, in the order first counted: received and damaged so far."""
    rows = db.execute(
        "SELECT c.sku, coalesce(s.name, c.sku), sum(c.qty_received), sum(c.qty_damaged) "
        "FROM receipt_counts c LEFT JOIN skus s ON s.sku = c.sku "
        "WHERE c.receipt_id = ? AND c.undone_at IS NULL "
        "GROUP BY c.sku ORDER BY min(c.count_id)",
        [receipt_id],
    ).fetchall()
    return [TallyLine(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def close_receipt(
    db: sqlite_utils.Database, station_id: str, receipt_id: int, operator: str
) -> tuple[int, list[TallyLine]]:
    """Close the receipt and write its ``goods_received`` event (a return: its
    ``goods_returned``) in the same transaction; return ``(event seq, lines)``. Raises
    Refused when the receipt is not open or has nothing counted."""
    with tx(db):
        row = db.execute(
            "SELECT ref, order_id, is_return FROM receipts WHERE receipt_id = ? "
            "AND closed_at IS NULL",
            [receipt_id],
        ).fetchone()
        if row is None:
            raise Refused("This receipt is not open.", kind="receipt")
        lines = [ln for ln in tally(db, receipt_id) if ln.qty_received > 0]
        if not lines:
            raise Refused(f"Nothing counted on receipt {row[0]}: scan the items.", kind="receipt")
        if not row[2]:
            type_, data = "goods_received", {"ref": row[0]}
            keys = ("qty_received", "qty_damaged")
        else:
            order = {"order_id": row[1]} if row[1] else {"order_ref": row[0]}
            type_, data = "goods_returned", order
            keys = ("qty_returned", "qty_damaged")
        data["lines"] = [
            {"sku": ln.sku, keys[0]: ln.qty_received, keys[1]: ln.qty_damaged} for ln in lines
        ]
        data["operator"] = operator
        seq = record_event(db, station_id, type_, data)
        db.execute(
            "UPDATE receipts SET closed_at = ?, event_seq = ? WHERE receipt_id = ?",
            [now_iso(), seq, receipt_id],
        )
        return seq, lines
