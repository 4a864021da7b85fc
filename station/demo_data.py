"""A realistic, deterministic sample for a station database: catalogue, cartons, people, orders.

:func:`load_sample` fills a station database (empty or not) for demos and tests, all in one
transaction. Rows whose keys already exist are skipped, never overwritten, so loading twice
adds nothing and an order being packed is left alone. Operators with PIN ``1234``: packer
``B1001`` (Marcus Lee) and lead ``L9001`` (Priya Raman); the others log in by badge alone.

:func:`demo_barcodes_for` gives what a scanner would send to pack an order exactly (the
demo's "simulate a scan" key); :func:`wrong_barcode_for` a valid item that is not in it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
import zlib
from dataclasses import dataclass

import sqlite_utils
from biip.checksums import gs1_standard_check_digit

from station.packing.operators import hash_pin

GS = "\x1d"  # FNC1 / ASCII 29: ends a variable-length GS1 field followed by another


def _keyed(text: str) -> dict[str, list[str]]:
    """Data lines "key value;value;..." (a key may repeat to continue its list)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, values = line.split(" ", 1)
        out.setdefault(key, []).extend(values.split(";"))
    return out


# Variant axes: "code:label[:weight factor]" entries, ";" between them.
_AXES = _keyed("""\
SZ XS:XS:.85;S:S:.92;M:M;L:L:1.08;XL:XL:1.16;XXL:XXL:1.25
KSZ 2T:2T:.55;4T:4T:.65;6:Youth 6:.75;8:Youth 8:.85;10:Youth 10:.95
CLR BLK:Black;WHT:White;NVY:Navy;GRY:Heather Grey;OLV:Olive;RED:Brick Red;SND:Sand
HCL OAT:Oatmeal;SGE:Sage;CHR:Charcoal;TRC:Terracotta;IVR:Ivory;BLU:Denim Blue
MCL BLK:Matte Black;STL:Brushed Steel;SGE:Sage;CRL:Coral;NVY:Navy
ECL BLK:Black;WHT:White;BLU:Midnight Blue
LEN 1M:1 m:.7;2M:2 m
PHN IP15:iPhone 15;IP15P:iPhone 15 Pro;IP16:iPhone 16;GS24:Galaxy S24;PX8:Pixel 8
SCN LAV:Lavender;EUC:Eucalyptus Mint;CIT:Citrus Grove;UNS:Unscented;CDR:Cedar & Sage
SHD 110:Porcelain;130:Ivory;220:Sand;310:Honey;420:Caramel;530:Espresso
TNT RUBY:Ruby Red;BLSH:Blush;NUDE:Nude;BERR:Berry;MINT:Mint Chip
ML 50ML:50 ml:.55;100ML:100 ml
FLV CHO:Chocolate;VAN:Vanilla;STR:Strawberry;UNF:Unflavored
TEA EGR:Earl Grey;SEN:Sencha;CHM:Chamomile;CHAI:Masala Chai;PEP:Peppermint
PAN 08IN:8 in:.55;10IN:10 in:.8;12IN:12 in
BRD S:Small:.6;M:Medium;L:Large:1.4
FRM 4X6:4 x 6 in:.6;5X7:5 x 7 in:.8;8X10:8 x 10 in
INK BLK:Black;BLU:Blue;RED:Red;GRN:Green
HLC YEL:Yellow;PNK:Pink;GRN:Green;ORG:Orange
BAT AA:AA;AAA:AAA:.5
PLS BEAR:Bear;BUNNY:Bunny;FOX:Fox;SLOTH:Sloth
PZL HARB:Harbor at Dusk;ALPS:Alpine Meadow;LIBR:The Old Library;GARD:Kitchen Garden
GAME TACO:Taco Cat Chaos;SNAP:Snap Dragon;MOON:Moon Pirates
TTL SRDGH:The Sourdough Year;NRTH:North of Everything;QUIET:Quiet Hours;STARS:A Field Guide to Stars
TTL BALC:The Balcony Gardener;MAPS:Maps of Small Places;TIDE:Tidewater;HABIT:Clean Code Habits
FMT HC:Hardcover;PB:Paperback:.6
""")
# code prefix | name ("{}" takes the variant labels) | category | grams | LxWxH mm | tracking |
# quantity may be keyed | variant axes
_FAMILIES = """\
TSH-ORG|Organic Cotton T-Shirt|apparel|180|280x220x25|none|0|SZ CLR
TSH-VNK|Slub V-Neck Tee|apparel|160|280x220x20|none|0|SZ CLR
SHRT-LIN|Linen Button-Down Shirt|apparel|260|300x240x30|none|0|SZ CLR
HOOD-ZIP|Midweight Zip Hoodie|apparel|620|330x280x70|none|0|SZ CLR
SWT-CRW|Fleece Crewneck Sweatshirt|apparel|540|330x280x60|none|0|SZ CLR
LEG-HR|High-Rise Leggings|apparel|230|250x200x30|none|0|SZ CLR
SOCK-MER|Merino Crew Socks 3-Pack|apparel|150|220x110x40|none|0|SZ CLR
KID-TEE|Kids Graphic Tee|apparel|110|220x180x20|none|0|KSZ CLR
CAP-TWL|Washed Twill Baseball Cap|apparel|110|270x190x120|none|0|CLR
BNE-RIB|Ribbed Knit Beanie|apparel|90|230x200x30|none|0|CLR
TWL-BTH|Turkish Cotton Bath Towel|home|620|350x250x80|none|0|HCL
TWL-HND|Waffle Hand Towel 2-Pack|home|280|250x200x50|none|0|HCL
PIL-LIN|Linen Pillow Cover 18 x 18 in|home|210|300x250x20|none|0|HCL
THR-KNT|Chunky Knit Throw Blanket|home|1150|400x300x120|none|0|HCL
PLT-CER|Ceramic Planter 6 in|home|900|170x170x160|none|0|HCL
FRM-OAK|Oak Photo Frame|home|520|280x230x40|none|0|FRM
CDL-SOY|Soy Wax Candle 8 oz|home|380|90x90x100|lot|0|SCN
MUG-STW|Stoneware Mug 12 oz|kitchen|350|130x100x100|none|0|HCL
TMB-INS|Insulated Tumbler 20 oz|kitchen|340|100x100x240|none|0|MCL
BTL-STL|Stainless Water Bottle 24 oz|kitchen|390|80x80x280|none|0|MCL
FPR-GLS|French Press 34 oz|kitchen|820|190x130x230|none|0|MCL
PAN-CI|Pre-Seasoned Cast Iron Skillet|kitchen|2300|460x280x60|none|0|PAN
CTB-BMB|Bamboo Cutting Board|kitchen|780|380x280x20|none|0|BRD
KNF-CHF|Chef's Knife 8 in|kitchen|240|340x60x25|none|0|
UTN-SIL|Silicone Spatula Set|kitchen|260|300x90x40|none|0|HCL
CNT-GLS|Glass Meal-Prep Containers 5-Pack|kitchen|1900|260x190x140|none|0|
TEA-LLF|Organic Loose Leaf Tea 100 g|kitchen|130|140x80x80|lot_expiry|0|TEA
SRM-VTC|Vitamin C Brightening Serum 30 ml|beauty|95|120x45x45|lot_expiry|0|
SPF-MIN|Mineral Sunscreen SPF 50|beauty|130|160x55x35|lot_expiry|0|ML
FND-LIQ|Longwear Liquid Foundation 30 ml|beauty|110|130x45x45|lot_expiry|0|SHD
LOT-BDY|Shea Body Lotion 250 ml|beauty|300|190x70x50|lot_expiry|0|SCN
LIP-TNT|Tinted Lip Balm|beauty|15|80x20x20|lot_expiry|0|TNT
SHB-SLD|Solid Shampoo Bar|beauty|85|75x75x35|lot|0|SCN
NPL-GEL|Gel Nail Polish 15 ml|beauty|55|90x35x35|lot|0|TNT
SUP-VD3|Vitamin D3 2000 IU, 120 Softgels|supplements|140|110x60x60|lot_expiry|0|
SUP-MAG|Magnesium Glycinate, 90 Capsules|supplements|160|120x65x65|lot_expiry|0|
SUP-OM3|Omega-3 Fish Oil, 60 Softgels|supplements|150|115x60x60|lot_expiry|0|
SUP-WHY|Whey Protein Powder 2 lb|supplements|990|200x130x130|lot_expiry|0|FLV
CBL-CC|USB-C to USB-C Cable 60 W|electronics|45|160x90x20|none|0|LEN ECL
CBL-CL|USB-C to Lightning Cable|electronics|40|160x90x20|none|0|LEN ECL
CHG-GAN|65 W GaN USB-C Wall Charger|electronics|120|90x70x45|none|0|ECL
CSE-CLR|Clear MagSafe Phone Case|electronics|40|190x100x20|none|0|PHN
SCR-GLS|Tempered Glass Screen Protector 2-Pack|electronics|70|200x110x15|none|0|PHN
MSE-WLS|Silent Wireless Mouse|electronics|110|150x90x50|none|0|ECL
PWB-10K|10,000 mAh Power Bank|electronics|240|150x80x30|serial|0|ECL
EAR-TWS|Noise-Cancelling Wireless Earbuds|electronics|180|120x100x50|serial|0|ECL
SPK-BT|Waterproof Bluetooth Speaker|electronics|620|200x110x90|serial|0|ECL
BAT-ALK|Alkaline Batteries 4-Pack|electronics|100|75x60x15|none|1|BAT
BAT-CR2|CR2032 Lithium Coin Cell|electronics|8|90x60x5|none|1|
PEN-GEL|Gel Ink Pen 0.7 mm|stationery|12|150x15x15|none|1|INK
HLT-CHS|Chisel Tip Highlighter|stationery|15|125x20x20|none|1|HLC
TAP-WSH|Washi Tape 15 mm|stationery|20|60x60x15|none|1|HCL
NTB-DOT|Dot Grid Notebook A5|stationery|320|215x150x15|none|0|HCL
TOY-BLK|Wooden Building Blocks, 50 pcs|toys|1200|300x200x100|none|0|
TOY-PLS|Plush Animal 12 in|toys|220|300x200x150|none|0|PLS
PZL-1K|1000-Piece Jigsaw Puzzle|toys|680|350x250x55|none|0|PZL
TOY-CRY|Jumbo Washable Crayons, 24 ct|toys|350|200x120x40|lot|0|
GAM-CRD|Family Card Game|toys|260|140x95x45|none|0|GAME
BK|{} ({})|books|400|230x155x25|none|0|TTL FMT
"""
# GS1 company prefixes by category: "U" UPC-A (GTIN-12), "E" EAN-13 (books: ISBN-13).
_COMPANIES = _keyed("""\
apparel U0845912;U0196237;E5056123
home U0810044;E8718475
kitchen U0885911;E4006381
beauty E8809573;E3760265;U0850016
supplements U0658010;U0033984
electronics E6941059;U0840006
stationery E4902505;U0070330
toys E4010168;U0673419
books E9798891;E9781915
""")
_TRACKING_MIX = {"none": 78, "lot_expiry": 12, "lot": 5, "serial": 5}
# code | name | inner length x width x height mm | tare g | max gross g
_CARTONS = """\
MAILER-A4|Poly mailer A4|240|320|40|25|2000
MAILER-A3|Poly mailer A3|330|450|60|40|4000
PADDED-C4|Padded mailer C4|230|320|30|45|1500
BOX-XS|Box 6 x 4 x 4 in|152|102|102|70|4500
BOX-S|Box 8 x 6 x 4 in|203|152|102|120|9000
BOX-M|Box 12 x 10 x 6 in|305|254|152|260|18000
BOX-L|Box 16 x 12 x 10 in|406|305|254|480|25000
BOX-XL|Box 20 x 16 x 14 in|508|406|356|820|30000
"""
# badge | name | role | PIN
_OPERATORS = """\
B1001|Marcus Lee|packer|1234
B1002|Ana Sofía Rivera|packer|
B1003|Dmitri Volkov|packer|
B1004|Keisha Brown|packer|
Q5001|Tomás Ortega|inspector|
L9001|Priya Raman|lead|1234
L9002|Sam O'Connor|lead|
"""
# US places are city|state|ZIP|area code; abroad city|region|postal code. "#": a digit.
_ADDR = _keyed("""\
US.places Columbus|OH|43215|614;Brooklyn|NY|11215|718;Austin|TX|78704|512;Seattle|WA|98103|206
US.places Denver|CO|80206|303;Chicago|IL|60614|773;Portland|OR|97214|503;Atlanta|GA|30306|404
US.places Minneapolis|MN|55408|612;Phoenix|AZ|85004|602;Nashville|TN|37206|615
US.places Raleigh|NC|27601|919;San Diego|CA|92104|619;Boston|MA|02116|617;Miami|FL|33137|305
US.places Philadelphia|PA|19147|215;Madison|WI|53703|608;Salt Lake City|UT|84102|801
US.places Boise|ID|83702|208;Kansas City|MO|64111|816;Burlington|VT|05401|802
US.places Albuquerque|NM|87102|505;Honolulu|HI|96813|808;Oakland|CA|94610|510
US.streets Maple Ave;Oak St;Washington Blvd;Lincoln Way;Park Pl;Cedar Ln;Elm St;Broadway
US.streets Highland Ave;Sunset Dr;Lakeview Rd;Main St
US.units Apt 4B;Apt 12;Unit 3;Suite 210;Fl 2;Apt 301
US.first Emily;James;Olivia;Michael;Sophia;Daniel;Aaliyah;Ethan;Hannah;Carlos;Mei;Jamal
US.first Grace;Noah;Isabella;Wei;Madison;Lucas;Chloe;Andre;José;Fatima
US.last Johnson;Nguyen;Garcia;Smith;Patel;Kim;Williams;Martinez;Brown;Davis;Anderson
US.last Thompson;Hernández;Okafor;Murphy;Cohen;Lee;Walker;Rossi;Jablonski
companies Bluebird Dental LLC;Riverside Yoga Studio;Kettle & Crumb Bakery;Acorn Design Co.
CA.places Toronto|ON|M5V 2T6;Montréal|QC|H2X 1Y4;Vancouver|BC|V6B 1A1
CA.streets {n} Queen St W;{n} rue Saint-Denis;{n} Robson St
CA.names Amélie Tremblay;François Côté;Noah Gagnon
CA.phone +1 416 555 01##
GB.places Manchester||M1 1AE;Edinburgh||EH1 1YZ;Bristol||BS1 4DJ;London||N1 9GU
GB.streets {n} Deansgate;{n} Victoria Street;Flat 2, {n} Upper Street
GB.names Siobhán O'Brien;Oliver Bennett;Amara Okonkwo
GB.phone +44 20 7946 0###
DE.places Berlin||10115;München||80331;Köln||50667;Hamburg||20095
DE.streets Friedrichstraße {n};Schönhauser Allee {n};Sendlinger Straße {n}
DE.names Zoë Müller;Jürgen Weiß;Lena Schröder;Mehmet Yılmaz
DE.phone +49 30 ########
BR.places São Paulo|SP|01310-100;Rio de Janeiro|RJ|22071-060;Belo Horizonte|MG|30130-010
BR.streets Av. Paulista, {n};Rua Barata Ribeiro, {n};Rua da Bahia, {n}, apto 42
BR.names João Araújo;Ana Luíza Gonçalves;Thiago Conceição
BR.phone +55 11 9####-####
PL.places Kraków||31-042;Warszawa||00-950;Gdańsk||80-831;Wrocław||50-077
PL.streets ul. Floriańska {n};ul. Marszałkowska {n}/4;ul. Świdnicka {n}
PL.names Łukasz Wójcik;Zofia Dąbrowska;Michał Krawczyk
PL.phone +48 12 ### ## ##
standard UPS|Ground;USPS|Ground Advantage;FedEx|Home Delivery;USPS|Priority Mail
expedited UPS|2nd Day Air;UPS|Next Day Air;FedEx|2Day
intl UPS|Worldwide Expedited;DHL Express|Worldwide;USPS|Priority Mail International
""")
_COUNTRIES = ("BR", "CA", "DE", "GB", "PL")
_SKU = "sku name gtin weight_g length_mm width_mm height_mm tracking qty_keyable"
_ORDER = "order_id order_ref channel tote pick_list ship_by priority status ship_to carrier"
_ORDER += " service assigned_at"
_ADDRESS = "name company street1 street2 city region postal_code country phone"


