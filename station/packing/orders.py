"""The order life cycle at the station: log in and out, the queue of orders to pack, and
opening (or resuming) one."""

from __future__ import annotations

from station.packing.base import ServiceBase
from station.packing.errors import Refused
from station.packing.model import OrderView
from station.packing.operators import Operator
from station.store.db import tx


class OrderQueue(ServiceBase):
    def log_in(self, operator: Operator) -> None:
        with tx(self.db):
            self._event("operator_logged_in", operator, role=operator.role)

    def log_out(self, operator: Operator, reason: str = "logout") -> None:
        with tx(self.db):
            self._event("operator_logged_out", operator, reason=reason)

    # -- the queue ----------------------------------------------------------------------
    def next_order(self) -> str | None:
        """The order to pack next: one already being packed, else by ship-by then priority."""
        row = self.db.execute(
            "SELECT order_id FROM orders WHERE status IN ('packing', 'assigned') "
            "ORDER BY status = 'packing' DESC, ship_by, priority DESC, assigned_at, order_id "
            "LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def queue_depth(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM orders WHERE status IN ('packing', 'assigned')"
        ).fetchone()[0]

    def find_order(self, code: str) -> str | None:
        """An order by its id, channel reference, tote or pick-list barcode."""
        code = code.strip()
        row = self.db.execute(
            "SELECT order_id FROM orders WHERE order_id = ?1 OR order_ref = ?1 OR tote = ?1 "
            "OR pick_list = ?1 ORDER BY status IN ('packing', 'assigned') DESC, ship_by LIMIT 1",
            [code],
        ).fetchone()
        return row[0] if row else None

    def open_order(self, order_id: str, operator: Operator) -> OrderView:
        """Start (or resume) packing ``order_id``. Raises Refused when it cannot be packed."""
        order = self.view(order_id)
        if order.status == "packed":
            raise Refused(f"Order {order.order_ref} is already packed.", kind="order_state")
        if order.status == "cancelled":
            raise Refused(
                f"Order {order.order_ref} was cancelled: put it aside.", kind="order_state"
            )
        if order.status == "on_hold":
            raise Refused(
                f"Order {order.order_ref} is on hold ({order.hold_reason}). Give it to your lead.",
                kind="order_state",
            )
        with tx(self.db):
            if order.status == "assigned":
                self.db.execute(
                    "UPDATE orders SET status = 'packing' WHERE order_id = ?", [order_id]
                )
            if not order.packages:
                self._insert_package(order_id, 1)
            self._event("order_opened", operator, order_id=order_id)
            # Left complete but not packed by an earlier version: packed now, not stuck
            # with nothing to weigh.
            self._finish_if_done(order_id, operator)
        return self.view(order_id)
