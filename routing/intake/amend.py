"""Partial cancellations: the channel removed units of some lines of an order the hub has.

A channel order comes again (Shopify ``orders/updated``, a re-import of a file) with fewer
units on a line, or a Shopify refund (``refunds/create``) takes units off lines before they
ship. :func:`reconcile` compares the channel's lines with those stored at intake
(``channel_orders.incoming``: lines matched by the channel's line id, else by their product
key, which is what stays when TikTok drops a cancelled unit's id) and the hub's order
ships fewer units:

* the units come off the order and the parts split off it that have not left the hub's
  hands: first the parts not routed yet (``new``, back-orders held at the hub: they
  reserve nothing), then those assigned to a station but not opened there (their
  reservation shrinks through :func:`routing.feed.settle_order`, and ``order_assigned``
  with the new lines goes to the station, which replaces an order it has not opened);
* a line at 0 is removed from the hub's order (its reservation released first); a part
  left with nothing to ship is cancelled (``order_cancelled`` to its station); every line
  of the channel order at 0 cancels the whole order, as a channel cancellation does;
* units a station is packing, holds, or has packed are not taken: the outcome names them
  (``line 2: 1 unit already at a station (SHP-1043: packing)``) for people to stop.

The comparison is with the stored channel lines, and the hub's units are brought down to
the channel's count (a difference of state, not of events), so the same delivery twice
changes nothing the second time. More units than before are added only for Shopify,
whose order edits add lines and units (:mod:`routing.intake.additions`); on the other
channels an increase is a new order, and the outcome says so. :func:`apply_change` applies
a change the channel announces by itself (Shopify ``orders/edited``, Amazon
``ORDER_CHANGE``), once per change id. A channel that sends whole orders (Shopify, Amazon,
TikTok) has a line it no longer lists at 0; a CSV re-import leaves a row it does not have
as it was (qty 0 cancels a line there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import msgspec
import sqlite_utils

from doms.db import now_iso, transaction
from routing import feed
from routing.intake.model import Change, IncomingOrder, Line
from routing.intake.orders import Intake, relink
from routing.store import station_key

# Channels whose re-sent order lists every line: a line missing from it has no units left.
_WHOLE_ORDERS = {"shopify", "amazon", "tiktok"}
# Channels whose orders may gain lines and units after intake (Shopify's order edits); on
# the others, more units than before are a mistake or a new order, and are not added.
_ADDS = {"shopify"}


def reconcile(db: sqlite_utils.Database, order_id: str, incoming: IncomingOrder) -> Intake:
    """Bring hub order ``order_id`` (taken in from ``incoming``'s channel order before)
    down to ``incoming``'s line quantities, in one transaction (and, for Shopify, whose
    order edits add lines and units, up: :mod:`routing.intake.additions`). Returns the
    outcome: ``duplicate`` when no line changed, ``amended`` (``hold_reason`` naming
    units too late to take back, why the channel removed units when it says, and
    increases not applied), or ``cancelled`` / ``not_cancelled`` when every line is at 0."""
    key = (incoming.channel, incoming.channel_order_id)
    with transaction(db):
        stored = _stored(db, order_id)
        wanted, notes = _compare(stored, incoming)
        added, new_lines = _increases(stored, incoming)
        if stored.channel not in _ADDS:
            notes += [
                f"line {n}: {stored.lines[n - 1].qty + more} units now, "
                f"{stored.lines[n - 1].qty} before: more units are not added "
                "(take them as a new order)"
                for n, more in sorted(added.items())
            ]
            added, new_lines = {}, []
        refunds = tuple(dict.fromkeys((*stored.refunds, *incoming.refunds)))
        updated = max(
            (t for t in (stored.updated_at, incoming.updated_at) if t is not None), default=None
        )
        if not wanted and not added and not new_lines:
            if refunds != stored.refunds or updated != stored.updated_at:
                view = msgspec.structs.replace(stored, updated_at=updated)
                _store(db, order_id, view, {}, refunds)
            return Intake(order_id, *key, "duplicate", "; ".join(notes) or None)
        stored = msgspec.structs.replace(stored, updated_at=updated)
        return _change(db, order_id, stored, wanted, added, new_lines, refunds, notes, key)


def apply_change(db: sqlite_utils.Database, change: Change) -> Intake | None:
    """Apply a channel's :class:`~routing.intake.model.Change` (a Shopify order edit, an
    Amazon ORDER_CHANGE) to the hub's order of that channel order, once per
    ``change_id``, in one transaction. Returns None when the hub does not have the order;
    else the outcome, as :func:`reconcile`'s. A change no newer than the channel's copy
    of the order the hub holds (``updated_at``: Shopify sends ``orders/updated`` for every
    edit too, in no set order) is already counted, and changes nothing."""
    row = db.execute(
        "SELECT order_id FROM channel_orders WHERE channel = ? AND channel_order_id = ?",
        [change.channel, change.channel_order_id],
    ).fetchone()
    if row is None:
        return None
    order_id = row[0]
    key = (change.channel, change.channel_order_id)
    with transaction(db):
        stored = _stored(db, order_id)
        if change.change_id in stored.refunds:
            return Intake(order_id, *key, "duplicate")
        refunds = (*stored.refunds, change.change_id)
        if stored.updated_at and change.at and change.at <= stored.updated_at:
            _store(db, order_id, stored, {}, refunds)
            return Intake(order_id, *key, "duplicate", "already counted in the order's copy")
        line_no = {line.line_id: n for n, line in enumerate(stored.lines, 1)}
        notes = [
            f"line item {lid}: not in the hub's copy of the order, {units} unit(s) not removed"
            for lid, units in sorted(change.removed.items())
            if lid not in line_no
        ]
        wanted = {
            line_no[lid]: max(0, stored.lines[line_no[lid] - 1].qty - units)
            for lid, units in change.removed.items()
            if lid in line_no and stored.lines[line_no[lid] - 1].qty
        }
        added = {line_no[lid]: units for lid, units in change.added.items() if lid in line_no}
        notes += [
            f"line item {lid}: {units} unit(s) added; the edit does not name the product, "
            "so it is taken in from the order's next orders/updated"
            for lid, units in sorted(change.added.items())
            if lid not in line_no
        ]
        for n in sorted(wanted):
            gone = stored.lines[n - 1].qty - wanted[n]
            if change.why:
                notes.append(
                    f"line {n}: {gone} unit{'' if gone == 1 else 's'} cancelled ({change.why})"
                )
        if change.why:
            stored = msgspec.structs.replace(
                stored,
                lines=tuple(
                    msgspec.structs.replace(line, removed_why=change.why) if n in wanted else line
                    for n, line in enumerate(stored.lines, 1)
                ),
            )
        if not wanted and not added:
            _store(db, order_id, stored, {}, refunds)
            return Intake(order_id, *key, "duplicate", "; ".join(notes) or None)
        return _change(db, order_id, stored, wanted, added, [], refunds, notes, key)


def remove_units(
    db: sqlite_utils.Database, order_id: str, units: dict[str, int], refund_id: str
) -> Intake:
    """Take ``units`` (``{channel line id: units}``) off hub order ``order_id``, once per
    ``refund_id`` (a Shopify refund: a refund already counted changes nothing)."""
    with transaction(db):
        stored = _stored(db, order_id)
        key = (stored.channel, stored.channel_order_id)
        if refund_id in stored.refunds:
            return Intake(order_id, *key, "duplicate")
        wanted = {
            n: max(0, line.qty - units[line.line_id])
            for n, line in enumerate(stored.lines, 1)
            if units.get(line.line_id) and line.qty
        }
        refunds = (*stored.refunds, refund_id)
        if not wanted:
            _store(db, order_id, stored, {}, refunds)
            return Intake(order_id, *key, "duplicate")
        return _change(db, order_id, stored, wanted, {}, [], refunds, [], key)


# -- comparing ------------------------------------------------------------------------------
def _stored(db: sqlite_utils.Database, order_id: str) -> IncomingOrder:
    raw = db.execute(
        "SELECT incoming FROM channel_orders WHERE order_id = ?", [order_id]
    ).fetchone()[0]
    return msgspec.json.decode(raw, type=IncomingOrder)


def _compare(stored: IncomingOrder, incoming: IncomingOrder) -> tuple[dict[int, int], list[str]]:
    """``({line_no: fewer units}, notes)``: the stored lines whose units went down."""
    wanted: dict[int, int] = {}
    notes: list[str] = []
    matched = _match(stored.lines, incoming.lines)
    for n, line in enumerate(stored.lines, 1):
        new = matched.get(n)
        gone = 0 if stored.channel in _WHOLE_ORDERS else line.qty
        qty = gone if new is None else new.qty
        if qty < line.qty:
            wanted[n] = qty
            why = new.removed_why if new is not None else ""
            if why:
                gone = line.qty - qty
                notes.append(f"line {n}: {gone} unit{'' if gone == 1 else 's'} cancelled ({why})")
    return wanted, notes


def _increases(stored: IncomingOrder, incoming: IncomingOrder) -> tuple[dict[int, int], list]:
    """``({line_no: more units}, [incoming lines the stored order does not have]``)."""
    matched = _match(stored.lines, incoming.lines)
    added = {
        n: matched[n].qty - line.qty
        for n, line in enumerate(stored.lines, 1)
        if n in matched and matched[n].qty > line.qty
    }
    known = {id(line) for line in matched.values()}
    return added, [line for line in incoming.lines if id(line) not in known and line.qty]


def _match(old: Iterable[Line], new: Iterable[Line]) -> dict[int, Line]:
    """``{stored line_no: incoming line}``: by the channel's line id, else by the main
    product key when one incoming line alone has it (TikTok's line id is its units' ids,
    which change when a unit is cancelled)."""
    old, new = list(old), list(new)
    by_id = {line.line_id: line for line in new}
    out: dict[int, Line] = {}
    used: set[int] = set()
    for n, line in enumerate(old, 1):
        if line.line_id in by_id:
            out[n] = by_id[line.line_id]
            used.add(id(by_id[line.line_id]))
    for n, line in enumerate(old, 1):
        if n in out:
            continue
        same = [x for x in new if x.key == line.key and id(x) not in used]
        if len(same) == 1:
            out[n] = same[0]
            used.add(id(same[0]))
    return out


# -- applying ---------------------------------------------------------------------------------
def _change(db, order_id, stored, wanted, added, new_lines, refunds, notes, key) -> Intake:
    """Units added first (so an edit that swaps every line for new ones is no
    cancellation), then units removed."""
    if added or new_lines:
        from routing.intake.additions import add_units

        stored, more = add_units(db, order_id, stored, added, new_lines, refunds)
        notes = notes + more
        if not wanted:
            return Intake(order_id, *key, "amended", "; ".join(notes) or None)
    return _apply(db, order_id, stored, wanted, refunds, notes, key)


def _apply(db, order_id, stored, wanted, refunds, notes, key) -> Intake:
    _store(db, order_id, stored, wanted, refunds)
    lines = [wanted.get(n, line.qty) for n, line in enumerate(stored.lines, 1)]
    reason = f"units removed at {stored.channel}"
    if not any(lines):
        from routing.parts import cancel_family

        done = cancel_family(db, order_id, f"cancelled at {stored.channel}")
        late = [f"{oid} {what}" for oid, what in done.items() if what.startswith("packed")]
        status = "not_cancelled" if done[order_id].startswith("packed") else "cancelled"
        return Intake(order_id, *key, status, "; ".join(late) or None)
    status, unlinked = db.execute(
        "SELECT o.status, c.unlinked FROM orders o JOIN channel_orders c USING (order_id) "
        "WHERE o.order_id = ?",
        [order_id],
    ).fetchone()
    if status == "on_hold" and unlinked:
        relink(db, order_id)  # a removed line may be the one that was not linked
    else:
        notes = _reduce_family(db, order_id, wanted, reason) + notes
    return Intake(order_id, *key, "amended", "; ".join(notes) or None)


def _store(db, order_id: str, stored: IncomingOrder, wanted: dict[int, int], refunds) -> None:
    """Record the channel's new view: its line quantities and the refunds counted."""
    lines = tuple(
        msgspec.structs.replace(line, qty=wanted[n]) if n in wanted else line
        for n, line in enumerate(stored.lines, 1)
    )
    view = msgspec.structs.replace(stored, lines=lines, refunds=tuple(refunds))
    db.execute(
        "UPDATE channel_orders SET incoming = ? WHERE order_id = ?",
        [msgspec.json.encode(view).decode(), order_id],
    )
    for n, qty in wanted.items():
        if qty:
            db.execute(
                "UPDATE channel_order_lines SET qty = ? WHERE order_id = ? AND line_no = ?",
                [qty, order_id, n],
            )
        else:
            db.execute(
                "DELETE FROM channel_order_lines WHERE order_id = ? AND line_no = ?",
                [order_id, n],
            )


