"""What station events do to the hub, applied exactly once (sync/PROTOCOL.md).

:func:`receive_events` is the hub side of the event protocol for one batch: per station a
high-water mark ``applied_seq``; an event at ``applied_seq + 1`` is applied (inbox row,
effect, new mark), one at or below it is a duplicate and ignored, one beyond it is a gap
and stops the batch. The whole batch is one transaction, committed before the caller
acknowledges it: a crash mid-batch rolls all of it back and the station sends it again.

:func:`apply_event` is the effect of one event, a function of (db, site, station, seq,
type, data) run inside the caller's transaction:

* ``order_packed``: status ``packed``, one shipment row per package, and per line a
  ``ship`` movement of what was scanned (ordered minus short, the event's ``short`` list
  being the station's final word) with the line's reservation released;
* ``line_short``: the line's ``qty_short`` grows and a ``short`` movement of -qty is
  recorded. A short pick means stock the hub believed was on the shelf is not there, so
  on hand must drop now (for every reason, ``damaged`` and ``wrong_item_picked`` included:
  a count corrects the ledger later with an ``adjustment``); its reservation is released,
  so ``available`` does not move twice. The missing units are routed again: a ``new``
  order ``<order>-R<n>`` (:func:`routing.parts.reroute_shorts`, also run after an
  ``order_packed`` whose ``short`` list says more is missing) that the next routing run
  sends to another site;
* ``order_held``: status ``on_hold`` with the reason (stock stays reserved);
* ``label_voided`` of a packed order: its shipment row goes, the order is back in
  ``packing``, the ship movements are reversed and the stock reserved again, each with
  the void event's own refs;
* ``goods_received`` (a receipt closed at the station's dock): per line a ``receipt``
  movement of every unit that arrived (``qty_received``) and an ``adjustment`` of
  ``-qty_damaged``, both with ref ``<station>:<seq>/<sku>`` at the station's site, so the
  ledger keeps what the supplier delivered and what was written off as damaged (the
  event's inbox row, kept for good, says why), and available stock grows by the good
  units only. Lines of one SKU are summed. Refused whole when a SKU is unknown or a
  quantity is not a whole number with ``0 <= qty_damaged <= qty_received``. The
  movements carry the hub's time of applying, not the station's: routing may promise
  the stock from then, and a back-order held before then is requeued
  (``routing/backorders.py`` looks for movements since the hold);
* ``goods_returned`` (a customer's return received at the station's dock, naming the
  order by ``order_id``, or by ``order_ref``: every packed order with it): per SKU a
  ``return`` movement of every unit that came back and an ``adjustment`` of
  ``-qty_damaged`` (as ``goods_received`` writes damaged units off), both with ref
  ``<station>:<seq>/<sku>`` at the station's site and the order's id, and one ``returns``
  row per order line (:mod:`routing.returns`, ``doms hub returns``). Refused whole when
  the order is unknown or not packed, a SKU or line is not the order's, or more units
  come back than the line shipped (ordered less short) less earlier returns;
* any other type, known or not (``photo_taken`` and ``inbound_inspected`` among them):
  recorded in the inbox only.

Movements are written by :func:`routing.feed.settle_order`, as differences from what the
ledger already holds for each order line, with refs ``<station>:<seq>/<line_no>``.

An effect that cannot apply (unknown order, an order of another station, data of the wrong
shape) is refused with :class:`EventRejected`: the event still takes its place in the
sequence, with the reason in ``inbox.error``, because a station's event is a fact that
already happened and holding back every later one would stop the station's sync for good.

:func:`prune_inbox` bounds the inbox: the marks decide exactly-once, the rows are needed
only to tell a replay from a station that numbers again from an old point, and only near
the mark (sync/PROTOCOL.md, "Pruning the inbox").
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing.feed import ensure_station, insert_movement, publish_stock, settle_order
from routing.parts import reroute_shorts
from routing.returns import Returnable, ReturnLine, add_rows, orders_of, returnable

log = logging.getLogger(__name__)
_JSON = msgspec.json.Encoder()  # json.dumps(ensure_ascii=False), compact, several times faster


class EventRejected(ValueError):
    """The event's effect cannot be applied; ``str()`` says why (kept in the inbox)."""


