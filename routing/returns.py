"""Customer returns: what came back, per order line, for the channel's refund.

A station's dock receives a return against the order its slip names and sends one
``goods_returned`` event; :mod:`routing.apply` checks it against what the order shipped
(:func:`returnable`), books the units into the ledger and writes one ``returns`` row per
order line (:func:`add_rows`). :func:`list_returns` is what ``doms hub returns`` prints:
the rows with the channel order they refund, for a person or an uploader to tell the
channel.

Only packed (shipped) orders take returns, and a line takes back at most what it shipped
(ordered less short) less what earlier returns brought back: a second parcel of the same
order is booked, a return counted twice is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from routing.shipconfirm import parse_since


@dataclass(frozen=True, slots=True)
class Returnable:
    """One order line: what it shipped and what has come back already."""

    order_id: str
    line_no: int
    sku: str
    shipped: int
    returned: int

    @property
    def left(self) -> int:
        return max(self.shipped - self.returned, 0)


def returnable(db: sqlite_utils.Database, order_ids: list[str]) -> list[Returnable]:
    """The lines of the orders, by order then line; ``shipped`` is 0 unless packed."""
    rows = db.execute(
        "SELECT l.order_id, l.line_no, l.sku, CASE WHEN o.status = 'packed' "
        "THEN l.qty - l.qty_short ELSE 0 END, (SELECT coalesce(sum(r.qty_returned), 0) "
        "FROM returns r WHERE r.order_id = l.order_id AND r.line_no = l.line_no) "
        "FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
        "WHERE l.order_id IN (SELECT value FROM json_each(?)) ORDER BY l.order_id, l.line_no",
        [json.dumps(order_ids)],
    ).fetchall()
    return [Returnable(*r) for r in rows]


def orders_of(db: sqlite_utils.Database, data: dict[str, Any]) -> list[str]:
    """The orders a ``goods_returned`` names: its ``order_id``, or every packed order
    (a channel order and the parts split off it) with its ``order_ref``."""
    if data.get("order_id"):
        return [data["order_id"]]
    rows = db.execute(
        "SELECT order_id FROM orders WHERE order_ref = ? AND status = 'packed' ORDER BY order_id",
        [data["order_ref"]],
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True, slots=True)
class ReturnLine:
    order_id: str
    line_no: int
    sku: str
    qty_returned: int
    qty_damaged: int


def add_rows(
    db: sqlite_utils.Database,
    station: str,
    seq: int,
    site: str,
    lines: list[ReturnLine],
    operator: str | None,
    at: str,
) -> None:
    """One ``returns`` row per line, in the caller's transaction. Raises
    sqlite3.IntegrityError when the event's rows are there already."""
    db.conn.executemany(
        "INSERT INTO returns (station, seq, order_id, line_no, sku, qty_returned, "
        "qty_damaged, site, operator, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [station, seq, ln.order_id, ln.line_no, ln.sku, ln.qty_returned, ln.qty_damaged,
             site, operator, at]
            for ln in lines
        ],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Return:
    """One ``goods_returned`` as booked: the order, the channel order it refunds."""

    station: str
    seq: int
    order_id: str  # of its first line (a return by reference may span parts)
    channel: str
    channel_order_id: str | None  # None: the order came in by no channel intake
    site: str
    operator: str | None
    at: str
    lines: list[ReturnLine]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# A part's parent chain is walked up to the order intake stored (order_parts), whose
# channel row names the order the channel must refund.
_RETURNS = """
WITH RECURSIVE up(order_id, root) AS (
    SELECT DISTINCT order_id, order_id FROM returns WHERE at >= ?1
    UNION ALL
    SELECT up.order_id, p.parent_order_id FROM up JOIN order_parts p ON p.order_id = up.root
)
SELECT r.station, r.seq, r.order_id, o.channel, c.channel_order_id, r.site, r.operator,
       r.at, r.order_id, r.line_no, r.sku, r.qty_returned, r.qty_damaged
FROM returns r
JOIN orders o ON o.order_id = r.order_id
LEFT JOIN (SELECT up.order_id, c.channel_order_id FROM up
           JOIN channel_orders c ON c.order_id = up.root) c ON c.order_id = r.order_id
WHERE r.at >= ?1
ORDER BY r.at, r.station, r.seq, r.order_id, r.line_no
"""


def list_returns(db: sqlite_utils.Database, since: str = "") -> list[Return]:
    """Every return booked at or after ``since`` (ISO time; '' for all), oldest first."""
    out: dict[tuple[str, int], Return] = {}
    for row in db.execute(_RETURNS, [since]).fetchall():
        station, seq, order_id, channel, channel_order_id, site, operator, at = row[:8]
        ret = out.get((station, seq))
        if ret is None:
            ret = out[(station, seq)] = Return(
                station, seq, order_id, channel, channel_order_id, site, operator, at, []
            )
        ret.lines.append(ReturnLine(*row[8:]))
    return list(out.values())


def since_iso(text: str) -> str:
    """``text`` (an ISO date or time, naive: UTC) in the hub's time format, to compare
    with ``returns.at``. Raises ValueError for anything else."""
    when = parse_since(text).astimezone(dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(returns: list[Return]) -> str:
    """One text line per returned order line, under a header."""
    if not returns:
        return "no returns\n"
    rows = [
        f"{'when':24} {'station':12} {'order':14} {'channel order':18} {'line':>4} "
        f"{'sku':14} {'qty':>4} {'damaged':>7}"
    ]
    for r in returns:
        for ln in r.lines:
            rows.append(
                f"{r.at:24} {r.station:12} {r.order_id:14} {r.channel_order_id or '-':18} "
                f"{ln.line_no:>4} {ln.sku:14} {ln.qty_returned:>4} {ln.qty_damaged:>7}"
            )
    units = sum(ln.qty_returned for r in returns for ln in r.lines)
    damaged = sum(ln.qty_damaged for r in returns for ln in r.lines)
    rows.append(f"{len(returns)} return(s), {units} unit(s), {damaged} damaged")
    return "\n".join(rows) + "\n"
