"""``doms hub stations``: the hub's ``presence`` rows (the last status each station sent,
kept by :mod:`sync.hub`) as the site board shows them, per site, problems first.

Read-only: it opens the hub database, reads, and closes; the hub may be running. "Since"
of an offline station is when the hub received its offline status (``updated_at``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from sync.messages import StationStatus
from sync.site_board import (
    HEAD,
    BoardView,
    Entry,
    Row,
    parse_time,
    row_line,
    rows,
    summary,
)


def presence(conn: sqlite3.Connection, site: str | None = None) -> dict[str, BoardView]:
    """Every station with a presence row, as a board per site (sites in id order). A row
    whose status does not decode is skipped with its reason in ``unreadable``."""
    sql = (
        "SELECT COALESCE(s.site, '?'), p.station, p.status, p.updated_at FROM presence p "
        "LEFT JOIN stations s ON s.station_id = p.station"
    )
    found = conn.execute(sql).fetchall()
    now = datetime.now(UTC)
    boards: dict[str, BoardView] = {}
    for row_site, station, status_json, updated_at in sorted(found):
        if site is not None and row_site != site:
            continue
        board = boards.setdefault(row_site, BoardView(row_site, now, {}, None, None, {}))
        try:
            status = msgspec.convert(json.loads(status_json), StationStatus)
        except (ValueError, msgspec.ValidationError) as exc:
            board.unreadable[station] = f"presence row unreadable: {exc}"
            continue
        since = None if status.online else parse_time(updated_at)
        board.stations[station] = Entry(status, status, since)
    return boards


def as_json(site: str, row: Row, entry: Entry) -> dict:
    """One station for ``--json``: the board's words and the status as received."""
    return {
        "site": site,
        "station": row.station,
        "online": row.online,
        "since": entry.since.isoformat() if entry.since else None,
        "attention": list(row.attention),
        "devices_in_words": row.devices,
        "last_sync": row.last_sync,
        "status": msgspec.to_builtins(entry.status),
    }


def register_hub_stations(hub_subs: argparse._SubParsersAction) -> None:
    """Add ``stations`` to ``doms hub``."""
    stations = hub_subs.add_parser(
        "stations",
        help="every station's last status (presence), problems first",
        description="The site board from the hub database: per site a summary line, then "
        "one line per station (online or OFFLINE and since when, operator, screen, events "
        "and photos waiting, device problems, last sync), those needing attention first "
        "and marked '!'.",
    )
    stations.add_argument("--db", required=True, help="hub database file")
    stations.add_argument("--site", help="only this site")
    stations.add_argument("--json", action="store_true", help="one JSON array instead")
    stations.set_defaults(func=hub_stations)


def hub_stations(args: argparse.Namespace) -> int:
    """Print the presence rows; 1 when the database cannot be read."""
    if not Path(args.db).exists():
        print(f"doms hub stations: no hub database at {args.db}", file=sys.stderr)
        return 1
    try:
        conn = sqlite3.connect(f"file:{Path(args.db).resolve()}?mode=ro", uri=True)
        try:
            boards = presence(conn, args.site)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        print(f"doms hub stations: {args.db}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        out = [
            as_json(site, row, board.stations[row.station])
            for site, board in boards.items()
            for row in rows(board)
        ]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    if not boards:
        print("No station has sent a status yet.")
    for site, board in boards.items():
        board_rows = rows(board)
        print(f"{site}: {summary(board, board_rows)}")
        print(HEAD)
        for row in board_rows:
            print(row_line(row))
        for station, why in board.unreadable.items():
            print(f"! {station:16} {why}")
    return 0