class EventLike(Protocol):
    """What :func:`receive_events` needs of an event (``sync.messages.Event`` has it)."""

    seq: int
    id: str
    type: str
    at: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one batch: what to acknowledge and what happened."""

    applied_seq: int  # the station's high-water mark after the batch
    resend_from: int | None  # set when a gap stopped the batch
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0  # applied in sequence, effect refused (inbox.error)
    conflict: int | None = None  # a seq <= applied_seq whose event id differs: nothing applied


def applied_seq(db: sqlite_utils.Database, station: str) -> int:
    """The station's high-water mark (0 before its first event)."""
    row = db.execute("SELECT applied_seq FROM sync_marks WHERE station = ?", [station]).fetchone()
    return row[0] if row else 0


def receive_events(
    db: sqlite_utils.Database, site: str, station: str, events: Iterable[EventLike]
) -> Receipt:
    """Apply a batch of ``station``'s events in one transaction; return the Receipt.

    Events are taken in seq order, so a batch reordered in transit still applies. The
    SKUs the batch moved get one ``stock_level`` change each on the site stream. Raises
    ValueError when ``station`` is registered at another site, sqlite3.OperationalError
    when the database fails; either way nothing is applied, the caller sends no ack and
    the station sends again."""
    applied = duplicates = rejected = 0
    resend_from = None
    moved: set[str] = set()
    events = sorted(events, key=lambda e: e.seq)
    with transaction(db):
        ensure_station(db, site, station)
        mark = applied_seq(db, station)
        now = now_iso()
        # A seq at or below the mark is a duplicate only if it is the same event: the
        # same seq with another id means the station numbers from 1 again (its database
        # was wiped or restored). Applying nothing, the caller asks it to renumber.
        old = [e for e in events if e.seq <= mark]
        clash = _renumbered(db, station, old) if old else None
        if clash is not None:
            return Receipt(mark, None, conflict=clash)
        for event in events:
            if event.seq <= mark:
                duplicates += 1
                continue
            if event.seq > mark + 1:
                resend_from = mark + 1
                break
            error = _apply_isolated(db, site, station, event, moved)
            rejected += error is not None
            db.execute(
                "INSERT INTO inbox (station, seq, event_id, type, data, at, applied_at, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    station, event.seq, event.id, event.type,
                    _JSON.encode(event.data).decode(), event.at, now, error,
                ],
            )  # fmt: skip
            mark = event.seq
            applied += 1
        # One stock level per SKU the batch moved (a refused event may leave an extra
        # SKU here: its level is simply restated).
        publish_stock(db, site, moved)
        if applied:
            db.execute(
                "INSERT INTO sync_marks (station, applied_seq, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(station) DO UPDATE SET applied_seq = excluded.applied_seq, "
                "updated_at = excluded.updated_at",
                [station, mark, now],
            )
    return Receipt(mark, resend_from, applied, duplicates, rejected)


def _renumbered(db: sqlite_utils.Database, station: str, old: list[EventLike]) -> int | None:
    """The lowest seq of ``old`` (events at or below the mark, in seq order) that shows the
    station numbering from an old point again, or None when the batch is a replay.

    A seq whose inbox row was pruned (:func:`prune_inbox`) cannot be compared. A later seq
    of the same batch whose id matches vouches for it: one database numbered both. Without
    such a match it counts as renumbered, since a station whose database kept its acks
    never sends that far below the mark (PROTOCOL.md, "Pruning the inbox")."""
    ids = dict(db.execute(
        "SELECT seq, event_id FROM inbox WHERE station = ? AND seq BETWEEN ? AND ?",
        [station, old[0].seq, old[-1].seq],
    ).fetchall())  # fmt: skip
    clash, vouched = None, False
    for event in reversed(old):
        kept = ids.get(event.seq)
        if kept == event.id:
            vouched = True
        elif kept is not None or not vouched:
            clash = event.seq
    return clash


