"""The 4 x 6 in carrier shipping label (203 dpi, 812 x 1218 dots) in ZPL II.

Top to bottom, as carriers lay theirs out: ship-from and the package facts (date, weight,
n of m); the ship-to address, largest where sorters look (name, city line); a black band
with carrier and service; the order reference; the tracking number as Code 128; the
carton's SSCC as GS1-128 with its ``(00)`` human-readable line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from biip.sscc import Sscc

from drivers.base import GRAMS_PER, Unit
from routing import tracking
from station.labels import zpl
from station.labels.zpl import HEIGHT, WIDTH, Text

MARGIN = 24  # 3 mm: inside every printer's printable area


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    street1: str
    city: str
    postal_code: str
    country: str  # ISO 3166 alpha-2
    company: str = ""
    street2: str = ""
    region: str = ""  # state / province code where the country uses one
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ShippingLabel:
    ship_from: Address
    ship_to: Address
    carrier: str  # "UPS", "DHL Express", ...
    service: str  # "Express Saver", ...
    tracking_number: str  # printable ASCII; Code 128
    sscc: str  # 18 digits with check digit, without the (00)
    order_ref: str
    weight_g: float
    package_no: int
    package_count: int
    ship_date: dt.date


# Countries that write "CITY REGION POSTCODE" on one line; the UK and Ireland put the
# postcode on its own line; most others write "POSTCODE CITY".
_CITY_FIRST = {"US", "CA", "AU"}
_POSTCODE_LINE = {"GB", "IE"}


def _address_parts(a: Address) -> tuple[list[str], list[str], int]:
    """(person and street lines, destination lines, how many destination lines to stress)."""
    country = a.country.upper()
    city = a.city.upper()  # UPU S42: town and country in capitals
    if country in _CITY_FIRST:
        place = [" ".join(p for p in (city, a.region.upper(), a.postal_code) if p)]
        stress = 1
    elif country in _POSTCODE_LINE:
        place = [city, a.postal_code.upper()]
        stress = 2
    else:
        place = [" ".join(p for p in (a.postal_code, city) if p)]
        stress = 1
        if a.region:
            place.append(a.region)
    head = [line for line in (a.name, a.company, a.street1, a.street2) if line.strip()]
    return head, [line for line in place if line.strip()], stress


def address_lines(a: Address) -> list[str]:
    """The lines of ``a`` in the order the destination's post expects; empty ones dropped."""
    head, place, _ = _address_parts(a)
    return head + place


def _weight(grams: float) -> tuple[str, str]:
    kg = grams / GRAMS_PER[Unit.KG]
    lb = grams / GRAMS_PER[Unit.LB]
    return f"{kg:.2f} KG", f"{lb:.2f} LB"


def _check(label: ShippingLabel) -> None:
    if not tracking.is_valid_sscc(label.sscc):
        raise ValueError(f"SSCC {label.sscc!r} is not 18 digits with a valid check digit")
    if not 1 <= label.package_no <= label.package_count:
        raise ValueError(f"package {label.package_no} of {label.package_count}")
    if label.weight_g < 0:
        raise ValueError(f"negative weight {label.weight_g}")