def _row(columns: str, *values: object) -> dict[str, object]:
    return dict(zip(columns.split(), values, strict=True))


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """Rows in the sample; ``added`` is how many were new (0 when it was already loaded)."""

    skus: int
    barcodes: int
    cartons: int
    operators: int
    orders: int
    order_lines: int
    added: int


def load_sample(
    db: sqlite_utils.Database,
    *,
    seed: int = 7,
    orders: int = 40,
    skus: int = 300,
    now: dt.datetime | None = None,
) -> SampleSummary:
    """Load the sample for ``seed`` (same seed and ``now``: same rows) in one transaction.

    Existing keys are skipped, not updated. Ship-by times are within two days of ``now``
    (default: the current time; a naive datetime is taken as UTC).
    """
    if skus < 1 or orders < 0:
        raise ValueError("the sample needs at least one SKU and a non-negative order count")
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    rng = random.Random(seed)
    sku_rows, barcode_rows = _catalogue(rng, skus)
    order_rows, line_rows = _orders(rng, orders, sku_rows, now)
    columns = "code name length_mm width_mm height_mm tare_g max_weight_g"
    cartons = [_row(columns, *_numbers(c.split("|"))) for c in _CARTONS.splitlines()]
    operators = []
    for row in _OPERATORS.splitlines():
        badge, name, role, pin = row.split("|")
        pin_hash = hash_pin(pin) if pin else None
        operators.append(_row("badge name role pin_hash", badge, name, role, pin_hash))
    tables = {"skus": sku_rows, "barcodes": barcode_rows, "cartons": cartons}
    tables |= {"operators": operators, "orders": order_rows, "order_lines": line_rows}
    with db.atomic():
        before = db.conn.total_changes
        for table, rows in tables.items():
            db[table].insert_all(rows, ignore=True)
        added = db.conn.total_changes - before
    return SampleSummary(*(len(rows) for rows in tables.values()), added=added)


