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
        "hub",
        help="the central node: orders in, routed to sites, out to stations",
        description="The central node: takes orders in from the sales channels, holds the "
        "inventory of every site, routes each order to the site that ships it, and syncs "
        "with the stations.",
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
        "snapshot requests, and publish the hub's streams, over the site's broker; route "
        "new orders every --route-every seconds.",
    )
    run.add_argument("--db", required=True, help="hub database file")
    run.add_argument("--site", required=True, help="site id, e.g. WH1")
    run.add_argument("--broker", default="127.0.0.1:1883", help="HOST:PORT (default %(default)s)")
    run.add_argument("--username", help="broker user (default hub-SITE when a password is given)")
    run.add_argument(
        "--password-file", help="file holding the broker password (not world-readable)"
    )
    run.add_argument("--tls-ca", help="CA certificate: connect with TLS")
    run.add_argument(
        "--mqtt",
        choices=("auto", "5", "3.1.1"),
        default="auto",
        help="MQTT version (default: 5 where the broker has it, else 3.1.1)",
    )
    from routing import cli_routing

    cli_routing.add_run_options(run)
    run.add_argument(
        "--keep-days",
        type=float,
        default=14.0,
        help="prune published stream changes and applied station events older than "
        "this (a station away longer gets a snapshot; each station's last 10,000 events, "
        "refused ones and inspection notes are kept) (default %(default)s)",
    )
    run.set_defaults(func=hub_run)
    _register_intake(subs)
    cli_routing.register(subs)
    from routing import cli_masterdata, cli_returns, cli_shipconfirm, cli_stock

    cli_masterdata.register(subs)
    cli_stock.register(subs)
    cli_shipconfirm.register(subs)
    cli_returns.register(subs)
    from sync.cli import register_hub_photos
    from sync.hub_stations import register_hub_stations

    register_hub_photos(subs)
    register_hub_stations(subs)


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
    """Run HubSync, and routing every --route-every s, until SIGINT or SIGTERM."""
    from routing.cli_routing import check_policy
    from routing.dispatch import RoutingLoop
    from sync.hub import HubSync

    try:
        settings = broker_settings(args)
        check_policy(args.policy)
    except (ValueError, OSError) as exc:
        print(f"doms hub run: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        hub = HubSync(args.db, args.site, settings, keep_stream_days=args.keep_days).start()
    except (ValueError, RuntimeError) as exc:
        print(f"doms hub run: {exc}", file=sys.stderr)
        return 1
    router = None
    if args.route_every > 0:
        # Its own thread and connection: routing a large queue never delays acks.
        router = RoutingLoop(args.db, args.policy, args.route_every,
                             on_routed=lambda _: hub.wake()).start()  # fmt: skip
    print(f"hub {args.site}: {args.db} <-> {settings.host}:{settings.port} (Ctrl-C stops)")
    try:
        done.wait()
    finally:
        if router is not None:
            router.stop()
        hub.stop()
    stats = hub.stats()
    if router is not None:
        stats |= {"routed": router.routed, "held": router.held, "routing_errors": router.errors}
    print(" ".join(f"{k}={v}" for k, v in stats.items() if v))
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
        host=host,
        port=int(port),
        username=username,
        password=password,
        tls_ca=args.tls_ca,
        protocol=getattr(args, "mqtt", "auto"),
    )


# -- intake: import, watch, webhook, map-sku, stock-feed ----------------------------------
def _register_intake(subs: argparse._SubParsersAction) -> None:
    from routing.intake.model import CHANNELS, KEY_TYPES

    imp = subs.add_parser(
        "import",
        help="take orders in from files",
        description="Import channel orders from each FILE (Shopify order JSON, SP-API "
        "getOrder + getOrderItems responses as a JSON array, TikTok Shop order detail, or "
        "the doms order CSV; the channel is detected from the shape unless --channel is "
        "given). Each file is all or nothing. An order already imported is reported as a "
        "duplicate; one with a product not linked to a SKU is stored on hold.",
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="order file(s)")
    imp.add_argument("--db", required=True, help="hub database file")
    imp.add_argument("--channel", choices=CHANNELS, help="the files' channel (default: detect)")
    imp.set_defaults(func=hub_import)

    watch = subs.add_parser(
        "watch",
        help="import order files dropped into a folder",
        description="Poll DIR for order files; import each, then move it to DIR/done, or "
        "to DIR/failed with a .reason file beside it. Files starting with '.' or ending "
        "in .tmp/.part are left alone until renamed.",
    )
    watch.add_argument("folder", metavar="DIR", help="the drop folder")
    watch.add_argument("--db", required=True, help="hub database file")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
    watch.add_argument("--once", action="store_true", help="scan once and exit")
    watch.set_defaults(func=hub_watch)

    hook = subs.add_parser(
        "webhook",
        help="serve the Shopify orders/create webhook",
        description="Serve POST /webhooks/shopify until Ctrl-C: check X-Shopify-Hmac-Sha256 "
        "against the app's client secret (401 when wrong), take the order in, answer 200 "
        "(also for a duplicate). The secret comes from --secret-file (not world-readable) "
        "or the environment variable DOMS_SHOPIFY_SECRET.",
    )
    hook.add_argument("--db", required=True, help="hub database file")
    hook.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    hook.add_argument("--port", type=int, default=8080, help="port (default %(default)s)")
    hook.add_argument("--secret-file", help="file holding the Shopify app's client secret")
    hook.set_defaults(func=hub_webhook)

    feed_ = subs.add_parser(
        "stock-feed",
        help="write a channel's stock feed (CSV)",
        description="Write CHANNEL's availability as CSV (sku, key_type, channel_product_key, "
        "quantity): available to promise over all sites, less unrouted orders and the "
        "channel's safety stock, one row per linked product key.",
    )
    feed_.add_argument(
        "channel", choices=CHANNELS, metavar="CHANNEL", help="one of " + ", ".join(CHANNELS)
    )
    feed_.add_argument("--db", required=True, help="hub database file")
    feed_.add_argument("--out", required=True, help="CSV file to write ('-': standard output)")
    feed_.set_defaults(func=hub_stock_feed)

    types = "; ".join(f"{c}: {', '.join(t)}" for c, t in KEY_TYPES.items())
    mapping = subs.add_parser(
        "map-sku",
        help="link a channel product key to a SKU",
        description="Link KEY of CHANNEL to our SKU (or every row of a mapping CSV with "
        "--csv: columns channel, channel_key, sku, optional key_type), then release the "
        f"orders held only for keys now linked. Key types: {types}.",
    )
    mapping.add_argument(
        "channel", nargs="?", metavar="CHANNEL", help="one of " + ", ".join(CHANNELS)
    )
    mapping.add_argument("key", nargs="?", metavar="KEY", help="the channel's product key")
    mapping.add_argument("sku", nargs="?", metavar="SKU", help="our SKU")
    mapping.add_argument("--key-type", help="the key's type (default: inferred from the key)")
    mapping.add_argument("--csv", metavar="FILE", help="a mapping CSV instead of one link")
    mapping.add_argument("--db", required=True, help="hub database file")
    mapping.set_defaults(func=hub_map_sku)


