"""Order intake: every sales channel's orders, normalised, linked to our SKUs, stored once.

One module per channel turns its own JSON or CSV into :class:`IncomingOrder`
(``shopify``, ``amazon``, ``tiktok``, ``csvfile``; ``formats`` tells them apart).
``skumap`` links channel product keys to SKUs; ``orders`` stores incoming orders
idempotently (``new``, or ``on_hold`` with a reason when a product is not linked);
``queue`` is where the hub takes ``new`` orders to route and hands back its plan;
``watch`` and ``webhook`` bring files and Shopify deliveries in. README.md beside this
file is the operator's guide (the CSV's columns included).
"""

from routing.intake.model import (
    CHANNELS,
    Address,
    IncomingOrder,
    IntakeError,
    Line,
    ProductKey,
    Skipped,
    Totals,
)
from routing.intake.orders import Intake, Report, import_bytes, release_held, take_in
from routing.intake.queue import Part, hold_order, mark_routed, new_orders, requeue_order
from routing.intake.skumap import import_mapping_csv, map_sku

__all__ = [
    "CHANNELS", "Address", "IncomingOrder", "Intake", "IntakeError", "Line", "Part",
    "ProductKey", "Report", "Skipped", "Totals", "hold_order", "import_bytes",
    "import_mapping_csv", "map_sku", "mark_routed", "new_orders", "release_held",
    "requeue_order", "take_in",
]  # fmt: skip
