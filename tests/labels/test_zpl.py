"""ZPL building blocks: escaping, text clean-up, font-0 widths, Code 128 encoding."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ImageOps

from station.labels import zpl
from station.labels.text import clean_text, fold_ascii
from tests.labels.zplkit_helpers import barcodes, render


def test_fh_escape_leaves_no_caret_or_tilde():
    escaped = zpl.fh_escape("a^b~c_d")
    assert escaped == "a_5Eb_7Ec_5Fd"
    assert "^" not in escaped and "~" not in escaped


def test_clean_text_drops_controls_and_composes():
    assert clean_text("Zoe\u0308\tM\u00fcller\r\n\x1b[0m\u202e") == "Zoë Müller [0m"
    assert clean_text("  a \u2028 b  ") == "a b"


def test_fold_ascii():
    assert fold_ascii("Zoë Müller, São Paulo, Łódź, Straße, Ørsted") == (
        "Zoe Muller, Sao Paulo, Lodz, Strasse, Orsted"
    )
    assert fold_ascii("Москва") == "??????"


def _ink_width(text: str, height: int, width: int) -> int:
    field = zpl.fh_escape(f"|{text}|")
    body = f"^XA^PW2000^LL200^FO0,0^A0N,{height},{width}^FH^FD{field}^FS^XZ".encode()
    image = ImageOps.invert(render(body, 2000, 200)[0])
    return image.getbbox()[2]


def test_width_table_holds_for_every_ascii_character():
    # zpl._ADV32 was measured on zplkit's font 0 (the ZD621 metrics); check it still is.
    base = _ink_width("", 32, 32)
    measured = {chr(c): (_ink_width(chr(c) * 10, 32, 32) - base) / 10 for c in range(32, 127)}
    assert measured == {c: float(zpl.text_width(c, 32)) for c in measured}


@pytest.mark.parametrize("height", [20, 22, 24, 28, 30, 36, 40, 44, 50, 52, 88])
@pytest.mark.parametrize("condense", [1.0, 0.85, 0.7])
def test_width_estimate_errs_wide_but_close(height, condense):
    width = int(height * condense)
    text = "Piotrkowska 104/6, 90-926 LODZ Wj"
    measured = _ink_width(text, height, width) - _ink_width("", height, width)
    estimate = zpl.text_width(text, height, width)
    assert measured <= estimate <= measured * 1.12


def test_fit_text_condenses_then_cuts():
    text, w = zpl.fit_text("Short", 400, 40)
    assert (text, w) == ("Short", 40)
    long = "Avenida Presidente Juscelino Kubitschek 1909, Torre Norte, 24 andar"
    text, w = zpl.fit_text(long, 400, 40)
    assert text.endswith("...") and w == 28
    assert zpl.text_width(text, 40, w) <= 400
    mid = "Rua Oscar Freire 2500 apto 12"
    text, w = zpl.fit_text(mid, 400, 40)
    assert text == mid and 28 <= w < 40


def test_code128_invocations_pick_subsets():
    assert zpl.code128_invocations("1Z999AA10123456784") == (">:1Z999AA1>50123456784", 16)
    assert zpl.code128_invocations("9200190132607600833457") == (">;9200190132607600833457", 13)
    assert zpl.code128_invocations("A>B") == (">:A>0B", 5)


def test_code128_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError):
        zpl.code128_invocations("Łódź")
    with pytest.raises(ValueError):
        zpl.code128_invocations("")
    with pytest.raises(ValueError):
        zpl.code128("X" * 80, 0, 100)


def _decode_one(data: str) -> str:
    bc = zpl.code128(data, 20, 80)
    image = render(zpl.label([bc.zpl], 812, 140).encode(), 812, 140)[0]
    found = barcodes(image)
    assert len(found) == 1
    return found[0].text


@pytest.mark.parametrize("data", ["CMD:SHORT", "12", "123", "12345", "A>B", "a^b~c_d", "SO-1/2"])
def test_code128_decodes_to_exactly_its_data(data):
    assert _decode_one(data) == data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20))
def test_any_printable_ascii_round_trips_through_zpl_and_a_decoder(data):
    assert _decode_one(data) == data


def test_gs1_128_carries_fnc1_and_the_element_string():
    bc = zpl.code128("00106141411234567897", 20, 100, gs1=True)
    assert ">;>800106141411234567897" in bc.zpl
    found = barcodes(render(zpl.label([bc.zpl], 812, 160).encode(), 812, 160)[0])
    assert found[0].symbology_identifier == "]C1"
    assert found[0].bytes == b"00106141411234567897"