def hub_import(args: argparse.Namespace) -> int:
    """Import each file; print one line per order; 1 when a file failed."""
    from routing import store
    from routing.intake import IntakeError, import_bytes

    db = store.open_db(args.db)
    failed = 0
    for name in args.files:
        try:
            raw = Path(name).read_bytes()
            report = import_bytes(db, raw, channel=args.channel, name=Path(name).name,
                                  source=f"file:{name}")  # fmt: skip
        except (IntakeError, OSError) as exc:
            print(f"doms hub import: {name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        for line in report.lines():
            print(f"{name}: {line}")
    return 1 if failed else 0


def hub_watch(args: argparse.Namespace) -> int:
    """Scan the folder until SIGINT/SIGTERM (or once)."""
    from routing import store
    from routing.intake.watch import scan_once, watch

    def show(outcome) -> None:
        if outcome.error:
            print(f"{outcome.name}: failed: {outcome.error}", flush=True)
        else:
            for line in outcome.report.lines():
                print(f"{outcome.name}: {line}", flush=True)

    db = store.open_db(args.db)
    if not Path(args.folder).is_dir():
        print(f"doms hub watch: no folder {args.folder}", file=sys.stderr)
        return 1
    if args.once:
        for outcome in scan_once(db, args.folder, settle=0):
            show(outcome)
        return 0
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"watching {args.folder} every {args.interval:g} s (Ctrl-C stops)", flush=True)
    watch(db, args.folder, done, interval=args.interval, on_outcome=show)
    return 0


def hub_webhook(args: argparse.Namespace) -> int:
    """Serve the Shopify webhook until SIGINT/SIGTERM."""
    import os

    from routing import store
    from routing.intake.webhook import PATH, ShopifyWebhook

    try:
        if args.secret_file:
            path = Path(args.secret_file)
            if path.stat().st_mode & stat.S_IROTH:
                raise ValueError(f"{path} is world-readable: chmod 600 it")
            secret = path.read_bytes().strip()
        else:
            secret = os.environ.get("DOMS_SHOPIFY_SECRET", "").encode()
        if not secret:
            raise ValueError("no secret: give --secret-file or set DOMS_SHOPIFY_SECRET")
        db = store.open_db(args.db, check_same_thread=False)
        server = ShopifyWebhook(db, secret, host=args.host, port=args.port).start()
    except (ValueError, OSError) as exc:
        print(f"doms hub webhook: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"shopify webhook on http://{args.host}:{server.port}{PATH} (Ctrl-C stops)", flush=True)
    try:
        done.wait()
    finally:
        server.stop()
    return 0


def hub_stock_feed(args: argparse.Namespace) -> int:
    """Write the feed; print how many rows."""
    from routing import atp, store

    db = store.open_db(args.db)
    try:
        if args.out == "-":
            sys.stdout.write(atp.feed_csv(atp.stock_feed(db, args.channel)))
            return 0
        rows = atp.write_stock_feed(db, args.channel, args.out)
    except (ValueError, OSError) as exc:
        print(f"doms hub stock-feed: {exc}", file=sys.stderr)
        return 1
    print(f"{args.out}: {rows} rows for {args.channel}")
    return 0


def hub_map_sku(args: argparse.Namespace) -> int:
    """Link one key or a mapping CSV; release what that unblocks."""
    from routing import store
    from routing.intake import import_mapping_csv, map_sku, release_held

    given = [a for a in (args.channel, args.key, args.sku) if a]
    if bool(args.csv) == bool(given) or (given and len(given) != 3):
        print("doms hub map-sku: give CHANNEL KEY SKU, or --csv FILE", file=sys.stderr)
        return 2
    db = store.open_db(args.db)
    try:
        if args.csv:
            changed = import_mapping_csv(db, Path(args.csv).read_bytes())
            print(f"{changed} links changed")
        else:
            map_sku(db, args.channel, args.key, args.sku, args.key_type)
            print(f"{args.channel} {args.key} -> {args.sku}")
        released = release_held(db)
    except (ValueError, OSError) as exc:
        print(f"doms hub map-sku: {exc}", file=sys.stderr)
        return 1
    if released:
        print(f"released {len(released)} held orders: {', '.join(released)}")
    return 0