def prune_inbox(
    db: sqlite_utils.Database, site: str, keep_last: int, before: str, limit: int = 10_000
) -> int:
    """Delete up to ``limit`` inbox rows of ``site``'s stations; return how many.

    Per station, a row goes once it is more than ``keep_last`` seqs below the station's
    mark and it and every row before it were applied before ``before`` (ISO time). Rows
    whose effect was refused (``error``) and the types in :data:`KEPT_TYPES` stay: nothing
    else records them. The marks stay, and with them exactly-once; ``keep_last`` must
    cover what a station may send beyond its last ack (see :func:`_renumbered`). Each
    station's rows go in a transaction of their own, oldest first, so a large backlog is
    pruned over several calls without holding the writer for long."""
    marks = db.execute(
        "SELECT m.station, m.applied_seq FROM sync_marks m "
        "JOIN stations s ON s.station_id = m.station WHERE s.site = ?",
        [site],
    ).fetchall()
    kept = ", ".join("?" * len(KEPT_TYPES))
    gone = 0
    for station, mark in marks:
        if gone >= limit:
            break
        with transaction(db):
            # The first row still young; by seq through the primary key, so the scan stops
            # at the (few) rows below it that are kept for good.
            young = db.execute(
                "SELECT seq FROM inbox WHERE station = ? AND applied_at >= ? ORDER BY seq LIMIT 1",
                [station, before],
            ).fetchone()
            cut = min(mark - keep_last, young[0] - 1 if young else mark)
            if cut < 1:
                continue
            gone += db.execute(
                "DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox WHERE station = ? "
                f"AND seq <= ? AND error IS NULL AND type NOT IN ({kept}) ORDER BY seq LIMIT ?)",
                [station, cut, *KEPT_TYPES, limit - gone],
            ).rowcount
    return gone


def _apply_isolated(
    db: sqlite_utils.Database, site: str, station: str, event: EventLike, moved: set[str]
) -> str | None:
    # A savepoint per event: a refused effect leaves no half of itself behind, and the
    # batch goes on. Database failures (OperationalError) are not refusals: they abort.
    if event.type not in HANDLERS:
        return None  # recorded only: no effect to undo, no savepoint to pay for
    db.execute("SAVEPOINT event")
    try:
        apply_event(db, site, station, event.seq, event.type, event.data, at=event.at, moved=moved)
    except (EventRejected, KeyError, TypeError, ValueError, sqlite3.IntegrityError) as exc:
        db.execute("ROLLBACK TO SAVEPOINT event")
        db.execute("RELEASE SAVEPOINT event")
        reason = str(exc) if isinstance(exc, EventRejected) else f"{type(exc).__name__}: {exc}"
        log.warning("%s event %s (%s) refused: %s", station, event.seq, event.type, reason)
        return reason
    db.execute("RELEASE SAVEPOINT event")
    return None


def apply_event(
    db: sqlite_utils.Database,
    site: str,
    station: str,
    seq: int,
    type_: str,
    data: dict[str, Any],
    *,
    at: str | None = None,
    moved: set[str] | None = None,
) -> None:
    """Apply the effect of one event to hub state, in the caller's transaction. Types
    without an effect do nothing. The SKUs whose stock moved get their ``stock_level``
    change now, or are added to ``moved`` for the caller to publish. Raises
    EventRejected (or KeyError/TypeError/ValueError for data of the wrong shape) when the
    effect cannot apply."""
    handler = HANDLERS.get(type_)
    if handler is not None:
        handler(_Ctx(db, site, station, f"{station}:{seq}", at or now_iso(), moved), data)


