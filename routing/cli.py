"""``doms hub ...``: thin wrappers over ``routing.store``, ``routing.feed`` and ``sync.hub``."""

from __future__ import annotations

import argparse
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.mqtt import BrokerSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``hub`` to the ``doms`` command line."""
    hub = subparsers.add_parser(
        "hub", help="the site's hub: database and sync", description="The hub of a site."
    )
    subs = hub.add_subparsers(dest="hub_command", metavar="ACTION", required=True)

    init = subs.add_parser(
        "init",
        help="create (or migrate) the hub database",
        description="Create the hub database at --db, or bring its schema up to date, and "
        "register the site and its stations SITE-PACK-01..NN. With --sample, also load the "
        "demo catalogue, cartons, operators, stock, and orders assigned round-robin.",
    )
    init.add_argument("--db", required=True, help="hub database file")
    init.add_argument("--site", required=True, help="site id, e.g. WH1")
    init.add_argument("--stations", type=int, default=1, help="number of packing stations")
    init.add_argument("--sample", action="store_true", help="load the demo sample")
    init.add_argument("--orders", type=int, default=40, help="sample orders (with --sample)")
    init.set_defaults(func=hub_init)

    run = subs.add_parser(
        "run",
        help="run the hub's sync until Ctrl-C",
        description="Apply station events into the hub database, answer catch-up and "
        "snapshot requests, and publish the hub's streams, over the site's broker.",
    )
    run.add_argument("--db", required=True, help="hub database file")
    run.add_argument("--site", required=True, help="site id, e.g. WH1")
    run.add_argument("--broker", default="127.0.0.1:1883", help="HOST:PORT (default %(default)s)")
    run.add_argument("--username", help="broker user (default hub-SITE when a password is given)")
    run.add_argument(
        "--password-file", help="file holding the broker password (not world-readable)"
    )
    run.add_argument("--tls-ca", help="CA certificate: connect with TLS")
    run.set_defaults(func=hub_run)


def hub_init(args: argparse.Namespace) -> int:
    """Create the database; print what it holds."""
    from routing import feed, store
    from sync.broker.setup import station_ids
    from sync.topics import check_id

    try:
        site = check_id(args.site, "site")
        stations = station_ids(site, args.stations)  # the broker users' names
        db = store.open_db(args.db)
        for station in stations:
            feed.ensure_station(db, site, station)
        if args.sample:
            counts = feed.load_sample_hub(db, site, stations, orders=args.orders)
            print(", ".join(f"{n} {what}" for what, n in counts.items()))
    except (ValueError, OSError) as exc:
        print(f"doms hub init: {exc}", file=sys.stderr)
        return 1
    print(f"hub database {args.db}: site {site}, stations {', '.join(stations) or 'none'}")
    return 0


def hub_run(args: argparse.Namespace) -> int:
    """Run HubSync until SIGINT or SIGTERM."""
    from sync.hub import HubSync

    try:
        settings = broker_settings(args)
    except (ValueError, OSError) as exc:
        print(f"doms hub run: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        hub = HubSync(args.db, args.site, settings).start()
    except (ValueError, RuntimeError) as exc:
        print(f"doms hub run: {exc}", file=sys.stderr)
        return 1
    print(f"hub {args.site}: {args.db} <-> {settings.host}:{settings.port} (Ctrl-C stops)")
    try:
        done.wait()
    finally:
        hub.stop()
    print(" ".join(f"{k}={v}" for k, v in hub.stats().items() if v))
    return 0


def broker_settings(args: argparse.Namespace) -> BrokerSettings:
    """``BrokerSettings`` from --broker, --username, --password-file and --tls-ca. Raises
    ValueError for a bad address or a world-readable password file, OSError when the
    file cannot be read."""
    from sync.mqtt import BrokerSettings

    host, _, port = args.broker.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--broker {args.broker!r}: use HOST:PORT")
    password = None
    if args.password_file:
        path = Path(args.password_file)
        if path.stat().st_mode & stat.S_IROTH:  # PROTOCOL.md, "Security"
            raise ValueError(f"{path} is world-readable: chmod 600 it")
        password = path.read_text().strip()
    username = args.username or (f"hub-{args.site}" if password else None)
    return BrokerSettings(
        host=host, port=int(port), username=username, password=password, tls_ca=args.tls_ca
    )
