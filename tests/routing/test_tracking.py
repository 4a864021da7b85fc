"""Tracking and container numbers: published examples, generation, and error detection."""

from __future__ import annotations

import biip
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import tracking as t

# --- Published examples --------------------------------------------------------------
# UPS: 1Z999AA10123456784 is the sample number in UPS developer documentation; the others
# are the valid test numbers of jkeen/tracking_number_data (couriers/ups.json).
UPS_VALID = [
    "1Z999AA10123456784",
    "1Z5R89390357567127",
    "1Z879E930346834440",
    "1Z410E7W0392751591",
    "1Z8V92A70367203024",
]
UPS_INVALID = [
    "1Z999AA10123456785",
    "2Z5R89390357567127",
    "1A5R89390357567127",
    "1Z1111111111111111",
]

# USPS IMpb 22-digit numbers from jkeen/tracking_number_data (couriers/usps.json). The last
# two are the tracking part of its 34-digit "420 + ZIP+4 + tracking" barcode examples
# 4201002334249200190132607600833457 and 4201028200009261290113185417468510.
USPS_VALID = [
    "9505511069605048600624",
    "9400111201080805483016",
    "9361289878700317633795",
    "9405803699300124287899",
    "9200190132607600833457",
    "9261290113185417468510",
]
USPS_INVALID = ["9200000000000000000000", "9200190132607600833458", "920019013260760083345"]

# S10: AA473124829GB is the worked example of the UPU S10 standard (as quoted by Wikipedia's
# "S10 (UPU standard)"); RB123456785GB is from jkeen/tracking_number_data (couriers/s10.json).
S10_VALID = ["AA473124829GB", "RB123456785GB", "RR123456785GB"]
S10_INVALID = ["RB123456786GB", "RB12345678GB", "rb123456785GB", "RB123456785G1"]

# SSCC: 106141411234567897 is the SSCC example of the GS1 General Specifications
# (company prefix 0614141); 157035381410375177 is biip's documented example.
SSCC_VALID = ["106141411234567897", "157035381410375177"]
SSCC_INVALID = ["106141411234567898", "10614141123456789", "00106141411234567897"]


@pytest.mark.parametrize("n", UPS_VALID)
def test_ups_published_examples_validate(n):
    assert t.is_valid_ups(n)
    assert t.detect(n) is t.Kind.UPS


@pytest.mark.parametrize("n", UPS_INVALID)
def test_ups_invalid_examples(n):
    assert not t.is_valid_ups(n)


@pytest.mark.parametrize("n", USPS_VALID)
def test_usps_published_examples_validate(n):
    assert t.is_valid_usps(n)
    assert t.detect(n) is t.Kind.USPS


@pytest.mark.parametrize("n", USPS_INVALID)
def test_usps_invalid_examples(n):
    assert not t.is_valid_usps(n)


@pytest.mark.parametrize("n", S10_VALID)
def test_s10_published_examples_validate(n):
    assert t.is_valid_s10(n)
    assert t.detect(n) is t.Kind.S10


@pytest.mark.parametrize("n", S10_INVALID)
def test_s10_invalid_examples(n):
    assert not t.is_valid_s10(n)


@pytest.mark.parametrize("n", SSCC_VALID)
def test_sscc_published_examples_validate(n):
    assert t.is_valid_sscc(n)
    assert t.detect(n) is t.Kind.SSCC


@pytest.mark.parametrize("n", SSCC_INVALID)
def test_sscc_invalid_examples(n):
    assert not t.is_valid_sscc(n)


def test_makers_rebuild_the_published_examples():
    assert t.ups("999AA1", "01", 2345678) == "1Z999AA10123456784"
    assert t.usps("001", "901326076", 83345) == "9200190132607600833457"
    assert t.usps("612", "898787", 31763379) == "9361289878700317633795"
    assert t.s10("AA", 47312482, "GB") == "AA473124829GB"
    assert t.s10("RR", 12345678, "GB") == "RR123456785GB"
    assert t.sscc(1, "0614141", 123456789) == "106141411234567897"


