"""~HQES (error/warning status) and the ZPL emulator's fault injection, over real TCP."""

from __future__ import annotations

import time

import pytest

from drivers.base import PrinterState
from drivers.errors import DeliveryUncertain, PrinterFault
from drivers.protocols import zpl_hqes as hq
from drivers.protocols.zpl import split_stream
from drivers.urls import open_label_printer

LABEL = b"^XA^FO50,50^A0N,40,40^FDORDER 1234^FS^XZ"
# As in the ZPL guide: head open and paused, warning "sensor 5" (a kiosk bit).
GUIDE_ANSWER = (
    b"\x02\r\n\r\nPRINTER STATUS            \r\n"
    b"   ERRORS:          1 00000000 00010004  \r\n"
    b"   WARNINGS:        1 00000000 00000100   \r\n\x03\r\n"
)


def test_parse_hqes_names_each_flag():
    es = hq.parse_hqes(GUIDE_ANSWER)
    assert es.errors == hq.HEAD_OPEN | hq.PAUSED
    assert es.error_words() == ["print head open", "paused"]
    assert es.to_status().conditions == (PrinterState.HEAD_OPEN, PrinterState.PAUSED)
    assert es.warning_words() == ["printer warning code 0x100 (see the printer's display)"]


def test_parse_hqes_no_error_and_flag_zero():
    answer = hq.encode_hqes(hq.ErrorStatus())
    assert b"ERRORS:          0 00000000 00000000" in answer
    assert hq.parse_hqes(answer).to_status().conditions == (PrinterState.READY,)
    # flag 0 means "none", whatever the nibbles say
    assert hq.parse_hqes(answer.replace(b"0 00000000 00000000", b"0 00000000 00000004")).errors == 0


@pytest.mark.parametrize(
    ("bits", "warnings", "states", "words"),
    [
        (hq.CUTTER_FAULT, 0, (PrinterState.OTHER_ERROR,), "cutter fault"),
        (hq.MOTOR_TOO_HOT, 0, (PrinterState.OTHER_ERROR,), "motor too hot"),
        (hq.MEDIA_OUT | hq.RIBBON_OUT, 0, (PrinterState.PAPER_OUT, PrinterState.RIBBON_OUT),
         "out of labels/paper; out of ribbon"),
        (0, hq.PAPER_NEAR_END, (PrinterState.READY,), "labels/paper nearly out"),
        (1 << 40, 0, (PrinterState.OTHER_ERROR,), "error code 0x10000000000"),
    ],
)  # fmt: skip
def test_hqes_round_trip(bits, warnings, states, words):
    status = hq.parse_hqes(hq.encode_hqes(hq.ErrorStatus(bits, warnings))).to_status()
    assert status.conditions == states
    assert words in status.detail


def test_parse_hqes_rejects_garbage():
    with pytest.raises(Exception, match="not understood"):
        hq.parse_hqes(b"\x02PRINTER STATUS\r\n ERRORS: 1 zz\x03")


@pytest.mark.parametrize("cut", range(1, 5))
def test_split_stream_keeps_hqes_whole_across_reads(cut):
    items, rest = split_stream(b"~HQES"[:cut])
    assert items == []
    assert split_stream(rest + b"~HQES"[cut:]) == ([("tilde", b"~HQES")], b"")


@pytest.fixture
def printer(zpl_emu):
    p = open_label_printer(zpl_emu.url + "?timeout=0.5")
    yield p
    p.close()


def test_ready_printer_is_not_asked_hqes_before_a_job(zpl_emu, printer):
    printer.send(LABEL)
    zpl_emu.wait_for_labels(1)
    assert zpl_emu.error_queries == 0  # one round trip per job while all is well


@pytest.mark.parametrize(
    ("fault", "words"),
    [("cutter_fault", "cutter fault"), ("motor_too_hot", "motor too hot"),
     ("head_too_hot", "print head too hot")],
)  # fmt: skip
def test_hs_fault_is_explained_by_hqes(zpl_emu, printer, fault, words):
    getattr(zpl_emu, fault)()
    with pytest.raises(PrinterFault) as info:
        printer.send(LABEL)
    # ~HS alone says "paused" / "over temperature"; ~HQES names the cause
    assert info.value.conditions == ["error"]
    assert words in str(info.value)
    assert zpl_emu.error_queries == 1
    assert zpl_emu.labels == [] and zpl_emu.held == []


def test_status_shows_paper_near_end_warning(zpl_emu, printer):
    zpl_emu.paper_near_end()
    status = printer.status()
    assert status.ready and "nearly out" in status.detail


def test_silent_while_head_open_is_a_state_and_the_job_waits(zpl_emu, printer):
    printer.send(LABEL)  # it answered ~HS once: we know it speaks it
    zpl_emu.silent_while_head_open()
    zpl_emu.head_open()
    with pytest.raises(PrinterFault) as info:
        printer.send(LABEL)
    assert info.value.conditions == ["not_answering"]
    assert "not answering – check head/cover" in str(info.value)
    assert printer.status().conditions == (PrinterState.NOT_ANSWERING,)
    assert zpl_emu.held == [] and len(zpl_emu.labels) == 1  # the label was not sent
    zpl_emu.head_open(False)
    printer.send(LABEL)
    assert len(zpl_emu.wait_for_labels(2)) == 2


def test_slow_answers_within_the_timeout_still_print(zpl_emu, printer):
    zpl_emu.slow(0.2)
    started = time.monotonic()
    printer.send(LABEL)
    assert time.monotonic() - started >= 0.2
    zpl_emu.wait_for_labels(1)


def test_answers_later_than_the_timeout_are_not_answering(zpl_emu, printer):
    assert printer.status().ready
    zpl_emu.slow(1.0)
    with pytest.raises(PrinterFault) as info:
        printer.send(LABEL)
    assert info.value.conditions == ["not_answering"]
    assert zpl_emu.labels == []


def test_disconnect_mid_job_is_delivery_uncertain(zpl_emu, printer):
    # Big enough that the reset arrives while we are still writing.
    big = b"^XA^FO0,0^GFA,1,1,1," + b"F" * 16_000_000 + b"^FS^XZ"
    zpl_emu.disconnect_mid_job()
    with pytest.raises(DeliveryUncertain, match="may or may not have printed"):
        printer.send(big)
    assert zpl_emu.hangups == 1 and zpl_emu.labels == []
    printer.send(LABEL)  # the printer is back for the next job
    assert zpl_emu.wait_for_labels(1) == [LABEL]
