"""The one shape every channel parser returns (:class:`IncomingOrder`), and what they share.

A parser turns a channel's own JSON or CSV into ``IncomingOrder`` values and ``Skipped``
notes (an order that is real but not ours to ship: fulfilled by the marketplace, digital
only, cancelled, not yet released). It raises :class:`IntakeError` for input it cannot
read, naming the order, field or row. Parsers are pure: no database, no clock except for
defaults the caller can pin with ``received_at``.

Times are aware ``datetime`` values in UTC. Money is ``Decimal`` (never float), in the
order's ``currency``. Countries are ISO 3166-1 alpha-2 codes, normalised with pycountry
(ISO 3166 data, maintained upstream, rather than a table of our own).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

CHANNELS = ("shopify", "amazon", "tiktok", "csv")

# The product keys a line of each channel may carry, most specific first. A line is linked
# to the SKU of the first of its keys found in the mapping table.
KEY_TYPES: dict[str, tuple[str, ...]] = {
    "shopify": ("variant_id", "sku"),
    "amazon": ("seller_sku", "asin"),
    "tiktok": ("sku_id", "seller_sku"),
    "csv": ("sku",),
}
# How a hold reason names a key: "Shopify variant 4432".
KEY_LABELS = {
    ("shopify", "variant_id"): "Shopify variant",
    ("shopify", "sku"): "Shopify SKU",
    ("amazon", "seller_sku"): "Amazon SellerSKU",
    ("amazon", "asin"): "Amazon ASIN",
    ("tiktok", "sku_id"): "TikTok sku_id",
    ("tiktok", "seller_sku"): "TikTok seller_sku",
    ("csv", "sku"): "SKU",
}
# Hub order ids: the channel order id behind a prefix, so channels never collide.
ORDER_ID_PREFIX = {"shopify": "SHP", "amazon": "AMZ", "tiktok": "TTS", "csv": "CSV"}
HANDLING_DAYS = 1  # ship-by when the channel gives none: placed + 1 business day


class IntakeError(ValueError):
    """Input that cannot be taken in: not a known shape, a missing or bad field, a bad
    CSV row. The message names the channel order, field or row."""


class Address(msgspec.Struct, frozen=True, kw_only=True):
    """A ship-to address, with the station's ``ship_to`` keys."""

    name: str
    company: str = ""
    street1: str
    street2: str = ""
    city: str
    region: str = ""  # state or province code where a country uses them (CA, ON), else text
    postal_code: str = ""
    country: str  # ISO 3166-1 alpha-2
    phone: str = ""
    # The channel's geocode of the address, when it sends one: routing places the
    # destination by it before the postal code, so an address whose postal code has no
    # offline centroid (outside the US) can still be routed.
    lat: float | None = None
    lon: float | None = None


class ProductKey(msgspec.Struct, frozen=True):
    """One way the channel names the product: ``ProductKey("variant_id", "4432")``."""

    type: str
    value: str


class Line(msgspec.Struct, frozen=True, kw_only=True):
    """One order line as the channel sent it."""

    line_id: str  # the channel's line id (TikTok: its unit line ids, comma separated)
    keys: tuple[ProductKey, ...]  # most specific first, see KEY_TYPES
    qty: int  # 0: the channel removed every unit of the line (refunded, cancelled, edited out)
    unit_price: Decimal | None = None
    title: str = ""
    # Why the channel took units off the line, when it says ("buyer requested cancel:
    # Order placed by mistake" on Amazon): the amendment's outcome and log name it.
    removed_why: str = ""

    @property
    def key(self) -> ProductKey:
        """The line's main product key (the one a hold reason names)."""
        return self.keys[0]


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    """Order money as the channel reported it; None where it gave none."""

    subtotal: Decimal | None = None
    shipping: Decimal | None = None
    tax: Decimal | None = None
    discount: Decimal | None = None
    total: Decimal | None = None


class IncomingOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order from any channel, normalised."""

    channel: str  # one of CHANNELS
    channel_order_id: str  # unique within the channel: the idempotency key
    order_ref: str  # what people call it: "#1043", "112-0000001-0000001"
    placed_at: dt.datetime
    ship_by: dt.datetime  # must leave the building by then
    deliver_by: dt.datetime | None = None  # the promise to the buyer, when the channel has one
    ship_to: Address
    lines: tuple[Line, ...]
    currency: str = ""  # ISO 4217
    totals: Totals = Totals()
    priority: int = 0  # 0 normal, 1 high, 2 urgent (the station's scale)
    service: str = ""  # the shipping the buyer chose, in the channel's words
    # The channel's refunds (Shopify refund ids) already counted in the lines' quantities:
    # a refunds/create delivery of one of them changes nothing.
    refunds: tuple[str, ...] = ()
    # When the channel last changed the order (Shopify ``updated_at``): a change event
    # (``orders/edited``) no newer than this is already counted in the lines.
    updated_at: dt.datetime | None = None

    @property
    def order_id(self) -> str:
        """The hub's order id for this channel order."""
        return f"{ORDER_ID_PREFIX[self.channel]}-{self.channel_order_id}"


