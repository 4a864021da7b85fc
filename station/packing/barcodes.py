"""What a scanned barcode is, in the station's terms, with ``biip`` doing the GS1 parsing.

The result says which GTIN (always as GTIN-14) and which lot, expiry and serial a scan
carries, or why it was refused (a bad check digit is refused with the reason, never
guessed at). Matching against the catalogue happens in :mod:`station.packing.session`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import biip

COMMAND_PREFIX = "CMD:"
# AIM symbology identifiers a scanner may prepend (]C1 GS1-128, ]d2 GS1 DataMatrix, ]Q3 GS1
# QR, ]E0 EAN-13...). biip reads them; for plain lookups we strip them.
_AIM_LEN = 3


@dataclass(frozen=True, slots=True)
class ParsedScan:
    raw: str
    text: str  # raw without AIM identifier and surrounding whitespace
    command: str | None = None  # "SHORT" for CMD:SHORT
    gtin14: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None
    count: int | None = None  # AI (30)/(37): units in the scanned item
    sscc: str | None = None
    error: str | None = None  # why a GS1-looking code was refused


def strip_aim(raw: str) -> str:
    if len(raw) >= _AIM_LEN and raw[0] == "]" and raw[1].isalpha():
        return raw[_AIM_LEN:]
    return raw


def parse_scan(raw: str, separator_chars: tuple[str, ...] = ("\x1d",)) -> ParsedScan:
    """Parse one scan. Never raises; a refused GS1 code comes back with ``error`` set.

    ``separator_chars`` are accepted in place of GS (FNC1) for wedges that cannot type
    ASCII 29.
    """
    raw = raw.strip("\r\n")
    text = strip_aim(raw).strip()
    if text.upper().startswith(COMMAND_PREFIX):
        return ParsedScan(raw=raw, text=text, command=text[len(COMMAND_PREFIX) :].strip().upper())
    if not _could_be_gs1(text):
        return ParsedScan(raw=raw, text=text)
    if text.isdigit() and len(text) in (8, 12, 13, 14):
        # A bare GTIN. biip would also read some of these as GS1 element strings (a
        # GTIN-13 starting 400 looks like AI 400), which is never what a shelf item means.
        try:
            gtin = biip.gtin.Gtin.parse(text)
        except biip.ParseError as exc:
            return ParsedScan(raw=raw, text=text, error=_first_line(str(exc)))
        return ParsedScan(raw=raw, text=text, gtin14=gtin.as_gtin_14())
    try:
        if text.startswith("("):
            msg = biip.gs1_messages.GS1Message.parse_hri(text)
        else:
            config = biip.ParseConfig(separator_chars=separator_chars)
            result = biip.parse(raw.strip(), config=config)
            if result.gs1_message is None:
                if result.sscc is not None:
                    return ParsedScan(raw=raw, text=text, sscc=result.sscc.value)
                return ParsedScan(raw=raw, text=text)
            msg = result.gs1_message
    except biip.ParseError as exc:
        return ParsedScan(raw=raw, text=text, error=_first_line(str(exc)))
    return _from_gs1_message(raw, text, msg)


def _from_gs1_message(raw: str, text: str, msg: object) -> ParsedScan:
    fields: dict[str, object] = {}
    for es in msg.element_strings:  # type: ignore[attr-defined]
        ai = es.ai.ai
        if ai in ("01", "02"):
            if es.gtin is None:
                return ParsedScan(
                    raw=raw, text=text, error=_first_line(es.gtin_error or "bad GTIN")
                )
            fields["gtin14"] = es.gtin.as_gtin_14()
        elif ai == "00":
            if es.sscc is None:
                return ParsedScan(
                    raw=raw, text=text, error=_first_line(es.sscc_error or "bad SSCC")
                )
            fields["sscc"] = es.sscc.value
        elif ai == "10":
            fields["lot"] = es.value
        elif ai == "21":
            fields["serial"] = es.value
        elif ai in ("17", "15", "12") and "expiry" not in fields:
            fields["expiry"] = es.date
        elif ai in ("30", "37"):
            fields["count"] = int(es.value)
    if not fields:
        return ParsedScan(raw=raw, text=text)
    return ParsedScan(raw=raw, text=text, **fields)  # type: ignore[arg-type]


def _could_be_gs1(text: str) -> bool:
    # GS1 element strings and GTINs start with digits (or "(" in human-readable form);
    # SKU labels, badges, totes and commands usually do not, and skipping biip for them
    # keeps the scan path short.
    return bool(text) and (text[0].isdigit() or text[0] == "(")


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else message
