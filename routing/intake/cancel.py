"""Cancellations from the channels: an order the channel cancelled is cancelled at the hub.

Parsers report a cancelled channel order as :class:`~routing.intake.model.Skipped` with
``cancelled=True`` (Shopify ``cancelled_at``, the ``orders/cancelled`` webhook included;
Amazon ``Canceled``; TikTok ``CANCELLED``; a CSV row with ``status`` ``cancelled``). When
the hub has that order, :func:`cancel_from_channel` cancels it and every part split off it
that is not packed yet (:func:`routing.parts.cancel_family`: reservations released,
``order_cancelled`` on the stream of each station holding one). A part already packed is
left alone and named in the outcome: it has to be stopped, or returned, by people.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from doms.db import transaction
from routing.intake.model import Skipped
from routing.intake.orders import Intake


def cancel_from_channel(
    db: sqlite_utils.Database, skipped: Iterable[Skipped]
) -> tuple[list[Intake], list[Skipped]]:
    """Cancel at the hub the orders among ``skipped`` that the channel cancelled and the
    hub has, in one transaction. Returns ``(outcomes, still skipped)``: an outcome's
    status is ``cancelled`` (now or before) or ``not_cancelled`` (already packed), its
    ``hold_reason`` naming the parts that could not be cancelled; a cancellation of an
    order the hub never took in stays a skip."""
    from routing.parts import cancel_family

    outcomes: list[Intake] = []
    rest: list[Skipped] = []
    with transaction(db):
        for skip in skipped:
            row = None
            if skip.cancelled:
                row = db.execute(
                    "SELECT order_id FROM channel_orders WHERE channel = ? "
                    "AND channel_order_id = ?",
                    [skip.channel, skip.channel_order_id],
                ).fetchone()
            if row is None:
                rest.append(skip)
                continue
            done = cancel_family(db, row[0], f"cancelled at {skip.channel}")
            late = [f"{oid} {what}" for oid, what in done.items() if what.startswith("packed")]
            status = "not_cancelled" if done[row[0]].startswith("packed") else "cancelled"
            outcomes.append(
                Intake(
                    row[0], skip.channel, skip.channel_order_id, status, "; ".join(late) or None
                )  # fmt: skip
            )
    return outcomes, rest
