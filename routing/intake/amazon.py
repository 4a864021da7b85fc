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
``ShippingPrice``, ``ItemTax``, ``PromotionDiscount``, and ``BuyerRequestedCancel``
(``IsBuyerRequestedCancel``, ``BuyerCancelReason``).

A buyer's cancellation request: after the first 30 minutes only the seller can cancel an
Amazon order, and Amazon shows the buyer's request on each item (``IsBuyerRequestedCancel``
``"true"``, with ``BuyerCancelReason``) and expects the seller to cancel it. An item so
marked has its unshipped units cancelled (its line at 0, ``removed_why`` ``buyer requested
cancel: <reason>``), and an order whose every item is marked is a cancellation.

:func:`parse_order_change` reads the ``ORDER_CHANGE`` notification (the SQS message body
Amazon sends when an order changes): a ``BuyerRequestedChange`` whose items carry
``IsBuyerRequestedCancel`` takes their unshipped units off (a :class:`Change` keyed by
``NotificationId``), ``OrderStatus`` ``Canceled`` cancels the order; anything else is a
skip: the notification has no address or prices, so a new or changed order is taken in
from ``getOrder`` + ``getOrderItems``.

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
    Change,
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


class _BuyerCancel(msgspec.Struct, rename="pascal"):
    # Orders v0 sends the flag as the string "true"/"false"; ORDER_CHANGE as a boolean.
    is_buyer_requested_cancel: str | bool = False
    buyer_cancel_reason: str = ""


def _flag(value: str | bool | None) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


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
    buyer_requested_cancel: _BuyerCancel | None = None

    @property
    def cancel_requested(self) -> str:
        """``buyer requested cancel: <reason>`` when the buyer asked to cancel it, else ""."""
        request = self.buyer_requested_cancel
        if request is None or not _flag(request.is_buyer_requested_cancel):
            return ""
        return f"buyer requested cancel: {text(request.buyer_cancel_reason) or 'no reason given'}"


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
        # A buyer's request to cancel: Amazon expects the seller to cancel the units not
        # shipped, so they are not packed (the line stays, at 0, so that an order the hub
        # has loses them: routing.intake.amend).
        why = item.cancel_requested
        keys = [ProductKey("seller_sku", text(item.seller_sku))] if text(item.seller_sku) else []
        if item.asin:
            keys.append(ProductKey("asin", item.asin))
        unit = None
        if item.item_price is not None and item.quantity_ordered:
            # ItemPrice is the line's price: the unit price times QuantityOrdered.
            unit = (item.item_price.amount / item.quantity_ordered).quantize(Decimal("0.01"))
        lines.append(
            Line(line_id=item.order_item_id, keys=tuple(keys), qty=0 if why else qty,
                 unit_price=unit, title=item.title, removed_why=why)
        )  # fmt: skip
    if not lines:
        return Skipped("amazon", order.amazon_order_id, "has nothing left to ship")
    if not any(line.qty for line in lines):
        reasons = sorted({line.removed_why for line in lines})
        return Skipped("amazon", order.amazon_order_id, "; ".join(reasons), cancelled=True)
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


# -- ORDER_CHANGE notifications ---------------------------------------------------------------
class _ChangeItem(msgspec.Struct, rename="pascal"):
    order_item_id: str
    quantity: int = 0
    quantity_shipped: int = 0
    is_buyer_requested_cancel: str | bool = False


class _ChangeSummary(msgspec.Struct, rename="pascal", frozen=True):
    order_status: str = ""
    fulfillment_type: str = "MFN"
    order_items: list[_ChangeItem] = []


class _ChangeTrigger(msgspec.Struct, rename="pascal", frozen=True):
    time_of_order_change: dt.datetime | None = None
    change_reason: str = ""


class _OrderChange(msgspec.Struct, rename="pascal"):
    amazon_order_id: str
    order_change_type: str = ""
    order_change_trigger: _ChangeTrigger = _ChangeTrigger()
    summary: _ChangeSummary = _ChangeSummary()


def is_order_change(data: Any) -> bool:
    """Whether ``data`` is an SP-API ``ORDER_CHANGE`` notification."""
    return (
        isinstance(data, dict)
        and data.get("NotificationType") == "ORDER_CHANGE"
        and isinstance(data.get("Payload"), dict)
    )


def parse_order_change(data: Any) -> Parsed:
    """An ``ORDER_CHANGE`` notification (decoded) -> a :class:`Change` (units the buyer
    asked to cancel), a cancellation, or a skip. Raises IntakeError."""
    try:
        change = msgspec.convert(data["Payload"].get("OrderChangeNotification"), _OrderChange)
        notification_id = str(data.get("NotificationMetadata", {})["NotificationId"])
    except (msgspec.ValidationError, KeyError, AttributeError, TypeError) as exc:
        raise IntakeError(f"amazon ORDER_CHANGE: {exc}") from None
    order_id = change.amazon_order_id
    summary = change.summary
    if summary.fulfillment_type == "AFN":
        return [Skipped("amazon", order_id, "is fulfilled by Amazon (AFN)")]
    if summary.order_status == "Canceled":
        return [Skipped("amazon", order_id, "is canceled (ORDER_CHANGE)", cancelled=True)]
    removed = {
        item.order_item_id: item.quantity - item.quantity_shipped
        for item in summary.order_items
        if _flag(item.is_buyer_requested_cancel) and item.quantity > item.quantity_shipped
    }
    if change.order_change_type != "BuyerRequestedChange" or not removed:
        return [
            Skipped(
                "amazon",
                order_id,
                f"ORDER_CHANGE {change.order_change_type or '?'} to {summary.order_status or '?'}"
                ": nothing to apply (take the order in from getOrder + getOrderItems)",
            )  # fmt: skip
        ]
    reason = text(change.order_change_trigger.change_reason)
    why = "buyer requested cancel"
    if reason and reason.lower() != why:
        why = f"{why}: {reason}"
    at = change.order_change_trigger.time_of_order_change
    return [
        Change(
            channel="amazon",
            channel_order_id=order_id,
            change_id=f"notification:{notification_id}",
            at=utc(at) if at else None,
            removed=removed,
            why=why,
        )  # fmt: skip
    ]
