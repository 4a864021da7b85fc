"""Amazon Selling Partner API (Orders v0): ``getOrder`` + ``getOrderItems`` responses.

An Amazon order comes in two calls, so the file is a JSON array of the raw responses
(each ``{"payload": {...}}``, or the payload alone), in any order: for each order its
``getOrder`` response (with ``ShippingAddress``, which needs a Restricted Data Token), one
``getOrderItems`` response per ``NextToken`` page, and optionally a ``getOrderAddress``
response when the address was fetched apart. Several orders may share one file; the
responses are matched by ``AmazonOrderId``.

Fields used: ``AmazonOrderId`` (id and reference), ``PurchaseDate``, ``OrderStatus``,
``FulfillmentChannel``, ``LatestShipDate`` (ship-by), ``LatestDeliveryDate`` (promise),
``ShipmentServiceLevelCategory`` / ``ShipServiceLevel`` / ``IsPrime`` (priority, service),
``OrderTotal``, ``ShippingAddress`` (``Name``, ``AddressLine1..3``, ``City``,
``StateOrRegion``, ``PostalCode``, ``CountryCode``, ``Phone``) and per item
``OrderItemId``, ``SellerSKU``, ``ASIN``, ``QuantityOrdered`` - ``QuantityShipped``,
``ItemPrice`` (the line total: the unit price is it divided by the quantity),
``ShippingPrice``, ``ItemTax``, ``PromotionDiscount``.

Skipped, not refused: orders Amazon fulfils (``AFN``), ``Pending`` ones (no address until
payment is authorised: import them again once ``Unshipped``), canceled or shipped ones.
"""

from __future__ import annotations

import datetime as dt
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
    region_code,
    text,
    utc,
)


class _Money(msgspec.Struct, rename="pascal"):
    currency_code: str = ""
    amount: Decimal = Decimal(0)


class _Address(msgspec.Struct, rename="pascal"):
    name: str = ""
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    state_or_region: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None


class _Order(msgspec.Struct, rename="pascal"):
    amazon_order_id: str
    purchase_date: dt.datetime
    order_status: str
    latest_ship_date: dt.datetime | None = None
    latest_delivery_date: dt.datetime | None = None
    fulfillment_channel: str = "MFN"
    shipment_service_level_category: str = ""
    ship_service_level: str = ""
    is_prime: bool = False
    order_total: _Money | None = None
    shipping_address: _Address | None = None


class _Item(msgspec.Struct, rename="pascal"):
    order_item_id: str
    quantity_ordered: int
    asin: str = msgspec.field(name="ASIN", default="")
    seller_sku: str | None = msgspec.field(name="SellerSKU", default=None)
    title: str = ""
    quantity_shipped: int = 0
    item_price: _Money | None = None
    shipping_price: _Money | None = None
    item_tax: _Money | None = None
    shipping_tax: _Money | None = None
    promotion_discount: _Money | None = None


_URGENT = {"NextDay", "SameDay"}
_HIGH = {"SecondDay", "Expedited", "Priority", "Scheduled"}
_NOT_OURS = {
    "Pending": "is Pending: Amazon gives no address before payment is authorised; import "
    "it again once it is Unshipped",
    "PendingAvailability": "is a pre-order not yet released (PendingAvailability)",
    "Canceled": "is canceled",
    "Shipped": "is already shipped",
    "InvoiceUnconfirmed": "is already shipped (InvoiceUnconfirmed)",
    "Unfulfillable": "is Unfulfillable",
}


def _payloads(data: Any) -> list[dict]:
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        payload = item.get("payload", item) if isinstance(item, dict) else None
        if not isinstance(payload, dict) or "AmazonOrderId" not in payload:
            return []
        out.append(payload)
    return out


def is_amazon(data: Any) -> bool:
    """Whether ``data`` looks like SP-API order responses."""
    return bool(_payloads(data))


