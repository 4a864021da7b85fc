"""``doms board``: the site board alone, for an office PC: the board screen over a read-only
MQTT client (:class:`sync.site_board.BoardClient`), no station database, no devices.

Which broker user: the ``board-<site>`` user that ``doms broker setup`` writes (its
``credentials/board-<site>.toml`` is a whole ``--config`` file). A station's own user is
refused: the broker forces the client id to the username, so the board would disconnect
that station, and the two would keep taking the session from each other.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from station.config import ConfigError, StationConfig, load_config, read_password_file

if TYPE_CHECKING:
    from station.board_app import BoardApp
    from sync.mqtt import BrokerSettings


def register(subs: argparse._SubParsersAction) -> None:
    board = subs.add_parser(
        "board",
        help="show the site board (every station's status) on a PC that is no station",
        description="Run the lead's site board alone: every station of the site, problems "
        "first, live. Reads the retained statuses over MQTT and writes nothing. Settings "
        "from --config (a station.toml, or credentials/board-SITE.toml from `doms broker "
        "setup`), each overridable by a flag. Ctrl+Q quits.",
    )
    board.add_argument("--config", help="TOML file with site and [sync] (host, user, TLS)")
    board.add_argument("--broker", help="HOST:PORT (default: the config's, else 127.0.0.1:1883)")
    board.add_argument("--site", help="site id, e.g. WH1 (default: the config's)")
    board.add_argument("--username", help="broker user, e.g. board-WH1 (default: the config's)")
    board.add_argument("--password-file", help="file holding the broker password (mode 600)")
    board.add_argument("--tls-ca", help="CA certificate: connect with TLS")
    board.set_defaults(func=_board)


def board_settings(args: argparse.Namespace) -> tuple[BrokerSettings, str]:
    """The broker connection and the site from --config and the flags. Raises ConfigError
    with a message for the user."""
    from sync.mqtt import BrokerSettings
    from sync.topics import check_id

    config = load_config(args.config) if args.config else StationConfig()
    sync = config.sync
    site = args.site or (config.site if args.config else None)
    if not site:
        raise ConfigError("--site is required without --config")
    try:
        check_id(site, "site id")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    host, port = sync.host, sync.port
    if args.broker:
        host, _, text = args.broker.rpartition(":")
        if not host or not text.isdigit():
            raise ConfigError(f"--broker {args.broker!r}: use HOST:PORT")
        port = int(text)
    password_file = args.password_file or sync.password_file
    username = args.username or sync.username or None
    if args.config and not args.username and password_file:
        # A station.toml leaves its user empty to mean the station id (broker_settings).
        username = username or config.station_id
        if username == config.station_id:
            raise ConfigError(
                f"{args.config} logs in as station {username}'s own broker user: the broker "
                f"would disconnect that station. Use the read-only board-{site} user from "
                f"`doms broker setup` (--username board-{site} --password-file "
                f".../credentials/board-{site}.password)"
            )
    tls_ca = args.tls_ca or sync.tls_ca
    return (
        BrokerSettings(
            host=host,
            port=port,
            username=username,
            password=read_password_file(password_file) if password_file else None,
            tls_ca=os.path.expanduser(tls_ca) if tls_ca else None,
            backoff_max=max(sync.reconnect_max_s, 0.1),
            protocol=sync.mqtt,
        ),
        site,
    )


def make_app(args: argparse.Namespace) -> BoardApp:
    """The app ``doms board`` runs (tests build it the same way). Raises ConfigError."""
    from station.board_app import BoardApp

    settings, site = board_settings(args)
    return BoardApp(settings, site)


def _board(args: argparse.Namespace) -> int:
    try:
        app = make_app(args)
    except ConfigError as exc:
        print(f"doms board: {exc}", file=sys.stderr)
        return 2
    app.run()
    return 0
