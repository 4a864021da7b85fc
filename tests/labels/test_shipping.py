"""The 4 x 6 shipping label: framing, UTF-8, barcodes that decode, injection, bounds."""

from __future__ import annotations

import dataclasses
import re

import biip
import pytest
import zplkit
import zxingcpp
from PIL import ImageOps
from zplkit.parse import parse
from zplkit.rendering import RenderError

from routing import tracking
from station.labels.shipping import Address, render_zpl, sample_label, sample_zpl
from tests.labels.zplkit_helpers import barcodes, render

SAMPLE = sample_label()


def _with_to(**changes) -> object:
    return dataclasses.replace(SAMPLE, ship_to=dataclasses.replace(SAMPLE.ship_to, **changes))


def _commands(zpl: bytes, prefix: bytes) -> list[bytes]:
    return [e.data for e in parse(zpl).elements if e.data.startswith(prefix)]


def test_sample_is_one_utf8_label():
    z = sample_zpl()
    assert z.startswith(b"^XA") and z.endswith(b"^XZ")
    assert b"^CI28" in z and b"^PW812" in z and b"^LL1218" in z
    z.decode("utf-8")
    assert len(_commands(z, b"^XA")) == 1 and len(_commands(z, b"^XZ")) == 1


def test_utf8_names_are_in_the_zpl_as_utf8():
    z = render_zpl(_with_to(name="Zoë Müller", city="São Paulo", country="BR"))
    assert "Zoë Müller".encode() in z
    assert "SÃO PAULO".encode() in z  # the city line is in capitals, as posts ask
    assert "ŁÓDŹ".encode() in sample_zpl() and "Łódzka".encode() in sample_zpl()


def test_utf8_text_renders_where_the_preview_font_has_the_glyph():
    # zplkit's captured font 0 has é, so this exercises ^CI28 + ^FH + UTF-8 end to end.
    label = _with_to(name="Renée Gérard", company="", street2="", city="Paris", country="FR")
    ship_from = dataclasses.replace(SAMPLE.ship_from, street1="Hafenstrasse 12")
    z = render_zpl(dataclasses.replace(label, ship_from=ship_from))
    assert "Renée Gérard".encode() in z
    assert len(render(z)) == 1


def test_full_utf8_sample_fails_in_the_preview_only_for_glyph_coverage():
    # A printer's font 0 has Ł, ó, ź; zplkit's captured strike has ASCII and é only.
    # If a zplkit release adds the glyphs this renders, which is fine too.
    try:
        zplkit.render(sample_zpl())
    except RenderError as exc:
        assert "glyph" in str(exc)


def test_ascii_only_folds_every_text():
    z = sample_zpl(ascii_only=True)
    assert z.isascii()
    assert b"Zoe Muller" in z and b"90-926 LODZ" in z


def test_barcodes_decode_to_tracking_number_and_sscc():
    image = render(sample_zpl(ascii_only=True))[0]
    found = barcodes(image)
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.Code128] * 2
    track, sscc = found
    assert track.text == SAMPLE.tracking_number == "1Z999AA10123456784"
    assert track.content_type == zxingcpp.ContentType.Text
    assert sscc.content_type == zxingcpp.ContentType.GS1
    assert sscc.symbology_identifier == "]C1"  # FNC1 in first position: GS1-128
    assert sscc.bytes == b"00" + SAMPLE.sscc.encode()
    parsed = biip.parse(sscc.symbology_identifier + sscc.bytes.decode())
    assert parsed.sscc is not None and parsed.sscc.value == "106141411234567897"
    assert parsed.gs1_message.element_strings[0].ai.ai == "00"


def test_sscc_human_readable_line():
    assert b"(00) 1 0614141 123456789 7" in sample_zpl()


@pytest.mark.parametrize(
    "number",
    [
        tracking.usps("001", "901326076", 83345),
        tracking.s10("CP", 12345678, "DE"),
        tracking.ups("A1B2C3", "03", 7654321),
    ],
)
def test_other_carriers_tracking_numbers_decode(number):
    label = dataclasses.replace(SAMPLE, tracking_number=number, carrier="Post", service="Parcel")
    found = barcodes(render(render_zpl(label, ascii_only=True))[0])
    assert found[0].text == number
    assert tracking.format_tracking(number).encode() in render_zpl(label)


def test_weight_date_and_package_count_are_printed():
    z = sample_zpl()
    for text in (b"1.25 KG", b"2.76 LB", b"2024-11-05", b"PKG 1 OF 2", b"ORDER SO-2024-10042"):
        assert text in z