class Skipped(msgspec.Struct, frozen=True):
    """A channel order that is not for us to ship (now), and why. ``cancelled``: the
    channel cancelled it, so if the hub has it, it is cancelled there too."""

    channel: str
    channel_order_id: str
    reason: str
    cancelled: bool = False


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """A change of some lines of a channel order the channel announces by itself, not by
    sending the whole order again: a Shopify order edit (``orders/edited``), an Amazon
    ``ORDER_CHANGE`` notification. ``removed`` and ``added`` are units per channel line
    id; ``change_id`` makes a second delivery of the same change count once."""

    channel: str
    channel_order_id: str
    change_id: str
    at: dt.datetime | None = None  # when the channel made the change
    removed: dict[str, int] = {}
    added: dict[str, int] = {}
    why: str = ""  # the channel's reason, for the outcome and the log

    @property
    def order_id(self) -> str:
        """The hub's order id for the changed channel order."""
        return f"{ORDER_ID_PREFIX[self.channel]}-{self.channel_order_id}"


Parsed = list[IncomingOrder | Skipped | Change]


# -- checks ------------------------------------------------------------------------------
def checked(order: IncomingOrder) -> IncomingOrder:
    """Return ``order`` after the checks every channel shares; raise IntakeError naming
    the order and what is wrong."""
    where = f"{order.channel} order {order.order_ref}"
    if not order.channel_order_id:
        raise IntakeError(f"{where}: no order id")
    if not order.lines:
        raise IntakeError(f"{where}: no lines")
    if not any(line.qty for line in order.lines):
        raise IntakeError(f"{where}: every line has quantity 0")
    for n, line in enumerate(order.lines, 1):
        if line.qty < 0:
            raise IntakeError(f"{where}: line {n} has quantity {line.qty}")
        if not line.keys or not all(k.value for k in line.keys):
            raise IntakeError(f"{where}: line {n} names no product")
    address = order.ship_to
    for field in ("name", "street1", "city", "country"):
        if not getattr(address, field).strip():
            raise IntakeError(f"{where}: the ship-to address has no {field}")
    return order


# -- values ------------------------------------------------------------------------------
def utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (a naive value is taken as UTC), whole seconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0)


def parse_time(text: str, what: str = "time") -> dt.datetime:
    """An ISO 8601 time ("2025-03-14T09:30:00-04:00", "...Z", a date alone = midnight UTC)
    in UTC. Raises IntakeError naming ``what``."""
    try:
        return utc(dt.datetime.fromisoformat(text.strip()))
    except ValueError:
        raise IntakeError(f"{what} {text!r} is not an ISO 8601 time") from None


def from_unix(seconds: int | None) -> dt.datetime | None:
    """A Unix time in seconds (TikTok's timestamps) in UTC; None for None or 0."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds else None


def iso(value: dt.datetime) -> str:
    """The hub's time format: ``2025-03-14T13:30:00Z``."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """``start`` moved ``days`` weekdays on (Saturday and Sunday skipped; no holidays)."""
    value = start
    while days > 0:
        value += dt.timedelta(days=1)
        if value.weekday() < 5:
            days -= 1
    return value


def default_ship_by(placed_at: dt.datetime) -> dt.datetime:
    """Ship-by for a channel that gives none: placed + HANDLING_DAYS business days."""
    return add_business_days(placed_at, HANDLING_DAYS)


def money(value: Any, what: str = "amount") -> Decimal | None:
    """A Decimal from a channel amount ("19.99", 19.99, None, ""). Raises IntakeError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise IntakeError(f"{what} {value!r} is not a number") from None
    if not amount.is_finite():
        raise IntakeError(f"{what} {value!r} is not a number")
    return amount


def text(value: Any) -> str:
    """A stripped string; "" for None. Channels send junk like '""' for empty lines."""
    if value is None:
        return ""
    value = str(value).strip()
    return "" if value in ('""', "''", "null") else value


_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}  # exceptionally reserved codes channels use


def country_code(value: str, what: str = "country") -> str:
    """The ISO 3166-1 alpha-2 code for ``value`` (alpha-2, alpha-3 or English name).
    Raises IntakeError for an unknown country."""
    import pycountry  # loaded on first use: its database takes a few ms

    key = text(value)
    if not key:
        raise IntakeError(f"no {what}")
    key = _COUNTRY_ALIASES.get(key.upper(), key)
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        raise IntakeError(f"{what} {value!r} is not an ISO 3166 country") from None


# Countries whose addresses (and carriers) use subdivision codes: "California" -> "CA".
_REGION_CODE_COUNTRIES = {"US", "CA", "AU", "BR"}


def region_code(country: str, value: str) -> str:
    """The state or province as carriers write it: the ISO 3166-2 code's second part for
    a full name in US, CA, AU and BR ("California" -> "CA"); any other value as given."""
    region = text(value)
    if country not in _REGION_CODE_COUNTRIES or not region or len(region) <= 3:
        return region
    import pycountry

    wanted = _fold(region)
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        if _fold(sub.name) == wanted:
            return sub.code.split("-", 1)[1]
    return region


def coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    """``(lat, lon)`` as floats when both are given and on the globe, else ``(None,
    None)``. (0, 0) counts as none: it is what a failed geocode leaves behind, and it
    would route a parcel to the Gulf of Guinea's nearest site."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or (la, lo) == (0.0, 0.0):
        return None, None
    return la, lo


def ship_to_map(address: Address) -> dict[str, Any]:
    """The address as the hub stores ``ship_to``: the station's keys, plus ``lat``/``lon``
    only when known (stations and labels never see a null coordinate)."""
    data = msgspec.to_builtins(address)
    if data.get("lat") is None or data.get("lon") is None:
        data.pop("lat", None)
        data.pop("lon", None)
    return data


def _fold(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.casefold())