@dataclass(frozen=True, slots=True)
class _Ctx:
    db: sqlite_utils.Database
    site: str
    station: str
    ref: str  # "<station>:<seq>": the cause named by every movement of this event
    at: str
    moved: set[str] | None

    def order(self, data: dict[str, Any]) -> tuple[str, str]:
        """``(order_id, status)`` of the event's order; refused when it is unknown here
        or belongs to another station (a station may not speak for another)."""
        order_id = data["order_id"]
        row = self.db.execute(
            "SELECT status, station FROM orders WHERE order_id = ?", [order_id]
        ).fetchone()
        if row is None:
            raise EventRejected(f"unknown order {order_id!r}")
        if row[1] != self.station:
            raise EventRejected(f"order {order_id} is assigned to {row[1]}, not {self.station}")
        return order_id, row[0]

    def settle(self, order_id: str) -> None:
        settle_order(self.db, order_id, self.ref, self.at, moved=self.moved)


def _order_packed(ctx: _Ctx, data: dict[str, Any]) -> None:
    order_id, _ = ctx.order(data)
    # What the parcels hold. A line the channel cut while the station was packing it
    # (routing.intake.amend) shipped all the same: the ledger must ship what left.
    for line in data.get("lines") or []:
        cur = ctx.db.execute(
            "UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ? AND qty < ?",
            [int(line["qty"]), order_id, int(line["line_no"]), int(line["qty"])],
        )
        if cur.rowcount:
            log.warning(
                "%s line %s: %s packed after the channel cut it; shipped as packed",
                order_id, line["line_no"], line["qty"],
            )  # fmt: skip
    # The station's final word on what is missing (cumulative per line), when it says.
    for short in data.get("short") or []:
        ctx.db.execute(
            "UPDATE order_lines SET qty_short = min(qty, ?) WHERE order_id = ? AND line_no = ?",
            [int(short["qty"]), order_id, int(short["line_no"])],
        )
    ctx.db.execute(
        "UPDATE orders SET status = 'packed', packed_at = ?, hold_reason = NULL WHERE order_id = ?",
        [ctx.at, order_id],
    )
    # The packages of the last order_packed are the shipment (a repack after a void
    # lists them all again).
    ctx.db.execute("DELETE FROM shipments WHERE order_id = ?", [order_id])
    for p in data["packages"]:
        ctx.db.execute(
            "INSERT INTO shipments (order_id, package_no, station, sscc, tracking, carton, "
            "grams, packed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                order_id, int(p["package_no"]), ctx.station, p.get("sscc"), p.get("tracking"),
                p.get("carton"), p.get("grams"), ctx.at,
            ],
        )  # fmt: skip
    ctx.settle(order_id)
    if data.get("short"):
        reroute_shorts(ctx.db, order_id)  # the final word may miss more than line_short said


def _line_short(ctx: _Ctx, data: dict[str, Any]) -> None:
    order_id, _ = ctx.order(data)
    line_no, qty = int(data["line_no"]), int(data["qty"])
    row = ctx.db.execute(
        "SELECT sku FROM order_lines WHERE order_id = ? AND line_no = ?", [order_id, line_no]
    ).fetchone()
    if row is None:
        raise EventRejected(f"order {order_id} has no line {line_no}")
    if data.get("sku") not in (None, row[0]):
        raise EventRejected(f"line {line_no} of {order_id} is {row[0]}, not {data['sku']}")
    if qty < 1:
        raise EventRejected(f"short quantity {qty} is not positive")
    ctx.db.execute(
        "UPDATE order_lines SET qty_short = min(qty, qty_short + ?), short_reason = ? "
        "WHERE order_id = ? AND line_no = ?",
        [qty, data.get("reason"), order_id, line_no],
    )
    ctx.settle(order_id)
    reroute_shorts(ctx.db, order_id)


