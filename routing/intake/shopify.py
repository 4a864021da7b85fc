"""Shopify: the REST Admin API order (the ``orders/create`` webhook body) and its signature.

Accepted shapes: the webhook body (one order object), ``{"order": {...}}`` (GET
``orders/{id}.json``) and ``{"orders": [...]}`` (GET ``orders.json``). Fields used:
``id`` (the channel order id), ``name`` ("#1043", the reference people use),
``created_at``, ``currency``, ``cancelled_at``, ``shipping_address`` (``name`` or
``first_name``/``last_name``, ``company``, ``address1``, ``address2``, ``city``,
``province_code``/``province``, ``zip``, ``country_code``, ``phone``, ``latitude``/
``longitude``: Shopify's geocode, kept as ``lat``/``lon``), ``shipping_lines``
(title, price), money totals, ``line_items[]`` (``id``, ``variant_id``, ``sku``,
``quantity``, ``current_quantity``, ``price``, ``title``, ``requires_shipping``) and
``refunds[].refund_line_items``. Lines that need no shipping (gift cards, digital goods)
are left out; an order with none left is skipped. A line's quantity is what is left to
ship: ``current_quantity`` (REST 2024-01 and later: units removed by refunds and edits
are gone from it) with returned units (``restock_type`` ``return``: shipped, not
cancelled) added back, else ``quantity`` less the units refunded other than as returns; 0
when every unit was removed, and an order with every line at 0 is a cancellation.
Shopify has no ship-by date: it is placed + one business day.

:func:`parse_refund` reads the ``refunds/create`` body: the units each line lost.
:func:`parse_edit` reads the ``orders/edited`` body (``{"order_edit": {...}}``): the edit's
``id``, ``order_id``, ``committed_at`` (REST 2024-07 on; else ``created_at``) and
``line_items.additions`` / ``.removals``, each ``{"id": line item id, "delta": units}``.
It names line items, not products: a line item the edit added is only known by id until
the order's own ``orders/updated`` body (which Shopify sends for every edit) lists it.

:func:`verify_hmac` checks ``X-Shopify-Hmac-Sha256``: the base64 HMAC-SHA256 of the raw
request body keyed with the app's client secret, compared in constant time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import msgspec

from routing.intake.model import (
    Address,
    Change,
    IncomingOrder,
    IntakeError,
    Line,
    Parsed,
    ProductKey,
    Skipped,
    Totals,
    checked,
    coordinates,
    country_code,
    default_ship_by,
    region_code,
    text,
    utc,
)


class _Address(msgspec.Struct):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class _LineItem(msgspec.Struct):
    id: int
    quantity: int
    current_quantity: int | None = None  # REST 2024-01 on: quantity less units removed
    variant_id: int | None = None
    sku: str | None = None
    price: Decimal | None = None
    title: str = ""
    name: str | None = None
    requires_shipping: bool = True


class _RefundLineItem(msgspec.Struct):
    line_item_id: int
    quantity: int
    restock_type: str = ""


class _Refund(msgspec.Struct):
    id: int
    refund_line_items: list[_RefundLineItem] = []
    order_id: int | None = None


class _ShippingLine(msgspec.Struct):
    title: str = ""
    price: Decimal | None = None


class _Order(msgspec.Struct):
    id: int
    name: str
    created_at: dt.datetime
    line_items: list[_LineItem]
    currency: str = ""
    cancelled_at: dt.datetime | None = None
    shipping_address: _Address | None = None
    shipping_lines: list[_ShippingLine] = []
    phone: str | None = None
    subtotal_price: Decimal | None = None
    total_tax: Decimal | None = None
    total_discounts: Decimal | None = None
    total_price: Decimal | None = None
    refunds: list[_Refund] = []
    updated_at: dt.datetime | None = None


class _Delta(msgspec.Struct):
    id: int
    delta: int


class _EditLines(msgspec.Struct, frozen=True):
    additions: list[_Delta] = []
    removals: list[_Delta] = []


class _Edit(msgspec.Struct):
    id: int
    order_id: int
    created_at: dt.datetime | None = None
    committed_at: dt.datetime | None = None
    line_items: _EditLines = _EditLines()
    staff_note: str | None = None


# A refund of units already shipped (a return) is money back, not fewer units to ship.
_RETURN = "return"


class Refund(msgspec.Struct, frozen=True):
    """A Shopify refund (the ``refunds/create`` webhook body): ``units`` removed per
    channel line id. Returns of shipped units are not counted: they change no shipment."""

    channel_order_id: str
    refund_id: str
    units: dict[str, int]


def parse_refund(data: Any) -> Refund:
    """The ``refunds/create`` body (a refund object with ``order_id``) -> :class:`Refund`.
    Raises IntakeError."""
    try:
        refund = msgspec.convert(data, _Refund)
    except msgspec.ValidationError as exc:
        raise IntakeError(f"shopify refund: {exc}") from None
    if refund.order_id is None:
        raise IntakeError(f"shopify refund {refund.id}: no order_id")
    units: dict[str, int] = {}
    for item in refund.refund_line_items:
        if item.restock_type != _RETURN and item.quantity > 0:
            key = str(item.line_item_id)
            units[key] = units.get(key, 0) + item.quantity
    return Refund(str(refund.order_id), str(refund.id), units)


def is_order_edit(data: Any) -> bool:
    """Whether ``data`` is an ``orders/edited`` body."""
    return isinstance(data, dict) and isinstance(data.get("order_edit"), dict)


def parse_edit(data: Any) -> Change:
    """The ``orders/edited`` body -> :class:`Change` (units per line item id). Raises
    IntakeError."""
    body = data.get("order_edit") if isinstance(data, dict) else None
    try:
        edit = msgspec.convert(body, _Edit)
    except msgspec.ValidationError as exc:
        raise IntakeError(f"shopify order edit: {exc}") from None

    def units(deltas: list[_Delta]) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in deltas:
            if d.delta < 0:
                raise IntakeError(f"shopify order edit {edit.id}: line item {d.id} delta < 0")
            if d.delta:
                out[str(d.id)] = out.get(str(d.id), 0) + d.delta
        return out

    at = edit.committed_at or edit.created_at
    return Change(
        channel="shopify", channel_order_id=str(edit.order_id), change_id=f"edit:{edit.id}",
        at=utc(at) if at else None, removed=units(edit.line_items.removals),
        added=units(edit.line_items.additions), why="order edited",
    )  # fmt: skip


def is_shopify(data: Any) -> bool:
    """Whether ``data`` looks like a Shopify order, or a list or wrapper of them."""
    if isinstance(data, dict):
        if isinstance(data.get("order"), dict):
            data = data["order"]
        elif isinstance(data.get("orders"), list):
            return bool(data["orders"]) and all(is_shopify(o) for o in data["orders"])
        return "line_items" in data and "id" in data and "recipient_address" not in data
    return False


def parse(data: Any) -> Parsed:
    """Shopify order JSON (decoded) -> orders and skips. Raises IntakeError."""
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        bodies = data["orders"]
    elif isinstance(data, dict) and isinstance(data.get("order"), dict):
        bodies = [data["order"]]
    else:
        bodies = [data]
    return [_parse_one(body) for body in bodies]


def _parse_one(body: Any) -> IncomingOrder | Skipped:
    ref = body.get("name") or body.get("id") if isinstance(body, dict) else None
    try:
        order = msgspec.convert(body, _Order)
    except msgspec.ValidationError as exc:
        raise IntakeError(f"shopify order {ref or '?'}: {exc}") from None
    order_id = str(order.id)
    if order.cancelled_at is not None:
        return Skipped("shopify", order_id, f"{order.name} is cancelled", cancelled=True)
    items = [item for item in order.line_items if item.requires_shipping]
    if not items:
        return Skipped("shopify", order_id, f"{order.name} has nothing to ship")
    refunded: dict[int, int] = {}
    returned: dict[int, int] = {}
    for refund in order.refunds:
        for r in refund.refund_line_items:
            into = returned if r.restock_type == _RETURN else refunded
            into[r.line_item_id] = into.get(r.line_item_id, 0) + r.quantity

    def current(item: _LineItem) -> int:
        # Shopify's own count when the API version has it (it knows order edits too),
        # with returned units added back: they were shipped, not cancelled. Before
        # 2024-01, the quantity less what refunds removed.
        if item.current_quantity is not None:
            back = item.current_quantity + returned.get(item.id, 0)
            return max(0, min(item.quantity, back))
        return max(0, item.quantity - refunded.get(item.id, 0))

    if not any(current(item) for item in items):
        return Skipped(
            "shopify", order_id, f"{order.name}: every line removed or refunded", cancelled=True
        )
    if order.shipping_address is None:
        raise IntakeError(f"shopify order {order.name}: no shipping_address")
    lines = []
    for item in items:
        keys = []
        if item.variant_id is not None:
            keys.append(ProductKey("variant_id", str(item.variant_id)))
        if text(item.sku):
            keys.append(ProductKey("sku", text(item.sku)))
        if not keys:
            raise IntakeError(
                f"shopify order {order.name}: line item {item.id} ({item.title!r}) has no "
                "variant_id or sku (a custom item?)"
            )
        title = item.name or item.title
        lines.append(
            Line(line_id=str(item.id), keys=tuple(keys), qty=current(item),
                 unit_price=item.price, title=title)
        )  # fmt: skip
    placed = utc(order.created_at)
    shipping = [s.price for s in order.shipping_lines if s.price is not None]
    totals = Totals(
        subtotal=order.subtotal_price,
        shipping=sum(shipping, Decimal(0)) if shipping else None,
        tax=order.total_tax,
        discount=order.total_discounts,
        total=order.total_price,
    )
    return checked(
        IncomingOrder(
            channel="shopify",
            channel_order_id=order_id,
            order_ref=order.name,
            placed_at=placed,
            ship_by=default_ship_by(placed),
            ship_to=_address(order, order.shipping_address),
            lines=tuple(lines),
            currency=order.currency,
            totals=totals,
            service=order.shipping_lines[0].title if order.shipping_lines else "",
            refunds=tuple(str(r.id) for r in order.refunds),
            updated_at=utc(order.updated_at) if order.updated_at else None,
        )
    )


def _address(order: _Order, a: _Address) -> Address:
    country = country_code(
        a.country_code or a.country or "", f"shopify order {order.name}: country"
    )
    name = text(a.name) or " ".join(p for p in (text(a.first_name), text(a.last_name)) if p)
    lat, lon = coordinates(a.latitude, a.longitude)
    return Address(
        name=name,
        company=text(a.company),
        street1=text(a.address1),
        street2=text(a.address2),
        city=text(a.city),
        region=region_code(country, a.province_code or a.province or ""),
        postal_code=text(a.zip),
        country=country,
        phone=text(a.phone) or text(order.phone),
        lat=lat,
        lon=lon,
    )


def sign(body: bytes, secret: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends with ``body``."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def verify_hmac(body: bytes, header: str | None, secret: bytes) -> bool:
    """Whether ``header`` is Shopify's signature of the raw ``body`` with ``secret``
    (constant-time comparison; False for a missing header or an empty secret)."""
    if not header or not secret:
        return False
    expected = sign(body, secret).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("ascii", "replace"))
