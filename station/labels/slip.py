"""The slips the station prints, as printer-neutral :class:`SlipDocument` s: the packing
slip that goes in the carton, and the return slip a customer sends back with a return.

It tells the customer what is in this carton and what is not: every order line with the
quantity ordered and packed, the lines that came up short and why, how many cartons the
order ships in. The order reference is a Code 128 barcode (the returns desk scans it) and
the QR code carries the returns URL, or the order reference when there is none.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drivers.base import SlipDocument, SlipLine
from station.labels.shipping import Address, address_lines
from station.labels.text import clean_text

DEFAULT_SHORT_REASON = "not available"


@dataclass(frozen=True, slots=True)
class SlipItem:
    sku: str
    description: str
    qty_ordered: int
    qty_packed: int

    @property
    def short(self) -> int:
        """Units ordered but not in this shipment."""
        return max(self.qty_ordered - self.qty_packed, 0)


def _items(lines: Sequence[SlipItem | tuple[str, str, int, int]]) -> list[SlipItem]:
    items = [i if isinstance(i, SlipItem) else SlipItem(*i) for i in lines]
    for i in items:
        if i.qty_ordered < 0 or i.qty_packed < 0:
            raise ValueError(f"negative quantity on {i.sku!r}")
    return items


def _rule(columns: int) -> SlipLine:
    return SlipLine("-" * columns)


def _item_lines(item: SlipItem, columns: int) -> list[SlipLine]:
    # "SKU description ...   ORD PACK" with the description wrapped under itself.
    qty = f"{item.qty_ordered:>4}{item.qty_packed:>5}"
    mark = "*" if item.short else " "
    room = columns - len(qty) - 1
    text = clean_text(f"{item.sku} {item.description}")
    wrapped = textwrap.wrap(text, room - 1, subsequent_indent="  ") or [""]
    out = [SlipLine(f"{wrapped[0]:<{room - 1}}{mark} {qty}")]
    out += [SlipLine(w) for w in wrapped[1:]]
    return out


def packing_slip(
    order_ref: str,
    ship_to: Address,
    lines: Sequence[SlipItem | tuple[str, str, int, int]],
    shorts: Mapping[str, str] | None = None,
    packages: int = 1,
    *,
    returns_url: str | None = None,
    ship_from: Address | None = None,
    packed_on: dt.date | None = None,
    columns: int = 42,
) -> SlipDocument:
    """The slip for one shipment of ``order_ref``.

    ``lines`` are ``SlipItem`` or ``(sku, description, qty_ordered, qty_packed)`` tuples;
    a line with fewer packed than ordered is listed again under SHORT with its reason from
    ``shorts`` (SKU -> reason). ``columns`` is the printer's characters per line (42 fits
    80 mm paper in font A; 32 for 58 mm). Text is cleaned of control characters, so no
    address can carry printer commands. Raises ValueError for a negative quantity,
    ``packages`` below 1, or an order reference that is not printable ASCII.
    """
    if packages < 1:
        raise ValueError(f"packages must be >= 1, got {packages}")
    items = _items(lines)
    shorts = shorts or {}
    ref = clean_text(order_ref)
    if not ref or not all(32 <= ord(c) <= 126 for c in ref):
        raise ValueError(f"order reference must be printable ASCII for Code 128: {order_ref!r}")
    doc = SlipDocument()
    add = doc.lines.append
    add(SlipLine("PACKING SLIP", bold=True, align="center", double=True))
    if ship_from:
        add(SlipLine(clean_text(ship_from.company or ship_from.name), align="center"))
    add(_rule(columns))
    add(SlipLine(f"Order {ref}", bold=True))
    if packed_on:
        add(SlipLine(f"Packed {packed_on.isoformat()}"))
    add(SlipLine(f"Cartons in this shipment: {packages}"))
    add(_rule(columns))
    add(SlipLine("SHIP TO", bold=True))
    for line in address_lines(ship_to):
        add(SlipLine(clean_text(line)))
    add(SlipLine(clean_text(ship_to.country.upper())))
    add(_rule(columns))
    add(SlipLine(f"{'ITEM':<{columns - 9}}{'ORD':>4}{'PACK':>5}", bold=True))
    for item in items:
        for sl in _item_lines(item, columns):
            add(sl)
    add(_rule(columns))
    ordered = sum(i.qty_ordered for i in items)
    packed = sum(i.qty_packed for i in items)
    add(SlipLine(f"Units ordered {ordered}, packed {packed}"))
    short_items = [i for i in items if i.short]
    if short_items:
        add(SlipLine("* SHORT - not in this shipment:", bold=True))
        for i in short_items:
            reason = clean_text(shorts.get(i.sku, DEFAULT_SHORT_REASON))
            text = f"{i.short} x {clean_text(i.sku)}: {reason}"
            for w in textwrap.wrap(text, columns, subsequent_indent="  "):
                add(SlipLine(w))
    add(_rule(columns))
    add(SlipLine("Returns: scan the code below", align="center"))
    doc.barcode = ref
    doc.qr = returns_url or ref
    return doc


@dataclass(frozen=True, slots=True)
class ReturnItem:
    sku: str
    description: str
    qty: int
    reason: str


def return_slip(
    order_ref: str,
    rma: str,
    lines: Sequence[ReturnItem | tuple[str, str, int, str]],
    return_url: str,
    *,
    ship_from: Address | None = None,
    columns: int = 42,
) -> SlipDocument:
    """The slip that goes back in the parcel with a return (RMA ``rma`` of ``order_ref``).

    Each returned line shows quantity, SKU, description and the return reason. The RMA
    number is a Code 128 barcode (the returns desk scans it to open the return) and the
    QR code carries ``return_url`` (the customer's return page). Raises ValueError for a
    quantity below 1, no lines, or an RMA or order reference that is not printable ASCII.
    """
    items = [i if isinstance(i, ReturnItem) else ReturnItem(*i) for i in lines]
    if not items:
        raise ValueError("a return slip needs at least one returned line")
    for i in items:
        if i.qty < 1:
            raise ValueError(f"returned quantity must be >= 1 on {i.sku!r}")
    ref, code = clean_text(order_ref), clean_text(rma)
    for what, value, given in (("order reference", ref, order_ref), ("RMA", code, rma)):
        if not value or not all(32 <= ord(c) <= 126 for c in value):
            raise ValueError(f"{what} must be printable ASCII for Code 128: {given!r}")
    doc = SlipDocument()
    add = doc.lines.append
    add(SlipLine("RETURN SLIP", bold=True, align="center", double=True))
    if ship_from:
        add(SlipLine(clean_text(ship_from.company or ship_from.name), align="center"))
    add(_rule(columns))
    add(SlipLine(f"Return {code}", bold=True))
    add(SlipLine(f"Order {ref}"))
    add(_rule(columns))
    add(SlipLine(f"{'QTY':<5}ITEM / REASON", bold=True))
    for i in items:
        text = clean_text(f"{i.sku} {i.description}")
        for n, w in enumerate(textwrap.wrap(text, columns - 5) or [""]):
            add(SlipLine(f"{i.qty if n == 0 else '':<5}{w}"))
        for w in textwrap.wrap(f"Reason: {clean_text(i.reason)}", columns - 5):
            add(SlipLine(f"{'':5}{w}"))
    add(_rule(columns))
    add(SlipLine(f"Units returned {sum(i.qty for i in items)}"))
    add(SlipLine("Put this slip in the parcel.", align="center"))
    add(SlipLine("Returns desk: scan the barcode.", align="center"))
    doc.barcode = code
    doc.qr = return_url
    return doc
