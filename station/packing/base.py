"""What every part of :class:`~station.packing.service.PackingService` shares: the station
database, its configuration, the ``_event`` helper that writes the outbox event of a change,
and loading an order. The capabilities (``orders``, ``scanning``, ``shorts``, ``packages``,
``weigh_label``) each build on this and are combined in ``service.py``.
"""

from __future__ import annotations

import sqlite_utils

from station.config import StationConfig
from station.packing.errors import Refused
from station.packing.model import OrderView, load_order
from station.packing.operators import Operator
from station.store.outbox import record_event


class ServiceBase:
    """The database, the configuration and the event helper, shared by every capability."""

    def __init__(self, db: sqlite_utils.Database, config: StationConfig) -> None:
        self.db = db
        self.config = config
        self.station_id = config.station_id

    # -- events -------------------------------------------------------------------------
    def _event(self, type_: str, operator: Operator | None, **payload: object) -> int:
        if operator is not None:
            payload["operator"] = operator.badge
        return record_event(self.db, self.station_id, type_, payload)

    def view(self, order_id: str) -> OrderView:
        order = load_order(self.db, order_id)
        if order is None:
            raise Refused(f"No order {order_id} at this station.", kind="unknown")
        return order

    def _insert_package(self, order_id: str, package_no: int) -> int:
        cur = self.db.execute(
            "INSERT INTO packages (order_id, package_no) VALUES (?, ?)", [order_id, package_no]
        )
        return int(cur.lastrowid)