def _reduce_family(db, order_id: str, wanted: dict[int, int], reason: str) -> list[str]:
    """Take units off the order and its parts until each line in ``wanted`` ships no
    more than that; return notes on units that could not be taken back."""
    from routing.parts import family

    members = family(db, order_id)
    rows = db.execute(
        "SELECT o.order_id, o.status, o.station, l.line_no, l.sku, l.qty, l.qty_short "
        "FROM orders o JOIN order_lines l USING (order_id) "
        "WHERE o.order_id IN (SELECT value FROM json_each(?))",
        [json.dumps(members)],
    ).fetchall()
    status = {oid: (st, station) for oid, st, station, *_ in rows}
    lines: dict[str, dict[int, list]] = {}
    for oid, _, _, line_no, sku, qty, short in rows:
        lines.setdefault(oid, {})[line_no] = [sku, qty, short]
    # Which parts may lose units, best first: not routed (nothing reserved, nobody told),
    # then assigned and not opened (the station replaces its copy). Deepest parts first:
    # back-orders and the last splits are the units furthest from leaving.
    free = [m for m in reversed(members) if m in status and _unrouted(*status[m])]
    assigned = [m for m in reversed(members) if m in status and status[m][0] == "assigned"]
    notes: list[str] = []
    changed: dict[str, dict[int, int]] = {}
    for line_no, want in sorted(wanted.items()):
        ships = sum(
            ln[line_no][1] - ln[line_no][2]
            for oid, ln in lines.items()
            if line_no in ln and status[oid][0] != "cancelled"
        )
        extra = ships - want
        for member in free + assigned:
            if extra <= 0:
                break
            line = lines[member].get(line_no)
            if line is None:
                continue
            qty = changed.get(member, {}).get(line_no, line[1])
            take = min(extra, qty - line[2])
            if take > 0:
                changed.setdefault(member, {})[line_no] = qty - take
                extra -= take
        if extra > 0:
            where = ", ".join(
                f"{oid}: {status[oid][0]}"
                for oid, ln in lines.items()
                if line_no in ln and status[oid][0] not in ("cancelled",)
                and oid not in free and oid not in assigned
            )  # fmt: skip
            notes.append(
                f"line {line_no}: {extra} unit{'' if extra == 1 else 's'} already at a "
                f"station ({where})"
            )
    at = now_iso()
    for member, new in changed.items():
        _shrink(db, member, lines[member], new, status[member], reason, at)
    return notes