def _order_held(ctx: _Ctx, data: dict[str, Any]) -> None:
    order_id, status = ctx.order(data)
    if status in ("packed", "cancelled"):
        return  # a late hold changes nothing once the order is done or cancelled
    ctx.db.execute(
        "UPDATE orders SET status = 'on_hold', hold_reason = ? WHERE order_id = ?",
        [data.get("reason"), order_id],
    )


def _label_voided(ctx: _Ctx, data: dict[str, Any]) -> None:
    order_id, status = ctx.order(data)
    if status != "packed":
        return  # a label voided before the order was packed: no shipment yet
    ctx.db.execute(
        "DELETE FROM shipments WHERE order_id = ? AND package_no = ?",
        [order_id, int(data["package_no"])],
    )
    ctx.db.execute(
        "UPDATE orders SET status = 'packing', packed_at = NULL WHERE order_id = ?", [order_id]
    )
    ctx.settle(order_id)


def _goods_received(ctx: _Ctx, data: dict[str, Any]) -> None:
    lines: dict[str, list[int]] = {}
    for line in data["lines"]:
        sku, received, damaged = line["sku"], line["qty_received"], line.get("qty_damaged", 0)
        if not all(isinstance(q, int) and not isinstance(q, bool) for q in (received, damaged)):
            raise EventRejected(f"{sku}: quantities must be whole numbers")
        if not 0 <= damaged <= received:
            raise EventRejected(f"{sku}: {damaged} damaged of {received} received")
        total = lines.setdefault(sku, [0, 0])
        total[0] += received
        total[1] += damaged
    if not lines:
        raise EventRejected("a receipt without lines")
    known = {row[0] for row in ctx.db.execute(
        "SELECT sku FROM skus WHERE sku IN (SELECT value FROM json_each(?))",
        [_JSON.encode(sorted(lines)).decode()],
    ).fetchall()}  # fmt: skip
    unknown = sorted(set(lines) - known)
    if unknown:
        raise EventRejected(f"receipt {data.get('ref')!r}: unknown SKU {', '.join(unknown)}")
    at = now_iso()  # the hub's clock: see the module docstring
    for sku, (received, damaged) in lines.items():
        ref = f"{ctx.ref}/{sku}"
        for kind, qty in (("receipt", received), ("adjustment", -damaged)):
            if qty and not insert_movement(ctx.db, ctx.site, sku, qty, kind, ref, None, None, at):
                raise EventRejected(f"movement {kind} {ref} is already recorded")
        if ctx.moved is not None:
            ctx.moved.add(sku)
        else:
            publish_stock(ctx.db, ctx.site, [sku])


def _goods_returned(ctx: _Ctx, data: dict[str, Any]) -> None:
    order_ids = orders_of(ctx.db, data)
    order_id = " + ".join(order_ids) or data.get("order_ref")
    lines = returnable(ctx.db, order_ids)
    if not lines:
        raise EventRejected(f"return of unknown order {order_id!r}")
    if not any(ln.shipped for ln in lines):
        raise EventRejected(f"return of order {order_id}, which has not shipped")
    booked = _return_lines(order_id, lines, data["lines"])
    at = now_iso()  # the hub's clock, as for goods_received
    by_sku: dict[str, list[int]] = {}
    for ln in booked:
        total = by_sku.setdefault(ln.sku, [0, 0])
        total[0] += ln.qty_returned
        total[1] += ln.qty_damaged
    for sku, (back, damaged) in by_sku.items():
        ref = f"{ctx.ref}/{sku}"
        # The order the units came back from, when one (a return by reference may span parts).
        orders = {ln.order_id for ln in booked if ln.sku == sku}
        of = orders.pop() if len(orders) == 1 else None
        for kind, qty in (("return", back), ("adjustment", -damaged)):
            if qty and not insert_movement(ctx.db, ctx.site, sku, qty, kind, ref, of, None, at):
                raise EventRejected(f"movement {kind} {ref} is already recorded")
    station, seq = ctx.ref.rsplit(":", 1)
    add_rows(ctx.db, station, int(seq), ctx.site, booked, data.get("operator"), at)
    if ctx.moved is not None:
        ctx.moved.update(by_sku)
    else:
        publish_stock(ctx.db, ctx.site, by_sku)


