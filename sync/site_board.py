"""The site board's data: every station's retained ``StationStatus`` and the hub's
``HubStatus``, kept in memory, and what a lead should look at first.

:class:`StatusBoard` is fed from an MQTT loop thread (``take(topic, payload)``) and read
from the UI thread (``view()``): one lock, copies out, no database. The station's own sync
client feeds one (``StationSync.board``); ``doms board`` on an office PC feeds one from the
read-only :class:`BoardClient`. :func:`rows` and :func:`summary` are pure, shared by the
board screen and ``doms hub stations``, so both say the same thing in the same words.

Presence follows PROTOCOL.md: a status whose ``bd_seq`` is older than the newest one heard
(a late Will of an earlier connection) is ignored. A Will carries no details, so an offline
row shows the last details its connection (same ``bd_seq``) announced.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from sync import topics
from sync.messages import HubStatus, Malformed, StationStatus, decode
from sync.mqtt import BrokerSettings, MqttLink

log = logging.getLogger(__name__)

# Events or photos waiting, and no word from the hub this long (by the station's last
# sync, and by the board's own clock: a quiet station's last sync is old and fine).
SYNC_STALE_S = 180.0
GROWING_MIN = 5  # an outbox that rose to at least this many events: attention
BACKLOG = 100  # this many events waiting: attention, growing or not


@dataclass(frozen=True, slots=True)
class Entry:
    """One station as the board knows it. ``since``: when the board saw it change between
    online and offline (None: it was in that state when the board started, at
    ``BoardView.started_at``). ``details``: the last status of this connection that
    carried details (the Will of a crash carries none)."""

    status: StationStatus
    details: StationStatus
    since: datetime | None
    growing: bool = False
    # Since when the board has seen events or photos waiting with no new word from the
    # hub (``last_sync_at`` unchanged); None: nothing waiting.
    waiting_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class BoardView:
    """A copy of the board for the UI."""

    site: str
    started_at: datetime
    stations: dict[str, Entry]
    hub: HubStatus | None
    hub_since: datetime | None
    unreadable: dict[str, str] = field(default_factory=dict)  # station -> why
    version: int = 0  # moves with every change taken


class StatusBoard:
    """Every status of one site, thread-safe. ``take`` from the MQTT thread, ``view`` from
    any thread."""

    def __init__(self, site: str, now: datetime | None = None) -> None:
        self.site = topics.check_id(site, "site id")
        self.started_at = now or datetime.now(UTC)
        self._lock = threading.Lock()
        self._stations: dict[str, Entry] = {}
        self._hub: HubStatus | None = None
        self._hub_since: datetime | None = None
        self._unreadable: dict[str, str] = {}
        self._version = 0

    def wants(self, topic: str) -> bool:
        """Whether ``topic`` is a status of this site (a station's or the hub's)."""
        try:
            site, side, station, leaf = topics.parse(topic)
        except ValueError:
            return False
        return site == self.site and leaf == "status" and (side == "hub") == (station is None)

    def take(self, topic: str, payload: bytes, now: datetime | None = None) -> None:
        """Record a status; a payload that is not one is logged and kept as the station's
        ``unreadable`` reason (its last good status stays). Never raises."""
        if not self.wants(topic):
            log.warning("site board: %s is not a status of site %s; ignored", topic, self.site)
            return
        now = now or datetime.now(UTC)
        station = topics.parse(topic)[2]
        try:
            message = decode(payload)
        except Malformed as exc:
            self._refuse(station or "hub", topic, str(exc))
            return
        if station is None and isinstance(message, HubStatus):
            self._take_hub(message, now)
        elif isinstance(message, StationStatus) and message.station == station:
            self._take_station(message, now)
        else:
            what = getattr(message, "station", None) or type(message).__name__
            self._refuse(station or "hub", topic, f"{what} does not belong on this topic")

    def _refuse(self, who: str, topic: str, reason: str) -> None:
        log.warning("site board: unreadable status on %s: %s", topic, reason)
        with self._lock:
            self._unreadable[who] = reason
            self._version += 1

    def _take_hub(self, status: HubStatus, now: datetime) -> None:
        with self._lock:
            old = self._hub
            if old is not None and not status.online and status.bd_seq < old.bd_seq:
                return  # a late Will of an earlier hub connection
            if old is not None and old.online != status.online:
                self._hub_since = now
            self._hub = status
            self._unreadable.pop("hub", None)
            self._version += 1

    def _take_station(self, status: StationStatus, now: datetime) -> None:
        with self._lock:
            old = self._stations.get(status.station)
            if old is not None and not status.online and status.bd_seq < old.status.bd_seq:
                return  # a late Will: the station has connected again since (an online
                # status is always current, even with a count restarted by a wipe)
            details = status
            if not status.online and old is not None and old.status.bd_seq == status.bd_seq:
                details = _offline_details(status, old.details)
            since = old.since if old is not None else None
            if old is not None and old.status.online != status.online:
                since = now
            growing = old.growing if old is not None else False
            if old is not None and status.online:
                before = old.details.outbox_depth
                if details.outbox_depth > before and details.outbox_depth >= GROWING_MIN:
                    growing = True
                elif details.outbox_depth < before or details.outbox_depth == 0:
                    growing = False
            waiting_since = None
            if details.outbox_depth or details.photos_waiting:
                same = old is not None and old.details.last_sync_at == details.last_sync_at
                waiting_since = (old.waiting_since if same else None) or now
            self._stations[status.station] = Entry(status, details, since, growing, waiting_since)
            self._unreadable.pop(status.station, None)
            self._version += 1

    def view(self) -> BoardView:
        """A copy of everything heard so far."""
        with self._lock:
            return BoardView(
                site=self.site,
                started_at=self.started_at,
                stations=dict(self._stations),
                hub=self._hub,
                hub_since=self._hub_since,
                unreadable=dict(self._unreadable),
                version=self._version,
            )


def _offline_details(will: StationStatus, last: StationStatus) -> StationStatus:
    """A Will says only "offline"; a clean stop says more. Keep what the connection last
    said for what the offline status leaves out."""
    bare = not will.devices and will.operator is None and will.screen is None
    if not bare:
        return will
    return msgspec.structs.replace(last, online=False, at=will.at)


# -- what the board shows ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    """One station's line, in words. ``attention``: why a lead should look (empty: fine)."""

    station: str
    online: bool
    since: str  # "14:02", "before 08:10" or ""
    operator: str
    screen: str
    outbox: int
    photos: int
    devices: str  # "ok" or "label printer: out of paper; scale: not answering"
    last_sync: str  # "12 s ago", "never"
    attention: tuple[str, ...]
    problems: dict[str, str]  # device -> problem, for the summary