def _unrouted(status: str, station: str | None) -> bool:
    return station is None and status in ("new", "on_hold")


def _shrink(db, order_id: str, lines: dict[int, list], new: dict[int, int], where, reason, at):
    """Give part ``order_id`` the quantities ``new`` (``{line_no: qty}``, 0 = gone)."""
    status, station = where
    left = {n: new.get(n, qty) - short for n, (_, qty, short) in lines.items()}
    if not any(left.values()):
        feed.cancel_order(db, order_id, reason)  # releases every line still reserved
        return
    reserved = status == "assigned"
    ref = f"amend:{order_id}#{_amendments(db, order_id) + 1}"
    for line_no, qty in new.items():
        sku, _, short = lines[line_no]
        if qty > 0 or short:
            db.execute(
                "UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ?",
                [max(qty, short), order_id, line_no],
            )
            continue
        if reserved:
            _release_line(db, order_id, line_no, sku, f"{ref}/{line_no}", at)
        db.execute(
            "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?", [order_id, line_no]
        )
    if reserved:
        # settle_order derives every line's reservation from its quantity: the shrunk
        # lines give back their units; stock levels go to the site's stations.
        feed.settle_order(db, order_id, ref, at)
        feed.append_change(
            db, station_key(station), "order_assigned", feed.order_payload(db, order_id)
        )


def _amendments(db, order_id: str) -> int:
    # Each amendment of a reserved part moves its ledger; their count makes refs unique.
    return db.execute(
        "SELECT count(*) FROM ledger WHERE order_id = ? AND ref LIKE 'amend:%'", [order_id]
    ).fetchone()[0]


def _release_line(db, order_id: str, line_no: int, sku: str, ref: str, at: str) -> None:
    # settle_order only sees lines that exist: a line about to be removed gives its
    # reservation back here, as the movement settle_order would have written.
    site, held = db.execute(
        "SELECT o.site, coalesce(sum(l.qty), 0) FROM orders o LEFT JOIN ledger l "
        "ON l.order_id = o.order_id AND l.line_no = ? AND l.kind = 'reservation' "
        "WHERE o.order_id = ?",
        [line_no, order_id],
    ).fetchone()
    if held:
        db.execute(
            "INSERT INTO ledger (site, sku, qty, kind, ref, order_id, line_no, at) "
            "VALUES (?, ?, ?, 'reservation', ?, ?, ?, ?)",
            [site, sku, -held, ref, order_id, line_no, at],
        )
        feed.publish_stock(db, site, [sku])
