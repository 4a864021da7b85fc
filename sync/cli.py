"""``doms broker ...``: thin wrappers over ``sync.broker``."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``broker`` to the ``doms`` command line."""
    broker = subparsers.add_parser("broker", help="set up a site's MQTT broker (Mosquitto)")
    subs = broker.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    setup = subs.add_parser(
        "setup",
        help="write a Mosquitto config, users, ACL and TLS certificates for a site",
        description="Write DIR/mosquitto.conf, passwd (one user per station, named by its "
        "id SITE-PACK-01.., and hub-SITE), acl, tls/ (a site CA and the server certificate) "
        "and credentials/ (each user's password file and [sync] settings). Running it "
        "again keeps existing passwords unless --rotate. Then: mosquitto -c DIR/mosquitto.conf",
    )
    setup.add_argument("--site", required=True, help="site id, e.g. WH1")
    setup.add_argument("--stations", type=int, required=True, help="number of packing stations")
    setup.add_argument("--out", required=True, help="folder to write (created if missing)")
    setup.add_argument(
        "--host", help="name stations use to reach the broker (default: this host's name)"
    )
    setup.add_argument(
        "--port", type=int, default=1883, help="plaintext listener on 127.0.0.1 (default 1883)"
    )
    setup.add_argument(
        "--tls-port", type=int, default=8883, help="TLS listener, all interfaces (default 8883)"
    )
    setup.add_argument("--rotate", action="store_true", help="give every user a new password")
    setup.add_argument(
        "--user", help="system user mosquitto runs as when started by root (default mosquitto)"
    )
    setup.set_defaults(func=broker_setup)


def broker_setup(args: argparse.Namespace) -> int:
    """Write the broker folder; print what was made, kept or removed."""
    from sync.broker.setup import setup_site

    try:
        report = setup_site(
            args.out,
            args.site,
            args.stations,
            host=args.host,
            port=args.port,
            tls_port=args.tls_port,
            rotate=args.rotate,
            run_as=args.user,
        )
    except (ValueError, OSError) as exc:
        print(f"doms broker setup: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
