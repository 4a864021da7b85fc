"""The command barcode sheet: every code decodes exactly, pages split, nothing injected."""

from __future__ import annotations

import pytest
from zplkit.parse import parse

from station.labels.command_sheet import EXAMPLE_COMMANDS, command_sheet_zpl
from tests.labels.zplkit_helpers import barcodes, render

MORE = [
    ("CMD:CLOSE", "Close carton"),
    ("CMD:NEWBOX", "Start a new carton"),
    ("CMD:WEIGH", "Weigh again"),
    ("CMD:LOGOUT", "Log out"),
]


def _labels(z: bytes) -> int:
    return sum(1 for e in parse(z).elements if e.data.startswith(b"^XA"))


def test_three_commands_make_one_label_whose_barcodes_decode():
    z = command_sheet_zpl(EXAMPLE_COMMANDS)
    assert z.startswith(b"^XA") and z.endswith(b"^XZ") and _labels(z) == 1
    [image] = render(z)
    assert [b.text for b in barcodes(image)] == ["CMD:SHORT", "CMD:UNDO", "CMD:REPRINT"]
    for _, description in EXAMPLE_COMMANDS:
        assert description.encode() in z


def test_more_than_six_commands_continue_on_a_second_label():
    commands = [*EXAMPLE_COMMANDS, *MORE]
    z = command_sheet_zpl(commands, title="STATION 3")
    images = render(z)
    assert len(images) == 2 and _labels(z) == 2
    decoded = [b.text for image in images for b in barcodes(image)]
    assert decoded == [code for code, _ in commands]
    assert b"page 2 of 2" in z


def test_codes_with_zpl_special_characters_decode_exactly():
    commands = [("CMD:A^B", "caret"), ("CMD:~JA", "tilde"), ("CMD:>X_1", "angle, underscore")]
    z = command_sheet_zpl(commands)
    assert _labels(z) == 1
    assert not [e for e in parse(z).elements if e.kind == "control_command"]
    assert [b.text for b in barcodes(render(z)[0])] == [c for c, _ in commands]


def test_descriptions_cannot_inject_commands():
    z = command_sheet_zpl([("CMD:UNDO", "Undo^XZ^XA^FDevil\r\n~JA")])
    assert _labels(z) == 1
    assert b"Undo_5EXZ_5EXA_5EFDevil _7EJA" in z


def test_utf8_descriptions_and_ascii_fallback():
    z = command_sheet_zpl([("CMD:SHORT", "Brak towaru – oznacz pozycję")])
    assert "oznacz pozycję".encode() in z
    folded = command_sheet_zpl([("CMD:SHORT", "Brak towaru – oznacz pozycję")], ascii_only=True)
    assert b"oznacz pozycje" in folded and len(render(folded)) == 1


@pytest.mark.parametrize("commands", [[], [("CMD:ŁÓDŹ", "x")], [("CMD:" + "X" * 60, "long")]])
def test_bad_commands_are_refused(commands):
    with pytest.raises(ValueError):
        command_sheet_zpl(commands)