def _from_block(label: ShippingLabel, top: int, bottom: int) -> list[Text]:
    f = label.ship_from
    width = 500 - MARGIN
    rows = address_lines(f) + ([f"Tel {f.phone}"] if f.phone else [])
    step = min(28, (bottom - top - 26) // len(rows))  # smaller type for a long address
    out = [Text(MARGIN, top, "FROM:", 20, width)]
    for i, line in enumerate(rows):
        out.append(Text(MARGIN, top + 26 + i * step, line, step - 4, width))
    return out


def _facts_block(label: ShippingLabel) -> list[Text]:
    right = WIDTH - MARGIN
    kg, lb = _weight(label.weight_g)
    w = 250
    return [
        Text(right, 18, "SHIP DATE", 20, w, align="right"),
        Text(right, 42, label.ship_date.isoformat(), 28, w, align="right"),
        Text(right, 82, "WEIGHT", 20, w, align="right"),
        Text(right, 106, kg, 40, w, align="right"),
        Text(right, 150, lb, 24, w, align="right"),
    ]


def _to_block(label: ShippingLabel, top: int, bottom: int) -> list[Text]:
    t = label.ship_to
    x, width = MARGIN + 56, WIDTH - 2 * MARGIN - 56
    out = [Text(MARGIN, top + 14, "SHIP", 22, 60), Text(MARGIN, top + 38, "TO:", 22, 60)]
    head, place, stress = _address_parts(t)
    head = head[: 7 - len(place)]
    lines = head + place
    # Stress what sorters and couriers read first: the name and the town/postcode line.
    big = {0, *range(len(head), len(head) + stress)}
    # The largest type that fits the block, then one row for the phone and country code.
    for big_h, small_h in ((50, 40), (46, 36), (40, 32), (34, 28)):
        used = sum(big_h if i in big else small_h for i in range(len(lines)))
        if top + 14 + used + 8 * len(lines) + 56 <= bottom:
            break
    y = top + 14
    for i, line in enumerate(lines):
        h = big_h if i in big else small_h
        out.append(Text(x, y, line, h, width, min_height=h * 3 // 4))
        y += h + 8
    out.append(Text(WIDTH - MARGIN, y, t.country.upper(), 52, 160, align="right"))
    if t.phone:
        out.append(Text(x, y + 4, f"Tel {t.phone}", 24, width - 180))
    return out


def _carrier_band(label: ShippingLabel, top: int, height: int) -> list[str | Text]:
    half = WIDTH // 2 - 24
    right = WIDTH - MARGIN - 8
    carrier = label.carrier.upper()
    service = label.service.upper()
    package = f"PKG {label.package_no} OF {label.package_count}"
    return [
        zpl.box(0, top, WIDTH, height, height),  # filled: the text below prints white on it
        Text(MARGIN + 8, top + 18, carrier, 88, half - MARGIN, reverse=True, min_height=40),
        Text(right, top + 22, service, 44, half, align="right", reverse=True, min_height=28),
        Text(right, top + 74, package, 36, half, align="right", reverse=True),
    ]


def render_zpl(label: ShippingLabel, *, ascii_only: bool = False) -> bytes:
    """The label as ZPL II: UTF-8 bytes from ``^XA`` to ``^XZ``, one label.

    ``ascii_only`` folds every text to ASCII ("Łódź" -> "Lodz") for printers whose fonts
    lack the glyphs and for previews. Raises ValueError for an invalid SSCC, a package
    number outside 1..count, or a tracking number that does not fit as Code 128.
    """
    _check(label)
    fields: list[str | Text] = []
    # Package facts and origin: y 0-190.
    fields += _from_block(label, 18, 186)
    fields += _facts_block(label)
    fields.append(zpl.box(530, 10, 2, 170, 2))
    fields.append(zpl.box(0, 190, WIDTH, 3, 3))
    # Destination: y 190-560.
    fields += _to_block(label, 190, 556)
    # Carrier and service: y 560-690, white on black.
    fields += _carrier_band(label, 560, 130)
    # Order reference: y 690-740.
    fields.append(Text(MARGIN, 702, f"ORDER {label.order_ref}", 30, WIDTH - 2 * MARGIN))
    fields.append(zpl.box(0, 744, WIDTH, 3, 3))
    # Tracking: y 744-975.
    fields.append(Text(MARGIN, 756, "TRACKING #", 22, 200))
    fields.append(
        Text(WIDTH - MARGIN, 752, tracking.format_tracking(label.tracking_number), 30, 560, "right")
    )
    bc = zpl.code128(label.tracking_number, 792, 140, left=MARGIN, right=WIDTH - MARGIN)
    fields.append(bc.zpl)
    fields.append(zpl.box(0, 966, WIDTH, 3, 3))
    # SSCC: y 966-1218.
    fields.append(Text(MARGIN, 978, "SSCC", 22, 200))
    sscc_bc = zpl.code128("00" + label.sscc, 1004, 150, left=MARGIN, right=WIDTH - MARGIN, gs1=True)
    fields.append(sscc_bc.zpl)
    hri = "(00) " + Sscc.parse(label.sscc).as_hri()
    fields.append(Text(WIDTH // 2, 1162, hri, 32, WIDTH - 2 * MARGIN, align="center"))
    body = [f if isinstance(f, str) else zpl.text_zpl(f, ascii_only) for f in fields]
    return zpl.label(body, WIDTH, HEIGHT).encode("utf-8")


def sample_label() -> ShippingLabel:
    """A realistic label with a UTF-8 destination, for ``doms label sample`` and tests."""
    return ShippingLabel(
        ship_from=Address(
            name="Fulfilment Centre North",
            company="Doms Logistics GmbH",
            street1="Hafenstraße 12",
            city="Hamburg",
            postal_code="20457",
            country="DE",
            phone="+49 40 1234567",
        ),
        ship_to=Address(
            name="Zoë Müller",
            company="Pracownia Łódzka Sp. z o.o.",
            street1="ul. Piotrkowska 104/6",
            street2="Brama B, III piętro",
            city="Łódź",
            postal_code="90-926",
            country="PL",
            phone="+48 42 555 01 23",
        ),
        carrier="UPS",
        service="Express Saver",
        tracking_number=tracking.ups("999AA1", "01", 2345678),
        sscc=tracking.sscc(1, "0614141", 123456789),
        order_ref="SO-2024-10042",
        weight_g=1250,
        package_no=1,
        package_count=2,
        ship_date=dt.date(2024, 11, 5),
    )


def sample_zpl(*, ascii_only: bool = False) -> bytes:
    """ZPL of :func:`sample_label`."""
    return render_zpl(sample_label(), ascii_only=ascii_only)