def _numbers(values: list[str]) -> list[str | int]:
    return [int(v) if v.isdigit() else v for v in values]


def _catalogue(rng: random.Random, count: int) -> tuple[list[dict], list[dict]]:
    families = []
    for spec in _FAMILIES.splitlines():
        prefix, name, cat, grams, dims, tracking, keyable, axes = _numbers(spec.split("|"))
        values = [[(v.split(":") + ["1"])[:3] for v in _AXES[a]] for a in axes.split()]
        combos = list(itertools.product(*values))
        rng.shuffle(combos)
        families.append((prefix, name, cat, grams, dims, tracking, keyable, combos))
    skus: list[dict] = []
    barcodes: list[dict] = []
    company: dict[str, str] = {}
    next_ref: dict[str, int] = {}
    while len(skus) < count:
        left = {t: [f for f in families if f[5] == t and f[7]] for t in _TRACKING_MIX}
        mix = [t for t in _TRACKING_MIX if left[t]]
        if not mix:
            raise ValueError(f"the sample catalogue has only {len(skus)} SKUs")
        tracking = rng.choices(mix, [_TRACKING_MIX[t] for t in mix])[0]
        prefix, name, cat, grams, dims, _, keyable, combos = rng.choice(left[tracking])
        combo = combos.pop()
        labels = [label for _, label, _ in combo]
        if "{" in name:
            name = name.format(*labels)
        elif labels:
            name = f"{name} - {' / '.join(labels)}"
        sku = "-".join([prefix, *(code for code, _, _ in combo)])
        # GTIN: company prefix + item reference (+ check digit), zero padded to 14 digits.
        comp = company.setdefault(prefix, rng.choice(_COMPANIES[cat]))
        width = (11 if comp[0] == "U" else 12) - len(comp) + 1
        next_ref[comp] = next_ref.get(comp, rng.randrange(10**width // 2)) + rng.randint(1, 7)
        body = ("00" if comp[0] == "U" else "0") + comp[1:] + f"{next_ref[comp]:0{width}d}"
        gtin = body + str(gs1_standard_check_digit(body))
        weight = grams * math.prod(float(f) for _, _, f in combo) * rng.uniform(0.96, 1.04)
        size = [int(d) for d in dims.split("x")]
        skus.append(_row(_SKU, sku, name, gtin, round(weight, 1), *size, tracking, keyable))
        barcodes.append(_row("code sku units kind", gtin, sku, 1, "gtin"))
        barcodes.append(_row("code sku units kind", sku, sku, 1, "sku"))
        if keyable and rng.random() < 0.7:  # an inner pack or case with its own GTIN-14
            case = str(rng.randint(1, 8)) + gtin[1:13]
            case += str(gs1_standard_check_digit(case))
            units = rng.choice((6, 12, 24))
            barcodes.append(_row("code sku units kind", case, sku, units, "gtin"))
    return skus, barcodes


def _orders(
    rng: random.Random, count: int, skus: list[dict], now: dt.datetime
) -> tuple[list[dict], list[dict]]:
    plain = [s for s in skus if s["tracking"] == "none"]
    tracked = [s for s in skus if s["tracking"] != "none"]
    # A fixed ~12 % of orders hold one lot or serial tracked item (slower to pack).
    with_tracked = set(rng.sample(range(count), round(count * 0.12))) if tracked else set()
    totes = rng.sample(range(1, max(10_000, count + 1)), count)
    shopify, pick_list = rng.randint(1040, 4800), rng.randint(20_000, 80_000)
    orders, lines = [], []
    for i in range(count):
        order_id = f"SO-{10001 + i}"
        channel = rng.choices(("shopify", "amazon", "tiktok"), (50, 35, 15))[0]
        if channel == "shopify":
            shopify += rng.randint(1, 3)
            ref = f"#{shopify}"
        elif channel == "amazon":
            ref = f"{rng.randint(111, 114)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        else:
            ref = str(rng.randrange(576 * 10**15, 577 * 10**15))
        intl = channel == "shopify" and rng.random() < 0.25
        urgent = rng.random() < 0.12
        minutes = rng.randint(20, 90) if urgent else rng.randint(120, 48 * 60)
        ship_by = _iso(now + dt.timedelta(minutes=minutes - minutes % 15))
        priority = 2 if urgent else rng.choices((0, 1, 2), (75, 18, 7))[0]
        kind = "intl" if intl else "expedited" if priority == 2 else "standard"
        carrier, service = rng.choice(_ADDR[kind]).split("|")
        ship_to = json.dumps(_address(rng, intl), ensure_ascii=False)
        assigned_at = _iso(now - dt.timedelta(minutes=rng.randint(3, 180)))
        tote, pick = f"TOTE-{totes[i]:04d}", f"PL-{pick_list + i:06d}"
        row = (order_id, ref, channel, tote, pick, ship_by, priority, "assigned", ship_to)
        orders.append(_row(_ORDER, *row, carrier, service, assigned_at))
        n = rng.choices(range(1, 7), (52, 26, 11, 6, 3, 2))[0]
        picks = [rng.choice(tracked)] if i in with_tracked or not plain else []
        picks += rng.sample(plain, min(n - len(picks), len(plain)))
        for line_no, sku in enumerate(picks, 1):
            if sku["qty_keyable"]:
                qty = rng.choice((1, 2, 3, 4, 6, 8, 10, 12))
            elif sku["tracking"] == "serial":
                qty = 1
            else:
                qty = rng.choices((1, 2, 3, 4), (80, 13, 5, 2))[0]
            lines.append(_row("order_id line_no sku qty", order_id, line_no, sku["sku"], qty))
    return orders, lines


def _address(rng: random.Random, intl: bool) -> dict[str, object]:
    country = rng.choice(_COUNTRIES) if intl else "US"
    city, region, postal, *area = rng.choice(_ADDR[f"{country}.places"]).split("|")
    street2 = ""
    if intl:
        name = rng.choice(_ADDR[f"{country}.names"])
        street1 = rng.choice(_ADDR[f"{country}.streets"]).format(n=rng.randint(1, 180))
        phone = _ADDR[f"{country}.phone"][0]
    else:
        name = f"{rng.choice(_ADDR['US.first'])} {rng.choice(_ADDR['US.last'])}"
        street1 = f"{rng.randint(10, 9899)} {rng.choice(_ADDR['US.streets'])}"
        if rng.random() < 0.25:
            street2 = rng.choice(_ADDR["US.units"])
        phone = f"({area[0]}) 555-01##"  # 555-0100..0199: reserved for fiction
    phone = "".join(str(rng.randrange(10)) if c == "#" else c for c in phone)
    company = rng.choice(_ADDR["companies"]) if rng.random() < 0.1 else ""
    place = (city, region, postal, country, phone)
    return _row(_ADDRESS, name, company, street1, street2, *place)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def printed_gtin(gtin14: str) -> str:
    """A stored GTIN-14 as printed on the item: UPC-A (12), EAN-13, or GTIN-14 as is."""
    return gtin14[2:] if gtin14.startswith("00") else gtin14[1:] if gtin14[0] == "0" else gtin14


def demo_barcodes_for(
    db: sqlite_utils.Database, order_id: str, *, remaining: bool = False
) -> list[str]:
    """What a scanner sends to pack ``order_id`` exactly: one scan per unit, line by line.

    Untracked items give their printed GTIN; tracked ones a GS1 element string with (01)
    and the lot (10) with an expiry (17), or the serial (21), unique per order, line and
    unit. Expiry dates are 6-24 months after today. With ``remaining``, units already
    scanned (not undone) or marked short are left out.
    """
    if db.execute("SELECT 1 FROM orders WHERE order_id = ?", [order_id]).fetchone() is None:
        raise LookupError(f"no order {order_id}")
    rows = db.execute(
        "SELECT l.line_no, l.sku, l.qty, l.qty_short, s.tracking, (SELECT coalesce(sum(qty), 0) "
        "FROM scans WHERE line_id = l.line_id AND undone = 0), coalesce((SELECT code FROM "
        "barcodes WHERE code = s.gtin AND sku = l.sku AND units = 1), (SELECT min(code) FROM "
        "barcodes WHERE sku = l.sku AND kind = 'gtin' AND units = 1)) "
        "FROM order_lines l JOIN skus s ON s.sku = l.sku WHERE l.order_id = ? ORDER BY l.line_no",
        [order_id],
    ).fetchall()
    scans = []
    for line_no, sku, qty, short, tracking, scanned, gtin in rows:
        h = zlib.crc32(f"{order_id}/{line_no}/{sku}".encode())
        lot = f"L{h % 100_000:05d}"
        expiry = (dt.date.today() + dt.timedelta(days=180 + h % 540)).strftime("%y%m%d")
        for unit in range(1 + (scanned + short if remaining else 0), qty + 1):
            if gtin is None:  # no GTIN: the SKU label (tracked items then cannot be packed)
                scans.append(sku)
            elif tracking == "lot_expiry":  # both field orders occur on real labels
                scans.append(
                    f"01{gtin}17{expiry}10{lot}" if h % 2 else f"01{gtin}10{lot}{GS}17{expiry}"
                )
            elif tracking == "lot":
                scans.append(f"01{gtin}10{lot}")
            elif tracking == "serial":
                scans.append(f"01{gtin}21{h:08X}{unit:02d}")
            else:
                scans.append(printed_gtin(gtin))
    return scans


def wrong_barcode_for(db: sqlite_utils.Database, order_id: str) -> str:
    """The printed GTIN of an item not in ``order_id`` (the same one each time)."""
    rows = db.execute(
        "SELECT code FROM barcodes WHERE kind = 'gtin' AND units = 1 AND sku NOT IN "
        "(SELECT sku FROM order_lines WHERE order_id = ?) ORDER BY code",
        [order_id],
    ).fetchall()
    codes = [code for (code,) in rows]
    if not codes:
        raise LookupError(f"every item with a GTIN is in order {order_id}")
    return printed_gtin(random.Random(order_id).choice(codes))
