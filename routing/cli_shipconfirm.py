"""``doms hub ship-confirm``: a thin wrapper over ``routing.shipconfirm``."""

from __future__ import annotations

import argparse
import sys

from routing.intake.model import CHANNELS

CORRECTIONS_EXIT = 3  # the file is written, and a person must act on a correction


def register(subs: argparse._SubParsersAction) -> None:
    """Add ``ship-confirm`` to ``doms hub``."""
    confirm = subs.add_parser(
        "ship-confirm",
        help="write a channel's shipment confirmations (what shipped, tracking numbers)",
        description="Write every package shipped for CHANNEL's orders and not yet confirmed "
        "to it, in the channel's format: Shopify fulfillments (JSON lines), Amazon's "
        "shipping confirmation flat file (tab separated), TikTok Shop Mark Package As "
        "Shipped requests (JSON lines), or the doms CSV. Split parts confirm against the "
        "parent channel order and its line ids; a short line confirms the units that left. "
        "Each package is recorded as confirmed once the file is in place, so the next run "
        "lists only new ones; nothing to confirm writes no file. A package voided after it "
        f"was confirmed is listed as a correction (exit status {CORRECTIONS_EXIT}).",
    )
    confirm.add_argument(
        "channel", choices=CHANNELS, metavar="CHANNEL", help="one of " + ", ".join(CHANNELS)
    )
    confirm.add_argument("--db", required=True, help="hub database file")
    confirm.add_argument(
        "--out",
        required=True,
        help="file to write; refused while the last one is still there (not yet uploaded). "
        "'-': standard output, nothing recorded",
    )
    confirm.add_argument("--since", help="only packages packed at or after this ISO time")
    confirm.add_argument(
        "--all",
        action="store_true",
        help="list packages (and corrections) already confirmed too, to send them again",
    )
    confirm.add_argument(
        "--dry-run", action="store_true", help="write the file but record nothing as sent"
    )
    confirm.set_defaults(func=hub_ship_confirm)


def hub_ship_confirm(args: argparse.Namespace) -> int:
    """Write the feed; print what it holds and every correction."""
    from routing import shipconfirm, store

    try:
        since = shipconfirm.parse_since(args.since) if args.since else None
        db = store.open_db(args.db)
        if args.out == "-":
            feed = shipconfirm.build_feed(db, args.channel, since=since, include_confirmed=args.all)
            sys.stdout.write(shipconfirm.render(feed))
        else:
            feed = shipconfirm.write_ship_confirm(
                db, args.channel, args.out, since=since, include_confirmed=args.all,
                mark=not args.dry_run,
            )  # fmt: skip
    except (ValueError, OSError) as exc:
        print(f"doms hub ship-confirm: {exc}", file=sys.stderr)
        return 1
    if args.out != "-":
        if feed.confirmations:
            print(f"{args.out}: {feed.packages} packages of {len(feed.confirmations)} "
                  f"shipments for {args.channel}")  # fmt: skip
        else:
            print(f"nothing to confirm to {args.channel}")
    if feed.corrections:
        print(
            f"corrections: {len(feed.corrections)} packages confirmed to {args.channel} "
            "were voided afterwards; tell the channel or the buyer:",
            file=sys.stderr,
        )
        for k in feed.corrections:
            print(f"  {k.line()}", file=sys.stderr)
        return CORRECTIONS_EXIT
    return 0
