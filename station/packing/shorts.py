"""Lines that cannot be filled: mark units short, then hold the order for a lead or ship
what is there, as the station's short policy says."""

from __future__ import annotations

from station.packing.base import ServiceBase
from station.packing.errors import Refused
from station.packing.model import OrderView
from station.packing.operators import Operator
from station.store.db import tx

SHORT_REASONS = ("missing", "damaged", "wrong_item_picked", "other")


class Shorts(ServiceBase):
    def short_line(
        self,
        order_id: str,
        line_id: int,
        reason: str,
        operator: Operator,
        qty: int | None = None,
    ) -> OrderView:
        """Mark ``qty`` (default: all still missing) of a line short, then apply the policy.

        With policy ``hold`` the order goes on hold for a lead; with ``ship_partial`` it
        goes on with what is there (or on hold if nothing at all can ship).
        """
        if reason not in SHORT_REASONS:
            raise Refused(f"Short reason must be one of {', '.join(SHORT_REASONS)}.", kind="short")
        order = self.view(order_id)
        line = order.line(line_id)
        qty = line.remaining if qty is None else qty
        if qty < 1 or qty > line.remaining:
            raise Refused(
                f"{line.name}: {line.remaining} can be marked short, not {qty}.", kind="short"
            )
        with tx(self.db):
            self.db.execute(
                "UPDATE order_lines SET qty_short = qty_short + ?, short_reason = ? "
                "WHERE line_id = ?",
                [qty, reason, line_id],
            )
            self._event(
                "line_short",
                operator,
                order_id=order_id,
                line_no=line.line_no,
                sku=line.sku,
                qty=qty,
                reason=reason,
            )
            # Nothing scanned and nothing left to scan: there is no parcel to ship.
            left = sum(ln.remaining for ln in order.lines) - qty
            nothing_to_ship = order.units_scanned == 0 and left == 0
            if self.config.packing.short_policy == "hold" or nothing_to_ship:
                why = f"short: {line.sku} x{qty} {reason}"
                self.db.execute(
                    "UPDATE orders SET status = 'on_hold', hold_reason = ? WHERE order_id = ?",
                    [why, order_id],
                )
                self._event("order_held", operator, order_id=order_id, reason=why)
            else:
                # The last missing units marked short while every parcel is labelled.
                self._finish_if_done(order_id, operator)
        return self.view(order_id)
