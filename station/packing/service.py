"""Packing, as the station does it: every call is one transaction of state change + event.

``PackingService`` is what the screens call. Each method either changes the database and
writes the matching outbox event in one ``db.atomic()`` block and returns what happened,
or changes nothing and raises :class:`Refused` with words for the packer. Nothing here
waits on a device or the network: a confirmed scan is on disk when the call returns.
"""

from station.packing.orders import OrderQueue
from station.packing.scanning import Scanning, ScanOutcome
from station.packing.shorts import SHORT_REASONS, Shorts
from station.packing.weigh_label import WeighAndLabel, WeighOutcome

__all__ = ["SHORT_REASONS", "PackingService", "ScanOutcome", "WeighOutcome"]


class PackingService(OrderQueue, Scanning, Shorts, WeighAndLabel):
    """One service, composed by capability; each part shares the database and ``_event``
    through :class:`~station.packing.base.ServiceBase`:

    - ``orders``: log in/out, the queue, opening an order
    - ``scanning``: matching and checking scans, undo
    - ``shorts``: short lines and holds
    - ``packages``: packages, moving units, cartons, expected weight
    - ``weigh_label``: weighing, overrides, labels, packing the order, reprint and void
    """