def test_s10_check_digit_special_cases():
    # UPU S10: 11 - (sum mod 11), where 11 becomes 5 and 10 becomes 0.
    assert t.s10_check_digit("00000000") == 5  # sum 0
    assert t.s10_check_digit("02000000") == 0  # sum 2 * 6 = 12, 12 mod 11 = 1


def test_format_tracking_groups_for_reading():
    assert t.format_tracking("1Z999AA10123456784") == "1Z 999 AA1 01 2345 6784"
    assert t.format_tracking("9200190132607600833457") == "9200 1901 3260 7600 8334 57"
    assert t.format_tracking("RR123456785GB") == "RR 123 456 785 GB"
    assert t.format_tracking("106141411234567897") == "1 0614141 123456789 7"
    assert t.format_tracking("PARCEL-42") == "PARCEL-42"


def test_detect_ignores_spaces_and_rejects_garbage():
    assert t.detect("1Z 999 AA1 01 2345 6784") is t.Kind.UPS
    assert t.detect("hello") is None
    assert not t.is_valid("")


@pytest.mark.parametrize(
    "call",
    [
        lambda: t.ups("999AA", "01", 1),
        lambda: t.ups("999AA1", "1", 1),
        lambda: t.ups("999aa1", "01", 1),
        lambda: t.ups("999AA1", "01", 10**7),
        lambda: t.usps("01", "901326076", 1),
        lambda: t.usps("001", "1234567", 1),
        lambda: t.usps("001", "901326076", 10**7),
        lambda: t.s10("R1", 1, "GB"),
        lambda: t.s10("RR", 10**8, "GB"),
        lambda: t.s10("RR", 1, "gb"),
        lambda: t.sscc(10, "0614141", 1),
        lambda: t.sscc(1, "12345", 1),
        lambda: t.sscc(1, "0614141", 10**9),
    ],
)
def test_makers_refuse_out_of_range_parts(call):
    with pytest.raises(ValueError):
        call()


# --- SSCC against biip's independent parser ---------------------------------------------


@given(
    ext=st.integers(0, 9),
    prefix=st.text("0123456789", min_size=7, max_size=10),
    data=st.data(),
)
def test_generated_sscc_parses_in_biip(ext, prefix, data):
    serial = data.draw(st.integers(0, 10 ** (16 - len(prefix)) - 1))
    n = t.sscc(ext, prefix, serial)
    parsed = biip.parse("00" + n).sscc
    assert parsed is not None and parsed.value == n
    assert parsed.check_digit == int(n[-1])


# --- Properties: every generated number validates; single changes are caught -----------

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digit_changes(s: str, positions: range):
    for i in positions:
        if s[i].isdigit():
            for d in "0123456789":
                if d != s[i]:
                    yield i, s[:i] + d + s[i + 1 :]


@given(
    shipper=st.text(ALNUM, min_size=6, max_size=6),
    service=st.text("0123456789", min_size=2, max_size=2),
    ref=st.integers(0, 10**7 - 1),
)
def test_ups_generated_validates_and_changes_are_caught_except_known_blind_spot(
    shipper, service, ref
):
    n = t.ups(shipper, service, ref)
    assert t.is_valid_ups(n)
    for i, changed in _digit_changes(n, range(2, 18)):
        # Body position i-2 is weighted 1 (even index) or 2 (odd index); a doubled digit
        # changed by exactly 5 leaves the sum unchanged mod 10: UPS's documented weakness.
        doubled = i < 17 and (i - 2) % 2 == 1
        blind = doubled and abs(int(changed[i]) - int(n[i])) == 5
        assert t.is_valid_ups(changed) == blind


