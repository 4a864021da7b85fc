"""Tracking and container numbers in real carrier formats, with their check digits.

Pure functions, no I/O. Four formats:

* **UPS** ``1Z`` + shipper (6) + service (2) + reference (7) + check digit. The check digit
  is UPS's mod 10 over the 15 characters after ``1Z``: letters become ``(ord(c) - 63) % 10``,
  odd positions count once, even positions twice.
* **USPS IMpb**, the 22-digit tracking number printed under an Intelligent Mail package
  barcode (USPS Publication 199): channel application identifier ``92`` (9-digit Mailer ID,
  7-digit serial) or ``93`` (6-digit Mailer ID, 10-digit serial), then the 3-digit service
  type code, the Mailer ID, the serial and a GS1 mod-10 check digit. The ``420`` + ZIP
  routing prefix that the barcode also carries is *not* part of the tracking number.
  ``94``/``95`` numbers (Mailer ID plus a 2-digit source identifier, issued by PC postage
  vendors) are also 22 digits with the same check digit; they validate but are not made here.
* **UPU S10** (international postal items): 2-letter service indicator + 8-digit serial +
  mod-11 check digit (weights 8 6 4 2 3 5 9 7) + ISO 3166 alpha-2 country of the issuing post.
* **SSCC-18** (GS1 Serial Shipping Container Code, AI 00): extension digit + GS1 company
  prefix + serial reference, 17 digits, + GS1 mod-10 check digit (``biip.checksums``).

Numbering and uniqueness. Every format is (fixed prefix, serial, check digit); the carrier
or GS1 gives us the prefix, we choose the serials. :class:`TrackingAllocator` turns a
caller-kept counter into the next number, without state of its own: the station keeps its
counter in SQLite and advances it in the same transaction as the pack event that uses the
number, so a crash never issues one number twice. Numbers stay unique across sites and
stations because the hub gives each station a *disjoint* :class:`SerialBlock` of the serial
space (``SerialBlock.partition``); stations never coordinate at packing time, which keeps
the network off the path of a scan. When a block runs low the station asks the hub for a
new one. A block is never handed out twice, so retired stations keep theirs.

Check-digit strength (worth knowing before trusting a scan): GS1 mod 10 (USPS, SSCC)
catches every single-digit error. UPS's weights 1 and 2 miss a change of exactly 5 in a
doubled position, and letters 10 apart in ASCII (A/K/U) map to the same value. S10's mod 11
catches every single-digit change to the serial except those that move the weighted sum's
remainder between 0 and 6, because both map to check digit 5.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Protocol

from biip.checksums import gs1_standard_check_digit
from biip.sscc import Sscc

__all__ = [
    "Kind",
    "RangeExhausted",
    "S10Scheme",
    "Scheme",
    "SerialBlock",
    "SsccScheme",
    "TrackingAllocator",
    "UpsScheme",
    "UspsScheme",
    "detect",
    "format_tracking",
    "is_valid",
    "is_valid_s10",
    "is_valid_sscc",
    "is_valid_ups",
    "is_valid_usps",
    "s10",
    "s10_check_digit",
    "sscc",
    "sscc_check_digit",
    "ups",
    "ups_check_digit",
    "usps",
    "usps_check_digit",
]


class Kind(enum.StrEnum):
    UPS = "ups"
    USPS = "usps"
    S10 = "s10"
    SSCC = "sscc"


# --- UPS ------------------------------------------------------------------------------

_UPS_RE = re.compile(r"1Z[0-9A-Z]{15}[0-9]")
_ALNUM_RE = re.compile(r"[0-9A-Z]+")


def _ups_value(c: str) -> int:
    # UPS maps letters by ASCII code: A=65 -> 2, ..., I -> 0, J -> 1; digits are themselves.
    return int(c) if c.isdigit() else (ord(c) - 63) % 10


def ups_check_digit(body: str) -> int:
    """Check digit for the 15 characters after ``1Z`` (shipper, service, reference)."""
    if len(body) != 15 or not _ALNUM_RE.fullmatch(body):
        raise ValueError(f"UPS body must be 15 characters 0-9/A-Z, got {body!r}")
    total = sum(_ups_value(c) * (1 if i % 2 == 0 else 2) for i, c in enumerate(body))
    return (10 - total % 10) % 10


def ups(shipper: str, service: str, reference: int) -> str:
    """``1Z`` number for a 6-character shipper account, 2-character service, 7-digit reference."""
    if len(shipper) != 6 or not _ALNUM_RE.fullmatch(shipper):
        raise ValueError(f"UPS shipper must be 6 characters 0-9/A-Z, got {shipper!r}")
    if len(service) != 2 or not _ALNUM_RE.fullmatch(service):
        raise ValueError(f"UPS service must be 2 characters 0-9/A-Z, got {service!r}")
    if not 0 <= reference < 10**7:
        raise ValueError(f"UPS reference must be 0..9999999, got {reference}")
    body = f"{shipper}{service}{reference:07d}"
    return f"1Z{body}{ups_check_digit(body)}"


def is_valid_ups(s: str) -> bool:
    """True for ``1Z`` + 15 characters 0-9/A-Z + correct check digit (upper case only)."""
    return bool(_UPS_RE.fullmatch(s)) and ups_check_digit(s[2:17]) == int(s[17])


# --- USPS IMpb --------------------------------------------------------------------------

_USPS_RE = re.compile(r"9[2-5][0-9]{20}")


def usps_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the first 21 digits (USPS Pub. 199 uses the GS1 rule)."""
    if len(body) != 21 or not body.isdigit():
        raise ValueError(f"IMpb body must be 21 digits, got {body!r}")
    return gs1_standard_check_digit(body)


