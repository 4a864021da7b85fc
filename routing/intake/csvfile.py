"""The doms order CSV: for channels with no API of their own (wholesale, phone orders, a
marketplace's export turned into this shape).

UTF-8 (a byte-order mark is fine), comma separated, quoted as usual ("Suite 5, Floor 2").
The first row is the header; column names are case-insensitive and may come in any
order; a column not listed here is refused (a misspelt optional column would otherwise
be lost silently). One row per order line; the rows of one order share ``order_id`` and
need not be adjacent. Order columns may be repeated on every row of the order or left
empty after the first; a row that gives a different value is an error.

======================  ========  ==========================================================
column                  required  meaning
======================  ========  ==========================================================
``order_id``            yes       the order's id, unique for this channel (idempotency key)
``order_ref``                     what people call it (default: ``order_id``)
``placed_at``                     ISO 8601 time, ``2025-03-14T09:30:00Z`` or with an offset;
                                  a date alone is midnight UTC (default: time of import)
``ship_by``                       ISO 8601 (default: placed_at + 1 business day)
``deliver_by``                    ISO 8601, the promise to the buyer
``priority``                      0 normal, 1 high, 2 urgent (default 0)
``service``                       the shipping the buyer chose, e.g. ``Ground``
``name``                yes       recipient
``company``
``street1``             yes
``street2``
``city``                yes
``region``                        state or province: code or name (``CA``, ``California``)
``postal_code``
``country``             yes       ISO 3166-1 alpha-2 (``US``); alpha-3 or the English name
                                  are accepted and converted
``phone``
``lat``, ``lon``                  the address's coordinates, decimal degrees (both or
                                  neither): routing uses them before the postal code
``line_id``                       the line's id (default: its position in the order, 1..)
``sku``                 yes       our SKU, or a product key linked with ``doms hub map-sku
                                  csv KEY SKU``
``qty``                 yes       whole number >= 0; 0 cancels the line. Imported again
                                  with a lower qty (matched by ``line_id``), the hub's order
                                  ships fewer units; every line at 0 cancels the order
``unit_price``                    decimal, ``12.50`` (a decimal point, no thousands marks)
``currency``                      ISO 4217, ``USD``
``status``                        ``cancelled`` (or ``canceled``): the order is cancelled;
                                  empty, ``new`` or ``open``: it is not
======================  ========  ==========================================================

Any bad row makes the whole file fail (nothing is imported) with an error that names the
row by its line number in the file, header = 1: ``row 4: qty 'two' is not a whole
number``.

A cancelled order (``status`` ``cancelled``) is reported as skipped, and cancels the hub's
order of the same ``order_id`` if one was imported before (a re-import of the same file
with the status changed is how a cancellation arrives by CSV).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from routing.intake.model import (
    Address,
    IncomingOrder,
    IntakeError,
    Line,
    Parsed,
    ProductKey,
    Skipped,
    checked,
    coordinates,
    country_code,
    default_ship_by,
    money,
    parse_time,
    region_code,
    text,
    utc,
)

ORDER_COLUMNS = (
    "order_id", "order_ref", "placed_at", "ship_by", "deliver_by", "priority", "service",
    "name", "company", "street1", "street2", "city", "region", "postal_code", "country",
    "phone", "lat", "lon", "currency", "status",
)  # fmt: skip
LINE_COLUMNS = ("line_id", "sku", "qty", "unit_price")
COLUMNS = ORDER_COLUMNS + LINE_COLUMNS
REQUIRED = ("order_id", "name", "street1", "city", "country", "sku", "qty")


@dataclass
class _Order:
    row: int
    values: dict[str, str]
    source: dict[str, int] = field(default_factory=dict)  # column -> the row that gave it
    lines: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def is_csv(raw: bytes) -> bool:
    """Whether ``raw`` starts with a header row that has ``order_id`` and ``sku``."""
    head = raw[:4096].decode("utf-8-sig", "replace").splitlines()
    first = {c.strip().casefold() for c in head[0].split(",")} if head else set()
    return {"order_id", "sku"} <= first


def parse(raw: bytes | str, *, received_at: dt.datetime | None = None) -> Parsed:
    """The CSV (bytes or text) -> orders. Raises IntakeError naming the row."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IntakeError(f"csv: not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(raw.lstrip("\ufeff"), newline=""))
    header = next(reader, None)
    if not header:
        raise IntakeError("csv: the file is empty")
    columns = [c.strip().casefold() for c in header]
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise IntakeError(f"row 1: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise IntakeError(f"row 1: no {', '.join(missing)} column")
    orders: dict[str, _Order] = {}
    for values in reader:
        row = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines, often at the end
        if len(values) != len(columns):
            raise IntakeError(f"row {row}: {len(values)} fields, the header has {len(columns)}")
        cells = {c: v.strip() for c, v in zip(columns, values, strict=True)}
        key = cells["order_id"]
        if not key:
            raise IntakeError(f"row {row}: no order_id")
        order = orders.setdefault(key, _Order(row, {}))
        for column in ORDER_COLUMNS:
            value = cells.get(column, "")
            before = order.values.get(column, "")
            if value and before and value != before:
                raise IntakeError(
                    f"row {row}: order {key} has {column} {value!r}, but row "
                    f"{order.source[column]} said {before!r}"
                )
            if value and not before:
                order.values[column] = value
                order.source[column] = row
        order.lines.append((row, {c: cells.get(c, "") for c in LINE_COLUMNS}))
    if not orders:
        raise IntakeError("csv: no rows after the header")
    now = utc(received_at or dt.datetime.now(dt.UTC))
    return [_order(key, order, now) for key, order in orders.items()]


_OPEN = {"", "new", "open"}
_CANCELLED = {"cancelled", "canceled"}


def _order(key: str, order: _Order, now: dt.datetime) -> IncomingOrder | Skipped:
    v, first = order.values, order.row
    status = v.get("status", "").casefold()
    if status in _CANCELLED:
        return Skipped("csv", key, "is cancelled", cancelled=True)
    if status not in _OPEN:
        where = f"row {order.source.get('status', first)}"
        raise IntakeError(f"{where}: status {v['status']!r} is not cancelled, new or open")

    def at(column: str) -> str:
        return f"row {order.source.get(column, first)}"

    def need(column: str) -> str:
        if not v.get(column):
            raise IntakeError(f"row {first}: order {key} has no {column}")
        return v[column]

    def when(column: str) -> dt.datetime | None:
        return parse_time(v[column], f"{at(column)}: {column}") if v.get(column) else None

    country = country_code(need("country"), f"{at('country')}: country")
    priority = v.get("priority", "0")
    if priority not in ("0", "1", "2"):
        raise IntakeError(f"{at('priority')}: priority {priority!r} is not 0, 1 or 2")
    lines = []
    for n, (row, cells) in enumerate(order.lines, 1):
        if not cells["sku"]:
            raise IntakeError(f"row {row}: no sku")
        qty = cells["qty"]
        if not (qty.isascii() and qty.isdigit()):
            raise IntakeError(f"row {row}: qty {qty!r} is not a whole number >= 0")
        price = money(cells["unit_price"], f"row {row}: unit_price")
        lines.append(
            Line(line_id=cells["line_id"] or str(n), keys=(ProductKey("sku", cells["sku"]),),
                 qty=int(qty), unit_price=price)
        )  # fmt: skip
    if not any(line.qty for line in lines):
        return Skipped("csv", key, "has qty 0 on every line", cancelled=True)
    placed = when("placed_at") or now
    lat, lon = _coordinates(v, at)
    ship_to = Address(
        name=need("name"),
        company=v.get("company", ""),
        street1=need("street1"),
        street2=v.get("street2", ""),
        city=need("city"),
        region=region_code(country, v.get("region", "")),
        postal_code=v.get("postal_code", ""),
        country=country,
        phone=text(v.get("phone")),
        lat=lat,
        lon=lon,
    )
    incoming = IncomingOrder(
        channel="csv",
        channel_order_id=key,
        order_ref=v.get("order_ref") or key,
        placed_at=placed,
        ship_by=when("ship_by") or default_ship_by(placed),
        deliver_by=when("deliver_by"),
        ship_to=ship_to,
        lines=tuple(lines),
        currency=v.get("currency", "").upper(),
        priority=int(priority),
        service=v.get("service", ""),
    )
    try:
        return checked(incoming)
    except IntakeError as exc:
        raise IntakeError(f"row {first}: {exc}") from None


def _coordinates(v: dict[str, str], at) -> tuple[float | None, float | None]:
    lat, lon = v.get("lat", ""), v.get("lon", "")
    if not lat and not lon:
        return None, None
    if not (lat and lon):
        raise IntakeError(f"{at('lat' if lat else 'lon')}: give both lat and lon, or neither")
    pair = coordinates(lat, lon)
    if pair == (None, None):
        raise IntakeError(f"{at('lat')}: ({lat}, {lon}) is not a latitude and longitude")
    return pair
