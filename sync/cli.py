"""``doms broker ...``: thin wrappers over ``sync.broker``; ``doms hub photos`` and ``doms
hub photo``: thin wrappers over ``sync.hub_photos`` (registered by ``routing.cli``, which
owns ``doms hub``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


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


def register_hub_photos(hub_subs: argparse._SubParsersAction) -> None:
    """Add ``photos`` and ``photo`` to ``doms hub``."""
    photos = hub_subs.add_parser(
        "photos",
        help="list the photos stations took (received or not)",
        description="One line per photo the hub knows of, oldest first: hash, station, "
        "subject, taken at, size and when its file arrived ('missing' when an event named "
        "it and the station has not uploaded it yet).",
    )
    photos.add_argument("--db", required=True, help="hub database file")
    photos.add_argument("--subject", help="only photos of this subject, e.g. receipt/RCV-1")
    photos.add_argument(
        "--missing", action="store_true", help="only photos named by events but not received"
    )
    photos.set_defaults(func=hub_photos_list)
    photo = hub_subs.add_parser(
        "photo",
        help="copy one received photo out of the hub's store",
        description="Copy the photo whose SHA-256 starts with SHA (at least 6 hex digits) "
        "to FILE, checked against its hash.",
    )
    photo.add_argument("sha", metavar="SHA", help="the photo's SHA-256, or its first digits")
    photo.add_argument("--db", required=True, help="hub database file")
    photo.add_argument("--out", required=True, metavar="FILE", help="where to write the JPEG")
    photo.set_defaults(func=hub_photo_copy)


def hub_photos_list(args: argparse.Namespace) -> int:
    """Print the hub's photos; exit 0 even when there are none."""
    from sync import hub_photos

    with _hub_db(args.db) as db:
        found = hub_photos.list_photos(db, args.subject, args.missing)
    for p in found:
        size = f"{p.size} B" if p.size is not None else "-"
        print(
            f"{p.sha256}  {p.station}  {p.subject or '-'}  {p.taken_at or '-'}  {size}  "
            f"{p.received_at or 'missing'}"
        )
    return 0


def hub_photo_copy(args: argparse.Namespace) -> int:
    """Copy a received photo to --out after checking its hash; 1 when it cannot."""
    from sync import hub_photos
    from sync.photo_files import file_sha256, photo_path, root_beside, write_atomic

    try:
        with _hub_db(args.db) as db:
            photo = hub_photos.find(db, args.sha)
        if photo.received_at is None:
            raise LookupError(
                f"photo {photo.sha256} ({photo.subject or 'no subject'}) is named by "
                f"{photo.station}'s events but not received yet"
            )
        path = photo_path(root_beside(args.db), photo.sha256)
        if file_sha256(path) != photo.sha256:
            raise LookupError(f"{path} no longer matches its SHA-256: the hub's copy is damaged")
        write_atomic(Path(args.out), path.read_bytes())
    except (LookupError, ValueError, OSError) as exc:
        print(f"doms hub photo: {exc}", file=sys.stderr)
        return 1
    print(f"{photo.sha256} -> {args.out} ({photo.size} bytes, {photo.subject or 'no subject'})")
    return 0


@contextlib.contextmanager
def _hub_db(path: str):
    from routing import store
    from sync import hub_photos

    if not Path(path).exists():
        raise SystemExit(f"doms hub: no hub database at {path}")
    db = store.open_db(path)
    try:
        hub_photos.migrate(db)
        yield db
    finally:
        db.close()
