"""The packing slip: contents, shorts, barcode and QR, and nothing a printer would obey."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.base import SlipDocument
from station.labels.shipping import sample_label
from station.labels.slip import DEFAULT_SHORT_REASON, SlipItem, packing_slip

SHIP_TO = sample_label().ship_to
LINES = [
    ("MUG-BLU-350", "Enamel mug, blue, 350 ml", 2, 2),
    ("TEA-EARL-100", "Earl Grey loose leaf tea, 100 g tin with a description that wraps", 3, 1),
    SlipItem("SPOON-X", "Spoon", 1, 0),
]


def _slip(**kw) -> SlipDocument:
    args = {"shorts": {"TEA-EARL-100": "out of stock, ships separately"}, "packages": 2}
    return packing_slip("SO-2024-10042", SHIP_TO, LINES, **(args | kw))


def _texts(doc: SlipDocument) -> list[str]:
    return [line.text for line in doc.lines]


def test_slip_carries_order_barcode_and_returns_qr():
    doc = _slip(returns_url="https://returns.example.com/SO-2024-10042")
    assert doc.barcode == "SO-2024-10042"
    assert doc.qr == "https://returns.example.com/SO-2024-10042"
    assert _slip().qr == "SO-2024-10042"


def test_slip_lists_every_line_with_quantities():
    texts = "\n".join(_texts(_slip(packed_on=dt.date(2024, 11, 5))))
    assert "MUG-BLU-350" in texts and "TEA-EARL-100" in texts and "SPOON-X" in texts
    assert "Units ordered 6, packed 3" in texts
    assert "Cartons in this shipment: 2" in texts and "Packed 2024-11-05" in texts
    assert "Zoë Müller" in texts and "90-926 ŁÓDŹ" in texts


def test_short_lines_are_marked_and_explained():
    texts = _texts(_slip())
    assert "2 x TEA-EARL-100: out of stock, ships" in texts
    assert texts[texts.index("2 x TEA-EARL-100: out of stock, ships") + 1] == "  separately"
    assert f"1 x SPOON-X: {DEFAULT_SHORT_REASON}" in texts
    assert not any("MUG-BLU-350:" in t for t in texts)


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_no_line_is_wider_than_the_paper(columns):
    doc = _slip(columns=columns)
    for line in doc.lines:
        limit = columns // 2 if line.double else columns
        assert len(line.text) <= limit, line.text


def test_control_characters_never_reach_the_printer():
    evil = SHIP_TO.__class__(
        name="Eve\x1b@\x1dV\x00", street1="1 Road\r\nX", city="Town", postal_code="1", country="GB"
    )
    doc = packing_slip("SO-1", evil, [("SKU\x1b1", "desc\x07", 1, 1)])
    assert all(c.isprintable() for line in doc.lines for c in line.text)


@pytest.mark.parametrize(
    ("ref", "lines", "packages"),
    [
        ("SO-1", [("A", "a", -1, 0)], 1),
        ("SO-1", [("A", "a", 1, 1)], 0),
        ("Zamówienie-1", [("A", "a", 1, 1)], 1),
    ],
)
def test_bad_input_is_refused(ref, lines, packages):
    with pytest.raises(ValueError):
        packing_slip(ref, SHIP_TO, lines, packages=packages)


def test_slip_renders_through_the_escpos_protocol():
    # The slip printer driver turns the same document into ESC/POS bytes.
    escpos = pytest.importorskip("drivers.protocols.escpos")
    data = escpos.render_slip(_slip(returns_url="https://returns.example.com/SO-2024-10042"))
    assert data.startswith(b"\x1b@") and b"SO-2024-10042" in data
