"""The site board's memory and words (sync/site_board.py): one behaviour each, statuses as
they come off the wire, times injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync import topics
from sync.messages import HubStatus, StationStatus, encode
from sync.site_board import StatusBoard, clock, rows, summary

SITE = "WH1"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def send(board: StatusBoard, when: float = 0, **fields) -> None:
    fields.setdefault("online", True)
    fields.setdefault("bd_seq", 1)
    status = StationStatus(**fields)
    board.take(topics.station_status(SITE, status.station), encode(status), now=at(when))


def board_rows(board: StatusBoard, when: float = 0):
    return rows(board.view(), now=at(when))


def test_a_late_will_of_an_earlier_connection_is_ignored():
    board = StatusBoard(SITE, now=T0)
    send(board, station="P1", bd_seq=2, operator="B1")
    send(board, station="P1", bd_seq=1, online=False)
    assert board_rows(board)[0].online and board_rows(board)[0].attention == ()


def test_a_wiped_station_whose_count_restarted_is_seen_online():
    board = StatusBoard(SITE, now=T0)
    send(board, station="P1", bd_seq=57, operator="B1")
    send(board, 10, station="P1", bd_seq=57, online=False)
    send(board, 20, station="P1", bd_seq=1, operator="B2")
    (row,) = board_rows(board, 21)
    assert (row.online, row.operator) == (True, "B2")


def test_a_will_keeps_what_its_connection_last_said_and_since_when():
    board = StatusBoard(SITE, now=T0)
    send(board, station="P1", bd_seq=3, operator="B1", screen="pack", outbox_depth=4)
    send(board, 75, station="P1", bd_seq=3, online=False)
    (row,) = board_rows(board, 80)
    assert (row.online, row.operator, row.screen, row.outbox) == (False, "B1", "pack", 4)
    assert row.since == clock(at(75)) and row.attention == ("offline",)


def test_offline_when_the_board_started_says_before():
    board = StatusBoard(SITE, now=T0)
    send(board, 5, station="P9", bd_seq=1, online=False)
    view = board.view()
    assert summary(view, rows(view, now=at(6))) == (
        f"1 station: 0 online, 1 offline (P9 since before {clock(T0)})"
    )


def test_problems_first_offline_first_of_all():
    board = StatusBoard(SITE, now=T0)
    send(board, station="P1")
    send(board, station="P2", devices={"scale": "not answering", "label_printer": "ok"})
    send(board, station="P3", online=False)
    send(board, station="P4", devices={"slip_printer": "out of paper"})
    got = [(r.station, r.devices) for r in board_rows(board)]
    assert got == [
        ("P3", "-"),
        ("P2", "scale: not answering"),
        ("P4", "slip printer: out of paper"),
        ("P1", "-"),
    ]
    assert summary(board.view(), board_rows(board)) == (
        "4 stations: 3 online, 1 offline (P3 since before "
        f"{clock(T0)}); 1 printer problem; 1 scale problem"
    )


def test_an_outbox_that_grows_needs_attention_until_it_shrinks():
    board = StatusBoard(SITE, now=T0)
    for depth, growing in [(1, False), (4, False), (9, True), (12, True), (11, False)]:
        send(board, station="P1", outbox_depth=depth, last_sync_at=at(0).isoformat())
        assert ("outbox growing" in board_rows(board)[0].attention) is growing, depth


def test_events_waiting_with_no_word_from_the_hub_for_3_minutes():
    board = StatusBoard(SITE, now=T0)
    synced = at(-600).isoformat()  # a quiet station: an old last sync is fine
    send(board, station="P1", last_sync_at=synced)
    assert board_rows(board, 400)[0].attention == ()
    send(board, 400, station="P1", outbox_depth=2, last_sync_at=synced)
    assert board_rows(board, 500)[0].attention == ()  # waiting 100 s only
    assert board_rows(board, 600)[0].attention == ("not syncing",)
    send(board, 610, station="P1", outbox_depth=2, last_sync_at=at(610).isoformat())
    assert board_rows(board, 620)[0].attention == ()  # the hub answered


def test_unreadable_or_misplaced_status_keeps_the_last_good_one():
    board = StatusBoard(SITE, now=T0)
    send(board, station="P1", operator="B1")
    board.take(topics.station_status(SITE, "P1"), b"\x00garbage")
    assert board_rows(board)[0].attention == ("unreadable status",)
    assert board_rows(board)[0].operator == "B1"
    forged = StationStatus(station="P2", online=False, bd_seq=9)
    board.take(topics.station_status(SITE, "P1"), encode(forged))
    assert [r.station for r in board_rows(board)] == ["P1"]
    assert "P2" in board.view().unreadable["P1"]


def test_hub_status_and_other_sites_topics():
    board = StatusBoard(SITE, now=T0)
    assert board.wants(topics.hub_status(SITE)) and board.wants(topics.station_status(SITE, "P"))
    assert not board.wants(topics.station_status("WH2", "P"))
    assert not board.wants(topics.station_events(SITE, "P"))
    assert not board.wants(topics.hub_acks(SITE, "P"))
    board.take(topics.hub_status(SITE), encode(HubStatus(online=True, bd_seq=2)))
    board.take(topics.hub_status(SITE), encode(HubStatus(online=False, bd_seq=1)))  # late
    assert board.view().hub == HubStatus(online=True, bd_seq=2)
