"""``doms hub returns``: a thin wrapper over ``routing.returns``."""

from __future__ import annotations

import argparse
import json
import sys


def register(subs: argparse._SubParsersAction) -> None:
    """Add ``returns`` to ``doms hub``."""
    returns = subs.add_parser(
        "returns",
        help="list customer returns received at the stations (for the channels' refunds)",
        description="List the customer returns the stations' docks received (goods_returned "
        "events the hub booked): per returned order line, when it was booked, the station, "
        "the hub order and the channel order it refunds, the SKU, the units that came back "
        "and how many of them were damaged (written off, not back in stock).",
    )
    returns.add_argument("--db", required=True, help="hub database file")
    returns.add_argument("--since", help="only returns booked at or after this ISO time")
    returns.add_argument(
        "--json", action="store_true", help="one JSON object per return, with its lines"
    )
    returns.set_defaults(func=hub_returns)


def hub_returns(args: argparse.Namespace) -> int:
    """Print the returns booked (since --since)."""
    from routing import returns, store

    try:
        since = returns.since_iso(args.since) if args.since else ""
        db = store.open_db(args.db)
        booked = returns.list_returns(db, since)
    except (ValueError, OSError) as exc:
        print(f"doms hub returns: {exc}", file=sys.stderr)
        return 1
    if args.json:
        for r in booked:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
    else:
        sys.stdout.write(returns.render(booked))
    return 0