@given(
    service=st.text("0123456789", min_size=3, max_size=3),
    mid=st.one_of(
        st.text("0123456789", min_size=9, max_size=9), st.text("0123456789", min_size=6, max_size=6)
    ),
    data=st.data(),
)
def test_usps_generated_validates_and_every_single_digit_change_fails(service, mid, data):
    serial = data.draw(st.integers(0, (10**7 if len(mid) == 9 else 10**10) - 1))
    n = t.usps(service, mid, serial)
    assert len(n) == 22 and n[:2] == ("92" if len(mid) == 9 else "93")
    assert t.is_valid_usps(n)
    for _, changed in _digit_changes(n, range(2, 22)):
        assert not t.is_valid_usps(changed)


def _s10_remainder(serial: str) -> int:
    return sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11


@given(
    service=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    serial=st.integers(0, 10**8 - 1),
    country=st.sampled_from(["GB", "US", "DE", "PL", "BR", "CN"]),
)
def test_s10_generated_validates_and_changes_are_caught_except_known_blind_spot(
    service, serial, country
):
    n = t.s10(service, serial, country)
    assert t.is_valid_s10(n)
    for i, changed in _digit_changes(n, range(2, 11)):
        # Remainders 0 and 6 both give check digit 5, so a change between them slips by.
        r_before, r_after = _s10_remainder(n[2:10]), _s10_remainder(changed[2:10])
        blind = i < 10 and {r_before, r_after} == {0, 6}
        assert t.is_valid_s10(changed) == blind


def test_s10_blind_spot_is_real():
    # 00000000 sums to 0 and 00002000 to 2 * 3 = 6: both give check digit 5.
    assert t.s10_check_digit("00000000") == t.s10_check_digit("00002000") == 5
    assert t.is_valid_s10("RR000000005GB") and t.is_valid_s10("RR000020005GB")


@given(
    ext=st.integers(0, 9),
    prefix=st.text("0123456789", min_size=7, max_size=7),
    serial=st.integers(0, 10**9 - 1),
)
def test_sscc_generated_validates_and_every_single_digit_change_fails(ext, prefix, serial):
    n = t.sscc(ext, prefix, serial)
    assert t.is_valid_sscc(n)
    for _, changed in _digit_changes(n, range(18)):
        assert not t.is_valid_sscc(changed)


# --- Allocation -------------------------------------------------------------------------


def test_allocator_makes_consecutive_numbers_from_the_callers_counter():
    alloc = t.TrackingAllocator(t.SsccScheme("0614141", 1), t.SerialBlock(123456789, 10))
    n0, c = alloc.next(0)
    n1, c = alloc.next(c)
    assert (n0, n1, c) == ("106141411234567897", t.sscc(1, "0614141", 123456790), 2)
    assert alloc.remaining(c) == 8


def test_allocator_refuses_past_the_end_of_its_block():
    alloc = t.TrackingAllocator(t.UpsScheme("999AA1"), t.SerialBlock(0, 2))
    alloc.number(1)
    with pytest.raises(t.RangeExhausted):
        alloc.number(2)
    with pytest.raises(ValueError):
        alloc.number(-1)


def test_block_must_fit_the_format():
    with pytest.raises(ValueError):
        t.TrackingAllocator(t.S10Scheme("RR", "GB"), t.SerialBlock(10**8 - 5, 10))


@pytest.mark.parametrize(
    "scheme",
    [
        t.UpsScheme("999AA1", "03"),
        t.UspsScheme("001", "901326076"),
        t.UspsScheme("612", "898787"),
        t.S10Scheme("CP", "DE"),
        t.SsccScheme("0614141"),
    ],
)
def test_stations_with_partitioned_blocks_never_share_a_number(scheme):
    stations = [
        t.TrackingAllocator(scheme, t.SerialBlock.partition(scheme.capacity, i, 4))
        for i in range(4)
    ]
    numbers = [s.number(c) for s in stations for c in (0, 1, s.block.size - 1)]
    assert len(set(numbers)) == len(numbers)
    assert all(t.is_valid(n) for n in numbers)


def test_partition_refuses_nonsense():
    with pytest.raises(ValueError):
        t.SerialBlock.partition(10, 4, 4)
    with pytest.raises(ValueError):
        t.SerialBlock.partition(3, 0, 4)