def _return_lines(
    order_id: str, lines: list[Returnable], wanted: list[dict[str, Any]]
) -> list[ReturnLine]:
    """The event's lines on the order's lines: a line named by ``line_no`` takes its units,
    a line by SKU alone fills the order's lines of that SKU in line order (a return by
    reference: the parts' lines too, part after part). Refused when a
    SKU or line is not the order's, a quantity is not whole with ``0 <= qty_damaged <=
    qty_returned``, or more comes back than shipped less what came back before."""
    left = {(ln.order_id, ln.line_no): ln.left for ln in lines}
    out: dict[tuple[str, int], list[int]] = {}
    for want in wanted:
        sku, back, damaged = want["sku"], want["qty_returned"], want.get("qty_damaged", 0)
        if not all(isinstance(q, int) and not isinstance(q, bool) for q in (back, damaged)):
            raise EventRejected(f"{sku}: quantities must be whole numbers")
        if not 0 <= damaged <= back or back < 1:
            raise EventRejected(f"{sku}: {damaged} damaged of {back} returned")
        mine = [ln for ln in lines if ln.sku == sku and want.get("line_no") in (None, ln.line_no)]
        if not mine:
            where = f"line {want['line_no']} of " if want.get("line_no") is not None else ""
            raise EventRejected(f"{sku} is not on {where}order {order_id}")
        room = sum(left[ln.order_id, ln.line_no] for ln in mine)
        if back > room:
            shipped = sum(ln.shipped for ln in mine)
            raise EventRejected(
                f"{sku}: {back} returned, but order {order_id} shipped {shipped} and "
                f"{shipped - room} came back before"
            )
        for ln in mine:
            key = (ln.order_id, ln.line_no)
            take = min(back, left[key])
            if not take:
                continue
            hurt = min(damaged, take)
            left[key] -= take
            total = out.setdefault(key, [0, 0])
            total[0] += take
            total[1] += hurt
            back, damaged = back - take, damaged - hurt
    if not out:
        raise EventRejected("a return without lines")
    sku_of = {(ln.order_id, ln.line_no): ln.sku for ln in lines}
    return [ReturnLine(*k, sku_of[k], q, d) for k, (q, d) in sorted(out.items())]


HANDLERS: dict[str, Callable[[_Ctx, dict[str, Any]], None]] = {
    "order_packed": _order_packed,
    "line_short": _line_short,
    "order_held": _order_held,
    "label_voided": _label_voided,
    "goods_received": _goods_received,
    "goods_returned": _goods_returned,
}
# Never pruned from the inbox: its row is the hub's only record of an inspection note
# (the photos table keeps the hashes it names, not the quantities or the reason), and of
# a receipt's reference, operator and why units were written off.
KEPT_TYPES = ("inbound_inspected", "goods_received", "goods_returned")
# Recorded in the inbox, no hub effect (yet): listed so that "known" is written down.
RECORDED_ONLY = (
    "operator_logged_in", "operator_logged_out", "order_opened", "item_scanned",
    "scan_undone", "package_opened", "units_moved", "carton_chosen", "package_weighed",
    "weight_overridden", "label_queued", "label_reprinted",
    # Photos travel apart from events (the event names the JPEG by its SHA-256; the hub's
    # photos table keeps what it shows) and inspection notes change no stock until a
    # receipt is booked: their inbox row is the hub's whole record of them (KEPT_TYPES).
    "photo_taken", "inbound_inspected",
)  # fmt: skip