def parse(data: Any) -> Parsed:
    """SP-API responses (decoded JSON) -> orders and skips. Raises IntakeError, e.g. for
    an order without its items or items without their order."""
    payloads = _payloads(data)
    if not payloads:
        raise IntakeError("amazon: expected getOrder/getOrderItems responses with a payload")
    orders: dict[str, dict] = {}
    items: dict[str, dict[str, dict]] = {}
    addresses: dict[str, dict] = {}
    for payload in payloads:
        order_id = str(payload["AmazonOrderId"])
        if "OrderItems" in payload:
            for item in payload["OrderItems"] or []:
                # Pages fetched twice must not double a line: keyed by OrderItemId.
                items.setdefault(order_id, {})[str(item.get("OrderItemId"))] = item
        elif "OrderStatus" in payload:
            orders[order_id] = payload
        elif "ShippingAddress" in payload:
            addresses[order_id] = payload["ShippingAddress"]
    orphans = sorted(items.keys() - orders.keys())
    if orphans:
        raise IntakeError(f"amazon order {orphans[0]}: getOrderItems without its getOrder")
    out: Parsed = []
    for order_id, payload in orders.items():
        if order_id not in items:
            raise IntakeError(f"amazon order {order_id}: getOrder without its getOrderItems")
        if order_id in addresses and not payload.get("ShippingAddress"):
            payload = payload | {"ShippingAddress": addresses[order_id]}
        out.append(_parse_one(payload, list(items[order_id].values())))
    return out


def _parse_one(payload: dict, raw_items: list[dict]) -> IncomingOrder | Skipped:
    where = f"amazon order {payload['AmazonOrderId']}"
    try:
        order = msgspec.convert(payload, _Order)
        items = msgspec.convert(raw_items, list[_Item])
    except msgspec.ValidationError as exc:
        raise IntakeError(f"{where}: {exc}") from None
    if order.fulfillment_channel == "AFN":
        return Skipped("amazon", order.amazon_order_id, "is fulfilled by Amazon (AFN)")
    if order.order_status in _NOT_OURS:
        cancelled = order.order_status == "Canceled"
        return Skipped("amazon", order.amazon_order_id, _NOT_OURS[order.order_status], cancelled)
    a = order.shipping_address
    if a is None or not a.address_line1:
        raise IntakeError(
            f"{where}: no ShippingAddress (fetch getOrder with a Restricted Data Token, "
            "or add the getOrderAddress response)"
        )
    lines = []
    for item in items:
        qty = item.quantity_ordered - item.quantity_shipped
        if qty <= 0:
            continue  # shipped already (a PartiallyShipped order)
        keys = [ProductKey("seller_sku", text(item.seller_sku))] if text(item.seller_sku) else []
        if item.asin:
            keys.append(ProductKey("asin", item.asin))
        unit = None
        if item.item_price is not None and item.quantity_ordered:
            # ItemPrice is the line's price: the unit price times QuantityOrdered.
            unit = (item.item_price.amount / item.quantity_ordered).quantize(Decimal("0.01"))
        lines.append(
            Line(line_id=item.order_item_id, keys=tuple(keys), qty=qty, unit_price=unit,
                 title=item.title)
        )  # fmt: skip
    if not lines:
        return Skipped("amazon", order.amazon_order_id, "has nothing left to ship")
    country = country_code(a.country_code or "", f"{where}: CountryCode")
    street2 = ", ".join(p for p in (text(a.address_line2), text(a.address_line3)) if p)
    placed = utc(order.purchase_date)
    level = order.shipment_service_level_category
    total = order.order_total
    return checked(
        IncomingOrder(
            channel="amazon",
            channel_order_id=order.amazon_order_id,
            order_ref=order.amazon_order_id,
            placed_at=placed,
            ship_by=utc(order.latest_ship_date)
            if order.latest_ship_date
            else default_ship_by(placed),
            deliver_by=utc(order.latest_delivery_date) if order.latest_delivery_date else None,
            ship_to=Address(
                name=text(a.name),
                street1=text(a.address_line1),
                street2=street2,
                city=text(a.city),
                region=region_code(country, a.state_or_region or ""),
                postal_code=text(a.postal_code),
                country=country,
                phone=text(a.phone),
            ),
            lines=tuple(lines),
            currency=total.currency_code if total else _currency(items),
            totals=Totals(
                subtotal=_sum(i.item_price for i in items),
                shipping=_sum(i.shipping_price for i in items),
                tax=_sum(m for i in items for m in (i.item_tax, i.shipping_tax)),
                discount=_sum(i.promotion_discount for i in items),
                total=total.amount if total else None,
            ),
            priority=2 if level in _URGENT else 1 if level in _HIGH or order.is_prime else 0,
            service=order.ship_service_level or level,
        )
    )


def _sum(amounts) -> Decimal | None:
    values = [m.amount for m in amounts if m is not None]
    return sum(values, Decimal(0)) if values else None


def _currency(items: list[_Item]) -> str:
    return next((i.item_price.currency_code for i in items if i.item_price), "")