def usps(service_type: str, mailer_id: str, serial: int) -> str:
    """22-digit IMpb tracking number; the channel (92/93) follows from the Mailer ID length."""
    if len(service_type) != 3 or not service_type.isdigit():
        raise ValueError(f"service type code must be 3 digits, got {service_type!r}")
    if len(mailer_id) not in (6, 9) or not mailer_id.isdigit():
        raise ValueError(f"Mailer ID must be 6 or 9 digits, got {mailer_id!r}")
    channel, serial_len = ("92", 7) if len(mailer_id) == 9 else ("93", 10)
    if not 0 <= serial < 10**serial_len:
        raise ValueError(f"serial must fit {serial_len} digits, got {serial}")
    body = f"{channel}{service_type}{mailer_id}{serial:0{serial_len}d}"
    return f"{body}{usps_check_digit(body)}"


def is_valid_usps(s: str) -> bool:
    """True for a 22-digit IMpb tracking number (92-95...) with a correct check digit."""
    return bool(_USPS_RE.fullmatch(s)) and usps_check_digit(s[:21]) == int(s[21])


# --- UPU S10 ----------------------------------------------------------------------------

_S10_RE = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit for an 8-digit serial: 11 - (weighted sum mod 11), 10->0, 11->5."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"S10 serial must be 8 digits, got {serial!r}")
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def s10(service: str, serial: int, country: str) -> str:
    """S10 identifier, e.g. ``s10("RR", 12345678, "GB") == "RR123456785GB"``."""
    if not re.fullmatch(r"[A-Z]{2}", service):
        raise ValueError(f"S10 service indicator must be 2 letters A-Z, got {service!r}")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError(f"S10 country must be ISO 3166 alpha-2 (A-Z), got {country!r}")
    if not 0 <= serial < 10**8:
        raise ValueError(f"S10 serial must be 0..99999999, got {serial}")
    digits = f"{serial:08d}"
    return f"{service}{digits}{s10_check_digit(digits)}{country}"


def is_valid_s10(s: str) -> bool:
    """True for 2 letters + 8 digits + correct check digit + 2 letters.

    The country is checked for shape only, not against the ISO 3166 list.
    """
    return bool(_S10_RE.fullmatch(s)) and s10_check_digit(s[2:10]) == int(s[10])


# --- SSCC -------------------------------------------------------------------------------

_SSCC_RE = re.compile(r"[0-9]{18}")


def sscc_check_digit(payload: str) -> int:
    """GS1 mod-10 check digit for the first 17 digits of an SSCC."""
    if len(payload) != 17 or not payload.isdigit():
        raise ValueError(f"SSCC payload must be 17 digits, got {payload!r}")
    return gs1_standard_check_digit(payload)