def rows(view: BoardView, now: datetime | None = None) -> list[Row]:
    """Every station, the ones needing attention first (offline first of all), then by
    id."""
    now = now or datetime.now(UTC)
    out = []
    for name, entry in view.stations.items():
        d, online = entry.details, entry.status.online
        problems = {k: v for k, v in d.devices.items() if v != "ok"}
        since = clock(entry.since) if entry.since else f"before {clock(view.started_at)}"
        attention = []
        if not online:
            attention.append("offline")
        if problems and online:
            attention.append("device problem")
        if online and entry.growing:
            attention.append("outbox growing")
        elif online and d.outbox_depth >= BACKLOG:
            attention.append("outbox backlog")
        age = _age_s(d.last_sync_at, now)
        stuck = entry.waiting_since is not None and (
            (now - entry.waiting_since).total_seconds() > SYNC_STALE_S
        )
        if online and stuck and (age is None or age > SYNC_STALE_S):
            attention.append("not syncing")
        if name in view.unreadable:
            attention.append("unreadable status")
        out.append(
            Row(
                station=name,
                online=online,
                since=since if (entry.since or not online) else "",
                operator=d.operator or "",
                screen=d.screen or "",
                outbox=d.outbox_depth,
                photos=d.photos_waiting,
                devices="; ".join(f"{device_words(k)}: {v}" for k, v in problems.items())
                or ("ok" if d.devices else "-"),
                last_sync=age_words(age),
                attention=tuple(attention),
                problems=problems if online else {},
            )
        )
    return sorted(out, key=lambda r: (not r.attention, r.online, r.station))


