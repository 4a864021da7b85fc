"""``doms hub stations``: the presence rows a real hub wrote from real statuses (over a
broker), printed as the site board prints them, and as JSON."""

from __future__ import annotations

import json

import pytest

from doms.cli import main
from sync import messages as m
from sync.hub import HubSync
from sync.mqtt import BrokerSettings
from tests.sync.fake_station import FakeStation
from tests.sync.test_hub import SITE, WAIT, seed


@pytest.fixture
def hub_db(tmp_path, broker):
    """A hub that heard P1 (online, a printer out of paper, 3 events waiting) and P2 (born,
    then its Will)."""
    path = tmp_path / "hub.db"
    seed(path)
    settings = BrokerSettings(port=broker.port, backoff_min=0.05, backoff_max=0.5)
    hub = HubSync(path, SITE, settings, poll_interval=0.05).start()
    p1, p2 = (FakeStation(settings, SITE, s).start(WAIT) for s in ("P1", "P2"))
    try:
        p1.publish("status", m.encode(m.StationStatus(
            station="P1", online=True, bd_seq=4, operator="B1001", screen="pack",
            devices={"scale": "ok", "label_printer": "out of paper"}, outbox_depth=3,
        )), retain=True)  # fmt: skip
        p2.status(online=True, bd_seq=9)
        p2.status(online=False, bd_seq=9)
        assert hub.wait_for(lambda c: c.statuses >= 3, WAIT)
    finally:
        p1.stop()
        p2.stop()
        hub.stop()
    return path


def test_stations_are_printed_problems_first(hub_db, capsys):
    assert main(["hub", "stations", "--db", str(hub_db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{SITE}: 2 stations: 1 online, 1 offline (P2 since ")
    assert out[0].endswith("; 1 printer problem")
    assert out[1].split() == [
        "STATION", "STATE", "SINCE", "OPERATOR", "SCREEN", "EVENTS", "PHOTOS", "LAST", "SYNC",
        "DEVICES",
    ]  # fmt: skip
    assert out[2].startswith("! P2") and "OFFLINE" in out[2] and "[offline]" in out[2]
    assert out[3].startswith("! P1") and "B1001" in out[3] and " 3 " in out[3]
    assert "label printer: out of paper" in out[3] and "[device problem]" in out[3]
    assert len(out) == 4


def test_stations_as_json(hub_db, capsys):
    assert main(["hub", "stations", "--db", str(hub_db), "--json"]) == 0
    stations = json.loads(capsys.readouterr().out)
    assert [(s["station"], s["online"], s["attention"]) for s in stations] == [
        ("P2", False, ["offline"]),
        ("P1", True, ["device problem"]),
    ]
    assert stations[0]["since"] is not None and stations[1]["since"] is None
    assert stations[1]["status"]["devices"] == {"scale": "ok", "label_printer": "out of paper"}
    assert stations[1]["devices_in_words"] == "label printer: out of paper"


def test_another_site_or_no_database(hub_db, tmp_path, capsys):
    assert main(["hub", "stations", "--db", str(hub_db), "--site", "WH9"]) == 0
    assert capsys.readouterr().out == "No station has sent a status yet.\n"
    assert main(["hub", "stations", "--db", str(tmp_path / "nope.db")]) == 1
    assert "no hub database at" in capsys.readouterr().err