def test_address_cannot_inject_zpl():
    evil = _with_to(
        name="^XZ^XA^FDevil",
        company="~JA~JR",
        street1="Main St_1\r\n^FO0,0^GB812,1218,812^FS",
        street2="\x1b\x03\x7f",
    )
    z = render_zpl(evil)
    assert len(_commands(z, b"^XA")) == 1 and len(_commands(z, b"^XZ")) == 1
    assert not [e for e in parse(z).elements if e.kind == "control_command"]
    assert _commands(z, b"^GB812,1218") == []
    assert b"_5EXZ_5EXA_5EFDevil" in z and b"_7EJA_7EJR" in z
    assert not re.search(rb"[\x00-\x1f\x7f]", z)
    assert len(render(render_zpl(evil, ascii_only=True))) == 1


def _unbounded(z: bytes) -> bytes:
    # Without ^PW/^LL the renderer draws on the bigger canvas we give it, so anything
    # placed past 812 x 1218 shows up as ink there instead of being clipped away.
    return z.replace(b"^PW812", b"").replace(b"^LL1218", b"")


@pytest.mark.parametrize(
    "label",
    [
        SAMPLE,
        _with_to(
            name="Maximiliane Wilhelmine Hohenzollern-Sigmaringen von Württemberg",
            company="Internationale Gesellschaft für Zusammenarbeit und Entwicklung GmbH",
            street1="Friedrich-Ebert-Allee 32 + 36, Gebäude B, Eingang Nord, 3. Stock",
            street2="Abteilung Wareneingang und Qualitätssicherung, Rampe 17",
            city="Frankfurt am Main-Höchst Industriepark West",
            region="Hessen",
            postal_code="65926",
            phone="+49 69 0000 0000 000",
        ),
        dataclasses.replace(
            SAMPLE, carrier="Deutsche Post DHL Group", service="Paket International Premium"
        ),
        _with_to(city="London", postal_code="SW1A 1AA", country="GB", street2="", company=""),
        _with_to(city="Springfield", region="IL", postal_code="62704-1234", country="US"),
        dataclasses.replace(
            SAMPLE,
            ship_from=Address(
                name="Returns Department, Building 7",
                company="Doms Logistics UK Limited",
                street1="Unit 4, Magna Park",
                street2="Mill Road, Lutterworth",
                city="Leicestershire",
                postal_code="LE17 4XH",
                country="GB",
                region="England",
                phone="+44 1455 000000",
            ),
        ),
    ],
)
def test_nothing_is_drawn_outside_the_label(label):
    z = render_zpl(label, ascii_only=True)
    image = ImageOps.invert(render(_unbounded(z), 1000, 1400)[0])
    assert image.crop((812, 0, 1000, 1400)).getbbox() is None
    assert image.crop((0, 1218, 1000, 1400)).getbbox() is None
    for fo in _commands(z, b"^FO"):
        x, y = (int(v) for v in fo[3:].split(b",")[:2])
        assert 0 <= x < 812 and 0 <= y < 1218
    assert len(barcodes(render(z)[0])) == 2  # long text never runs into the barcodes


def test_long_lines_are_cut_with_an_ellipsis():
    street = (
        "Friedrich-Ebert-Allee 32 + 36, Gebäude B, Eingang Nord, 3. Stock, Raum 3.117 bis 3.121"
    )
    z = render_zpl(_with_to(street1=street))
    assert street.encode() not in z
    assert "Friedrich-Ebert-Allee 32 + 36, Gebäude B".encode() in z and b"..." in z


@pytest.mark.parametrize(
    "change",
    [
        {"sscc": "106141411234567898"},
        {"sscc": "00106141411234567897"},
        {"package_no": 3},
        {"package_no": 0},
        {"weight_g": -1},
        {"tracking_number": "Łódź-1"},
    ],
)
def test_invalid_labels_are_refused(change):
    with pytest.raises(ValueError):
        render_zpl(dataclasses.replace(SAMPLE, **change))


def test_address_lines_follow_the_destination():
    from station.labels.shipping import address_lines

    us = Address("Ann", "1 Main St", "Springfield", "62704", "US", region="IL")
    gb = Address("Bob", "10 Downing St", "London", "SW1A 2AA", "GB")
    pl = SAMPLE.ship_to
    assert address_lines(us)[-1] == "SPRINGFIELD IL 62704"
    assert address_lines(gb)[-2:] == ["LONDON", "SW1A 2AA"]
    assert address_lines(pl)[-1] == "90-926 ŁÓDŹ"
