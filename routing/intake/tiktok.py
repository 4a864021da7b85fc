"""TikTok Shop: the Get Order Detail response (Open API v202309 and later).

Accepted shapes: the API response ``{"code": 0, "data": {"orders": [...]}}``, a list of
order objects, or one order object. Fields used: ``id``, ``status``, ``create_time``,
``rts_sla_time`` (ship-by; else ``shipping_due_time``), ``delivery_sla_time`` /
``delivery_due_time`` (promise), ``fulfillment_type``, ``delivery_option_name``,
``payment`` (``currency``, ``sub_total``, ``shipping_fee``, ``tax``, ``seller_discount``,
``platform_discount``, ``total_amount``), ``recipient_address`` (``name``,
``phone_number``, ``address_line1..4``, ``address_detail``, ``postal_code``,
``region_code`` and ``district_info[]``: ``address_level`` L0 country .. L3 city, each
with ``address_level_name`` and ``address_name``) and ``line_items[]`` (``id``,
``sku_id``, ``seller_sku``, ``product_name``, ``sku_name``, ``sale_price``,
``display_status``). Times are Unix seconds.

In v202309 a line item is one unit: items with the same ``sku_id`` become one line whose
quantity is their count (a ``quantity`` field, where a version sends one, is honoured).
Cancelled items are left out. The state comes from ``district_info`` as a name and is
turned into its code where carriers use codes ("California" -> "CA").

Skipped, not refused: orders TikTok fulfils (``FULFILLMENT_BY_TIKTOK``) and any status but
``AWAITING_SHIPMENT`` / ``PARTIALLY_SHIPPING`` (``ON_HOLD`` is the buyer's cancellation
window: import it again once it is ``AWAITING_SHIPMENT``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from routing.intake.model import (
    Address,
    IncomingOrder,
    IntakeError,
    Line,
    Parsed,
    ProductKey,
    Skipped,
    Totals,
    checked,
    country_code,
    default_ship_by,
    from_unix,
    region_code,
    text,
)


class _District(msgspec.Struct):
    address_level: str = ""
    address_level_name: str = ""
    address_name: str = ""


class _Recipient(msgspec.Struct):
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    address_line4: str = ""
    address_detail: str = ""
    postal_code: str = ""
    region_code: str = ""
    district_info: list[_District] = []


class _Item(msgspec.Struct):
    id: str
    sku_id: str
    seller_sku: str = ""
    product_name: str = ""
    sku_name: str = ""
    sale_price: Decimal | None = None
    display_status: str = ""
    quantity: int = 1


class _Payment(msgspec.Struct):
    currency: str = ""
    sub_total: Decimal | None = None
    shipping_fee: Decimal | None = None
    tax: Decimal | None = None
    seller_discount: Decimal | None = None
    platform_discount: Decimal | None = None
    total_amount: Decimal | None = None


class _Order(msgspec.Struct):
    id: str
    status: str
    create_time: int
    recipient_address: _Recipient
    line_items: list[_Item]
    rts_sla_time: int | None = None
    shipping_due_time: int | None = None
    delivery_sla_time: int | None = None
    delivery_due_time: int | None = None
    fulfillment_type: str = "FULFILLMENT_BY_SELLER"
    delivery_option_name: str = ""
    payment: _Payment | None = None


_OURS = {"AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"}
_GONE = {"CANCELLED"}  # item display statuses left out
_CITY_LEVELS = {"city", "post town", "town", "locality"}
_REGION_LEVELS = {"state", "province", "region"}


def _orders(data: Any) -> list | None:
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"].get("orders")
    if isinstance(data, dict):
        data = [data]
    if (
        isinstance(data, list)
        and data
        and all(
            isinstance(o, dict) and "recipient_address" in o and "line_items" in o for o in data
        )
    ):
        return data
    return None


def is_tiktok(data: Any) -> bool:
    """Whether ``data`` looks like TikTok Shop order detail."""
    return _orders(data) is not None


def parse(data: Any) -> Parsed:
    """TikTok Shop order detail (decoded JSON) -> orders and skips. Raises IntakeError."""
    if isinstance(data, dict) and data.get("code") not in (None, 0):
        raise IntakeError(f"tiktok: the API answered code {data['code']}: {data.get('message')}")
    orders = _orders(data)
    if orders is None:
        raise IntakeError("tiktok: expected order detail with recipient_address and line_items")
    return [_parse_one(o) for o in orders]


def _parse_one(body: dict) -> IncomingOrder | Skipped:
    where = f"tiktok order {body.get('id', '?')}"
    try:
        order = msgspec.convert(body, _Order)
    except msgspec.ValidationError as exc:
        raise IntakeError(f"{where}: {exc}") from None
    if order.fulfillment_type == "FULFILLMENT_BY_TIKTOK":
        return Skipped("tiktok", order.id, "is fulfilled by TikTok")
    if order.status not in _OURS:
        hint = " (import it again once AWAITING_SHIPMENT)" if order.status == "ON_HOLD" else ""
        cancelled = order.status == "CANCELLED"
        return Skipped("tiktok", order.id, f"is {order.status}{hint}", cancelled)
    grouped: dict[str, list[_Item]] = {}
    for item in order.line_items:
        if item.display_status not in _GONE:
            grouped.setdefault(item.sku_id, []).append(item)
    if not grouped:
        return Skipped("tiktok", order.id, "has no item left to ship")
    lines = []
    for sku_id, items in grouped.items():
        first = items[0]
        keys = [ProductKey("sku_id", sku_id)]
        if text(first.seller_sku):
            keys.append(ProductKey("seller_sku", text(first.seller_sku)))
        title = " - ".join(p for p in (first.product_name, first.sku_name) if text(p))
        lines.append(
            Line(line_id=",".join(i.id for i in items), keys=tuple(keys),
                 qty=sum(i.quantity for i in items), unit_price=first.sale_price, title=title)
        )  # fmt: skip
    placed = from_unix(order.create_time)
    if placed is None:
        raise IntakeError(f"{where}: no create_time")
    ship_by = from_unix(order.rts_sla_time or order.shipping_due_time)
    pay = order.payment or _Payment()
    discounts = [d for d in (pay.seller_discount, pay.platform_discount) if d is not None]
    return checked(
        IncomingOrder(
            channel="tiktok",
            channel_order_id=order.id,
            order_ref=order.id,
            placed_at=placed,
            ship_by=ship_by or default_ship_by(placed),
            deliver_by=from_unix(order.delivery_sla_time or order.delivery_due_time),
            ship_to=_address(where, order.recipient_address),
            lines=tuple(lines),
            currency=pay.currency,
            totals=Totals(
                subtotal=pay.sub_total,
                shipping=pay.shipping_fee,
                tax=pay.tax,
                discount=sum(discounts, Decimal(0)) if discounts else None,
                total=pay.total_amount,
            ),
            priority=1 if "express" in order.delivery_option_name.casefold() else 0,
            service=order.delivery_option_name,
        )
    )


def _address(where: str, r: _Recipient) -> Address:
    levels = {d.address_level.upper(): d.address_name for d in r.district_info}
    country = country_code(r.region_code or levels.get("L0", ""), f"{where}: region_code")
    city = _level(r, _CITY_LEVELS) or levels.get("L3", "")
    region = levels.get("L1") or _level(r, _REGION_LEVELS)
    lines = [text(x) for x in (r.address_line1, r.address_line2, r.address_line3,
                               r.address_line4, r.address_detail)]  # fmt: skip
    lines = list(dict.fromkeys(x for x in lines if x))  # detail often repeats a line
    name = text(r.name) or " ".join(p for p in (text(r.first_name), text(r.last_name)) if p)
    return Address(
        name=name,
        street1=lines[0] if lines else "",
        street2=", ".join(lines[1:]),
        city=text(city),
        region=region_code(country, region),
        postal_code=text(r.postal_code),
        country=country,
        phone=text(r.phone_number),
    )


def _level(r: _Recipient, names: set[str]) -> str:
    return next((d.address_name for d in r.district_info
                 if d.address_level_name.casefold() in names), "")  # fmt: skip