def sscc(extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    """18-digit SSCC; the serial reference fills the digits the company prefix leaves."""
    if not 0 <= extension_digit <= 9:
        raise ValueError(f"extension digit must be 0..9, got {extension_digit}")
    if not 6 <= len(company_prefix) <= 12 or not company_prefix.isdigit():
        raise ValueError(f"GS1 company prefix must be 6-12 digits, got {company_prefix!r}")
    width = 16 - len(company_prefix)
    if not 0 <= serial_reference < 10**width:
        raise ValueError(f"serial reference must fit {width} digits, got {serial_reference}")
    payload = f"{extension_digit}{company_prefix}{serial_reference:0{width}d}"
    return f"{payload}{sscc_check_digit(payload)}"


def is_valid_sscc(s: str) -> bool:
    """True for 18 digits with a correct GS1 check digit (no AI ``00`` prefix)."""
    return bool(_SSCC_RE.fullmatch(s)) and sscc_check_digit(s[:17]) == int(s[17])


# --- Any --------------------------------------------------------------------------------

_VALIDATORS = {
    Kind.UPS: is_valid_ups,
    Kind.USPS: is_valid_usps,
    Kind.S10: is_valid_s10,
    Kind.SSCC: is_valid_sscc,
}


def detect(s: str) -> Kind | None:
    """Which format ``s`` is a valid number of, or None. Spaces are ignored."""
    compact = s.replace(" ", "")
    return next((k for k, ok in _VALIDATORS.items() if ok(compact)), None)


def is_valid(s: str) -> bool:
    """True when ``s`` is a valid number in any of the formats here."""
    return detect(s) is not None


def format_tracking(s: str) -> str:
    """Group a number for people to read (``1Z 999 AA1 01 2345 6784``); unknown: unchanged."""
    compact = s.replace(" ", "")
    kind = detect(compact)
    if kind is Kind.UPS:  # the grouping UPS prints on its own labels
        cuts = (2, 5, 8, 10, 14)
    elif kind is Kind.USPS:
        cuts = (4, 8, 12, 16, 20)
    elif kind is Kind.S10:
        cuts = (2, 5, 8, 11)
    elif kind is Kind.SSCC:
        # biip splits extension / company prefix / serial / check by the GS1 prefix tables.
        return Sscc.parse(compact).as_hri()
    else:
        return s
    bounds = (0, *cuts, len(compact))
    return " ".join(compact[a:b] for a, b in zip(bounds, bounds[1:], strict=False))


# --- Allocation -------------------------------------------------------------------------


class RangeExhausted(ValueError):
    """The station's serial block is used up: ask the hub for a new block."""


class Scheme(Protocol):
    """A number format with its fixed parts filled in; only the serial varies."""

    @property
    def capacity(self) -> int:
        """How many serials the format allows (serials are ``0 .. capacity - 1``)."""
        ...

    def make(self, serial: int) -> str:
        """The number for ``serial``. Raises ValueError outside ``0 .. capacity - 1``."""
        ...


@dataclass(frozen=True, slots=True)
class UpsScheme:
    shipper: str
    service: str = "01"

    @property
    def capacity(self) -> int:
        return 10**7

    def make(self, serial: int) -> str:
        return ups(self.shipper, self.service, serial)


@dataclass(frozen=True, slots=True)
class UspsScheme:
    service_type: str
    mailer_id: str

    @property
    def capacity(self) -> int:
        return 10**7 if len(self.mailer_id) == 9 else 10**10

    def make(self, serial: int) -> str:
        return usps(self.service_type, self.mailer_id, serial)


@dataclass(frozen=True, slots=True)
class S10Scheme:
    service: str
    country: str

    @property
    def capacity(self) -> int:
        return 10**8

    def make(self, serial: int) -> str:
        return s10(self.service, serial, self.country)


@dataclass(frozen=True, slots=True)
class SsccScheme:
    company_prefix: str
    extension_digit: int = 0

    @property
    def capacity(self) -> int:
        return 10 ** (16 - len(self.company_prefix))

    def make(self, serial: int) -> str:
        return sscc(self.extension_digit, self.company_prefix, serial)


@dataclass(frozen=True, slots=True)
class SerialBlock:
    """Serials ``start .. start + size - 1`` reserved for one station."""

    start: int
    size: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.size <= 0:
            raise ValueError(f"bad serial block start={self.start} size={self.size}")

    @classmethod
    def partition(cls, capacity: int, index: int, count: int) -> SerialBlock:
        """Block ``index`` of ``count`` equal, disjoint blocks of ``0 .. capacity - 1``.

        The hub uses this (or hands out fixed-size blocks in order) so that no two stations
        ever share a serial. The last ``capacity % count`` serials are left unused.
        """
        if not 0 <= index < count:
            raise ValueError(f"block index {index} not in 0..{count - 1}")
        size = capacity // count
        if size == 0:
            raise ValueError(f"{count} blocks do not fit a capacity of {capacity}")
        return cls(start=index * size, size=size)


@dataclass(frozen=True, slots=True)
class TrackingAllocator:
    """Numbers from a station's block; the caller keeps the counter (0-based, never reused).

    >>> alloc = TrackingAllocator(UpsScheme("999AA1", "01"), SerialBlock(0, 100))
    >>> alloc.next(0)
    ('1Z999AA10100000004', 1)
    """

    scheme: Scheme
    block: SerialBlock

    def __post_init__(self) -> None:
        if self.block.start + self.block.size > self.scheme.capacity:
            raise ValueError(
                f"block {self.block} exceeds the format's capacity {self.scheme.capacity}"
            )

    def number(self, counter: int) -> str:
        """The number for the ``counter``-th serial of the block. Raises RangeExhausted."""
        if counter < 0:
            raise ValueError(f"counter must be >= 0, got {counter}")
        if counter >= self.block.size:
            raise RangeExhausted(f"serial block {self.block} used up at counter {counter}")
        return self.scheme.make(self.block.start + counter)

    def next(self, counter: int) -> tuple[str, int]:
        """``(number, counter + 1)``: store the new counter with the event that uses the number."""
        return self.number(counter), counter + 1

    def remaining(self, counter: int) -> int:
        """How many numbers are left after ``counter`` have been used."""
        return max(self.block.size - counter, 0)