def summary(view: BoardView, board_rows: list[Row]) -> str:
    """One line: "6 stations: 5 online, 1 offline (WH1-PACK-04 since 14:02); 1 printer
    problem"."""
    if not board_rows:
        return f"No station status heard yet for site {view.site}."
    offline = [r for r in board_rows if not r.online]
    parts = [f"{len(board_rows)} station{'s' * (len(board_rows) != 1)}: "]
    parts[0] += f"{len(board_rows) - len(offline)} online"
    if offline:
        who = ", ".join(f"{r.station} since {r.since}" for r in offline)
        parts[0] += f", {len(offline)} offline ({who})"
    kinds: dict[str, int] = {}
    for r in board_rows:
        for device in r.problems:
            kind = "printer" if "printer" in device else device_words(device)
            kinds[kind] = kinds.get(kind, 0) + 1
    parts += [f"{n} {kind} problem{'s' * (n != 1)}" for kind, n in sorted(kinds.items())]
    for reason in ("outbox growing", "outbox backlog", "not syncing"):
        n = sum(reason in r.attention for r in board_rows)
        if n:
            parts.append(f"{n} {reason}")
    return "; ".join(parts)


def hub_line(view: BoardView) -> str:
    """The hub's presence in words."""
    if view.hub is None:
        return "Hub: not heard yet"
    state = "online" if view.hub.online else "OFFLINE"
    if view.hub_since is not None:
        return f"Hub: {state} since {clock(view.hub_since)}"
    return f"Hub: {state}"


HEAD = (
    f"  {'STATION':16} {'STATE':8} {'SINCE':13} {'OPERATOR':10} {'SCREEN':10} "
    f"{'EVENTS':>6} {'PHOTOS':>6} {'LAST SYNC':>11}  DEVICES"
)


def row_line(row: Row) -> str:
    """One station's line under :data:`HEAD`, marked ``!`` and ending with the reasons
    when it needs attention."""
    line = (
        f"{'!' if row.attention else ' '} {row.station:16} "
        f"{'online' if row.online else 'OFFLINE':8} {row.since:13} "
        f"{row.operator or '-':10} {row.screen or '-':10} {row.outbox:>6} {row.photos:>6} "
        f"{row.last_sync:>11}  {row.devices}"
    )
    return line + (f"   [{', '.join(row.attention)}]" if row.attention else "")


def device_words(device: str) -> str:
    """``label_printer`` -> ``label printer``."""
    return device.replace("_", " ")


def clock(at: datetime) -> str:
    """Local wall-clock time: HH:MM today, MM-DD HH:MM another day."""
    local = at.astimezone()
    today = datetime.now(UTC).astimezone().date()
    return local.strftime("%H:%M" if local.date() == today else "%m-%d %H:%M")


def age_words(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{max(0, round(seconds))} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    return f"{round(seconds / 3600)} h ago"


def parse_time(at: str | None) -> datetime | None:
    """An ISO 8601 time from the wire, None when absent or unreadable."""
    if not at:
        return None
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _age_s(at: str | None, now: datetime) -> float | None:
    parsed = parse_time(at)
    return None if parsed is None else (now - parsed).total_seconds()


# -- the read-only client of `doms board` ------------------------------------------------
class BoardClient:
    """A read-only MQTT client that keeps a :class:`StatusBoard`: subscribes to the site's
    statuses, publishes nothing, has no Will and keeps no session (the retained statuses
    make the board whole on every connect)."""

    def __init__(self, settings: BrokerSettings, site: str, client_id: str | None = None):
        self.board = StatusBoard(site)
        # A broker that forces the client id to the username ignores this one.
        self.client_id = client_id or f"board-{site}-{uuid.uuid4().hex[:8]}"
        self._link = MqttLink(
            settings,
            self.client_id,
            on_message=self.board.take,
            on_connect=self._subscribe,
            clean_session=True,
        )

    def _subscribe(self) -> None:
        # QoS 0: statuses are "latest wins", and retained ones come on every subscribe.
        self._link.subscribe(topics.board_subscriptions(self.board.site), qos=0)

    def start(self) -> BoardClient:
        self._link.start()
        return self

    def stop(self) -> None:
        self._link.stop()

    @property
    def connected(self) -> bool:
        return self._link.connected.is_set()

    @property
    def last_error(self) -> str | None:
        return self._link.last_error
