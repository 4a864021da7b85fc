"""Order intake: every sales channel's orders, normalised, linked to our SKUs, stored once.

One module per channel turns its own JSON or CSV into :class:`IncomingOrder`
(``shopify``, ``amazon``, ``tiktok``, ``csvfile``; ``formats`` tells them apart).
``skumap`` links channel product keys to SKUs; ``orders`` stores incoming orders
idempotently (``new``, or ``on_hold`` with a reason when a product is not linked);
``cancel`` and ``amend`` carry the channel's cancellations, whole or of some units;
``queue`` is where the hub takes ``new`` orders to route and hands back its plan;
``watch`` and ``webhook`` bring files and Shopify deliveries in. README.md beside this
file is the operator's guide (the CSV's columns included).
"""

import importlib
from typing import Any

# Loaded on first use: `doms --help` and `doms station` build the hub's parsers too, and
# must not pay for sqlite-utils (and what it pulls in) there.
_WHERE = {
    "CHANNELS": "model", "Address": "model", "IncomingOrder": "model",
    "IntakeError": "model", "Line": "model", "ProductKey": "model", "Skipped": "model",
    "Totals": "model", "Intake": "orders", "Report": "orders", "import_bytes": "orders",
    "release_held": "orders", "take_in": "orders", "Part": "queue", "hold_order": "queue",
    "mark_routed": "queue", "new_orders": "queue", "requeue_order": "queue",
    "import_mapping_csv": "skumap", "map_sku": "skumap",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'routing.intake' has no attribute {name!r}")
    return getattr(importlib.import_module(f"routing.intake.{_WHERE[name]}"), name)


__all__ = [
    "CHANNELS", "Address", "IncomingOrder", "Intake", "IntakeError", "Line", "Part",
    "ProductKey", "Report", "Skipped", "Totals", "hold_order", "import_bytes",
    "import_mapping_csv", "map_sku", "mark_routed", "new_orders", "release_held",
    "requeue_order", "take_in",
]  # fmt: skip
