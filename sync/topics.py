"""Every MQTT topic of protocol v1, in one place. See ``sync/PROTOCOL.md``.

Station -> hub topics live under ``doms/v1/<site>/st/<station>/`` so that a broker ACL can
let a station write only there; hub -> station topics live under ``doms/v1/<site>/hub/``.
Site and station ids are restricted to ``[A-Za-z0-9_.-]`` so they never contain MQTT
wildcards or separators.
"""

from __future__ import annotations

import re

VERSION = 1
ROOT = f"doms/v{VERSION}"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid site/station id; raise ValueError otherwise."""
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    return value


# -- station -> hub ----------------------------------------------------------------------
def station_events(site: str, station: str) -> str:
    """EventBatch: the station's outbox, in sequence order. QoS 1."""
    return f"{ROOT}/{site}/st/{station}/events"


def station_status(site: str, station: str) -> str:
    """StationStatus, retained; also the MQTT Will (online=false). QoS 1."""
    return f"{ROOT}/{site}/st/{station}/status"


def station_requests(site: str, station: str) -> str:
    """CatchUpRequest / SnapshotRequest from the station. QoS 1."""
    return f"{ROOT}/{site}/st/{station}/req"


def station_photos(site: str, station: str) -> str:
    """PhotoChunk: the station's photo files, sent while its outbox is empty. QoS 1."""
    return f"{ROOT}/{site}/st/{station}/photo"


# -- hub -> station ----------------------------------------------------------------------
def hub_acks(site: str, station: str) -> str:
    """EventAck and PhotoAck for one station. QoS 1."""
    return f"{ROOT}/{site}/hub/ack/{station}"


def site_stream(site: str) -> str:
    """StreamBatch of the site stream (catalogue, cartons, operators, stock). QoS 1."""
    return f"{ROOT}/{site}/hub/stream"


def station_stream(site: str, station: str) -> str:
    """StreamBatch of the station stream (order assignments), and catch-up replies of
    either stream and snapshots for this station. QoS 1."""
    return f"{ROOT}/{site}/hub/to/{station}"


def hub_status(site: str) -> str:
    """HubStatus, retained; also the hub's Will. QoS 1."""
    return f"{ROOT}/{site}/hub/status"


# -- the site board ----------------------------------------------------------------------
def site_statuses(site: str) -> str:
    """Every station's StationStatus of ``site`` (a filter): what the site board reads."""
    return f"{ROOT}/{site}/st/+/status"


def board_subscriptions(site: str) -> list[str]:
    """What the site board reads: every station's status and the hub's, all retained, so
    the board is complete as soon as the broker has answered the subscribe."""
    return [site_statuses(site), hub_status(site)]


# -- subscriptions -----------------------------------------------------------------------
def hub_subscriptions(site: str) -> list[str]:
    """What the hub of ``site`` subscribes to."""
    return [
        f"{ROOT}/{site}/st/+/events",
        f"{ROOT}/{site}/st/+/status",
        f"{ROOT}/{site}/st/+/req",
        f"{ROOT}/{site}/st/+/photo",
    ]


def station_subscriptions(site: str, station: str) -> list[str]:
    """What a station subscribes to (and all its ACL lets it read): its own messages
    from the hub, and the site's statuses for the lead's board."""
    return [
        hub_acks(site, station),
        site_stream(site),
        station_stream(site, station),
        hub_status(site),
        site_statuses(site),
    ]


def parse(topic: str) -> tuple[str, str, str | None, str]:
    """Split a v1 topic into (site, side, station, leaf), e.g.
    ``doms/v1/WH1/st/P1/events`` -> ("WH1", "st", "P1", "events");
    ``doms/v1/WH1/hub/stream`` -> ("WH1", "hub", None, "stream").
    Raises ValueError for a topic outside protocol v1."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT:
        raise ValueError(f"not a doms v{VERSION} topic: {topic!r}")
    site, side = parts[2], parts[3]
    if side == "st" and len(parts) == 6:
        return site, side, parts[4], parts[5]
    if side == "hub" and len(parts) == 5:
        return site, side, None, parts[4]
    if side == "hub" and len(parts) == 6:
        return site, side, parts[5], parts[4]
    raise ValueError(f"not a doms v{VERSION} topic: {topic!r}")
