"""``doms hub site|route|route-pending|explain|requeue|atp|safety-stock``: thin wrappers over
``routing.sites``, ``routing.dispatch``, ``routing.backorders`` and ``routing.atp``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

POLICY_HELP = (
    "routing policy: a preset (closest, min_splits, ranked, most_stock, local, cheapest, "
    "cost_optimal) or a spec such as 'ranked;max_splits=2' (default %(default)s)"
)


def register(subs: argparse._SubParsersAction) -> None:
    """Add the routing actions to ``doms hub``."""
    site = subs.add_parser(
        "site",
        help="give sites a location, rank and capacity",
        description="Register or update a site with what routing needs of it, or list "
        "the sites. Only sites with a location and at least one station are routed to.",
    )
    site_subs = site.add_subparsers(
        dest="site_command", metavar="ACTION", required=True, help="add or list"
    )
    add = site_subs.add_parser(
        "add",
        help="register or update a site",
        description="Register SITE or update it: its location from --postal-code (US ZIP "
        "codes, offline) or --lat/--lon, and its rank, daily capacity, cut-off hour and "
        "UTC offset. Options left out keep their value.",
    )
    add.add_argument("--db", required=True, help="hub database file")
    add.add_argument("--site", required=True, help="site id, e.g. WH2")
    add.add_argument("--postal-code", help="the site's postal code (its centroid is used)")
    add.add_argument("--country", default="US", help="ISO 3166 alpha-2 (default %(default)s)")
    add.add_argument("--lat", type=float, help="latitude, degrees (with --lon)")
    add.add_argument("--lon", type=float, help="longitude, degrees (with --lat)")
    add.add_argument("--name", help="a name for people")
    add.add_argument("--market", help="market for the 'market' rule (default: the country)")
    add.add_argument("--rank", type=int, help="lower ships first under the 'ranked' rule")
    add.add_argument("--capacity", type=int, help="packages a day (0 or less: no limit)")
    add.add_argument("--cutoff", type=float, help="local hour orders must be in by to ship today")
    add.add_argument("--utc-offset", type=float, help="local time = UTC + this many hours")
    add.set_defaults(func=hub_site_add)
    lst = site_subs.add_parser(
        "list", help="list the sites", description="List every site with its location."
    )
    lst.add_argument("--db", required=True, help="hub database file")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=hub_site_list)

    route = subs.add_parser(
        "route",
        help="show how an order would be routed (changes nothing)",
        description="Parse a channel order file (any format 'doms hub import' takes), "
        "route it against the current inventory, and print the plan and why. Nothing is "
        "stored or reserved.",
    )
    route.add_argument("file", metavar="ORDER", help="order file (JSON or CSV)")
    route.add_argument("--db", required=True, help="hub database file")
    route.add_argument("--policy", default="min_splits", help=POLICY_HELP)
    route.add_argument("--channel", help="the file's channel (default: detect)")
    route.add_argument("--json", action="store_true", help="print Plan.to_dict() as JSON")
    route.set_defaults(func=hub_route)

    pending = subs.add_parser(
        "route-pending",
        help="route the orders waiting in the queue, once",
        description="Route every new order (or --limit of them): assign each to the "
        "least loaded station of the chosen site, reserving its stock, or hold it with "
        "the reason no site can fill it. 'doms hub run' does this every --route-every s.",
    )
    pending.add_argument("--db", required=True, help="hub database file")
    pending.add_argument("--policy", default="min_splits", help=POLICY_HELP)
    pending.add_argument("--limit", type=int, help="route at most this many orders")
    pending.add_argument("--json", action="store_true", help="print the summary as JSON")
    pending.set_defaults(func=hub_route_pending)

    explain = subs.add_parser(
        "explain",
        help="why an order was routed where it was",
        description="Print the routing decisions kept for ORDER (a part split off by a "
        "plan answers with its parent's), newest last.",
    )
    explain.add_argument("order", metavar="ORDER", help="hub order id, e.g. SHP-5678")
    explain.add_argument("--db", required=True, help="hub database file")
    explain.add_argument("--json", action="store_true", help="print the decisions as JSON")
    explain.set_defaults(func=hub_explain)

    requeue = subs.add_parser(
        "requeue",
        help="put held orders back in the routing queue",
        description="Put each ORDER held at the hub (e.g. a back-order, once stock has "
        "come in) back in the queue; the next routing run routes it again. With "
        "--backorders: every order held for stock whose lines all have stock available "
        "at some site again, and for which stock has come in since it was held.",
    )
    requeue.add_argument("orders", nargs="*", metavar="ORDER", help="hub order id(s)")
    requeue.add_argument("--db", required=True, help="hub database file")
    requeue.add_argument(
        "--backorders",
        action="store_true",
        help="requeue the back-orders that stock has come in for (prints their ids)",
    )
    requeue.set_defaults(func=hub_requeue)

    from routing.intake.model import CHANNELS

    avail = subs.add_parser(
        "atp",
        help="show available to promise per SKU, per site and in total",
        description="Print each SKU's available to promise: per site (on hand less "
        "reservations), the demand not routed yet, the total, and with --channel what that "
        "channel may sell (the total less its safety stock).",
    )
    avail.add_argument("skus", nargs="*", metavar="SKU", help="SKUs to show (default: all)")
    avail.add_argument("--db", required=True, help="hub database file")
    avail.add_argument(
        "--channel", action="append", default=[], choices=CHANNELS,
        help="also show what this channel may sell (repeatable)",
    )  # fmt: skip
    avail.add_argument("--json", action="store_true", help="print JSON")
    avail.set_defaults(func=hub_atp)

    safety = subs.add_parser(
        "safety-stock",
        help="hold units back from a channel's stock feed",
        description="Hold UNITS of SKU (or of every SKU without its own row, with --sku "
        "'*') back from CHANNEL's available to promise; 0 removes the row.",
    )
    safety.add_argument("--db", required=True, help="hub database file")
    safety.add_argument("--channel", required=True, choices=CHANNELS, help="the channel")
    safety.add_argument("--sku", required=True, help="our SKU, or '*' for every SKU")
    safety.add_argument("--units", required=True, type=int, help="units held back (>= 0)")
    safety.set_defaults(func=hub_safety_stock)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """``doms hub run``'s routing options."""
    run.add_argument(
        "--route-every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="route new orders this often (0: never; default %(default)s)",
    )
    run.add_argument("--policy", default="min_splits", help=POLICY_HELP)


def check_policy(policy: str) -> None:
    """Raise ValueError for a policy the engine does not know."""
    from routing.engine.rules import as_policy

    as_policy(policy)


def hub_site_add(args: argparse.Namespace) -> int:
    """Register or update the site; print its row."""
    from routing import sites, store

    limit = {} if args.capacity is None else {"capacity": max(args.capacity, 0) or None}
    try:
        row = sites.set_site(
            store.open_db(args.db), args.site, postal_code=args.postal_code,
            country=args.country, lat=args.lat, lon=args.lon, name=args.name,
            market=args.market, rank=args.rank, cutoff_hour=args.cutoff,
            utc_offset_h=args.utc_offset, **limit,
        )  # fmt: skip
    except ValueError as exc:
        print(f"doms hub site add: {exc}", file=sys.stderr)
        return 1
    print(_site_line(row))
    return 0


def hub_site_list(args: argparse.Namespace) -> int:
    """Print one line per site (or JSON)."""
    from routing import sites, store

    rows = sites.list_sites(store.open_db(args.db))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(_site_line(row))
    return 0


def _site_line(row: dict[str, Any]) -> str:
    where = "no location" if row["lat"] is None else f"{row['lat']:.4f},{row['lon']:.4f}"
    if row["postal_code"]:
        where += f" ({row['country']} {row['postal_code']})"
    capacity = "no limit" if row["capacity"] is None else f"{row['capacity']}/day"
    n = row.get("stations")
    stations = "" if n is None else f", {n} station{'' if n == 1 else 's'}"
    return (
        f"{row['site']}: {where}, rank {row['rank']}, capacity {capacity}, cut-off "
        f"{row['cutoff_hour']:g}h at UTC{row['utc_offset_h']:+g}{stations}"
    )


def hub_route(args: argparse.Namespace) -> int:
    """Route each order of the file against current stock; print each plan."""
    from routing import store
    from routing.explain import preview
    from routing.intake import IntakeError

    try:
        check_policy(args.policy)
        raw = Path(args.file).read_bytes()
        plans = preview(store.open_db(args.db), raw, args.policy, channel=args.channel,
                        name=Path(args.file).name)  # fmt: skip
    except (IntakeError, ValueError, OSError) as exc:
        print(f"doms hub route: {exc}", file=sys.stderr)
        return 1
    if args.json:
        out = [p.to_dict() for p in plans]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
    else:
        print("\n\n".join(p.explain() for p in plans))
    return 0


def hub_route_pending(args: argparse.Namespace) -> int:
    """Route the queue once; print what happened."""
    from routing import store
    from routing.dispatch import route_pending

    try:
        check_policy(args.policy)
        summary = route_pending(store.open_db(args.db), args.policy, limit=args.limit)
    except ValueError as exc:
        print(f"doms hub route-pending: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print("\n".join(summary.lines()))
    return 0


def hub_explain(args: argparse.Namespace) -> int:
    """Print the order's routing decisions; 1 when there are none."""
    from routing import store
    from routing.explain import decisions, explain_decision

    found = decisions(store.open_db(args.db), args.order)
    if not found:
        print(f"doms hub explain: no routing decision for {args.order}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print("\n\n".join(explain_decision(d) for d in found))
    return 0


def hub_requeue(args: argparse.Namespace) -> int:
    """Requeue each order (and, with --backorders, the back-orders stock has come in
    for); 1 when one could not be, 2 when there is nothing to do."""
    from routing import store
    from routing.intake import requeue_order

    if not args.orders and not args.backorders:
        print("doms hub requeue: name ORDER(s), or give --backorders", file=sys.stderr)
        return 2
    db = store.open_db(args.db)
    if args.backorders:
        from routing.backorders import requeue_backorders

        for order in requeue_backorders(db):
            print(f"{order} new")
    failed = 0
    for order in args.orders:
        try:
            requeue_order(db, order)
            print(f"{order} new")
        except ValueError as exc:
            print(f"doms hub requeue: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def hub_safety_stock(args: argparse.Namespace) -> int:
    """Set the channel's safety stock of the SKU."""
    from routing import atp, store

    try:
        atp.set_safety_stock(store.open_db(args.db), args.channel, args.sku, args.units)
    except ValueError as exc:
        print(f"doms hub safety-stock: {exc}", file=sys.stderr)
        return 1
    print(f"{args.channel}: {args.units} units of {args.sku} held back")
    return 0


def hub_atp(args: argparse.Namespace) -> int:
    """Print available to promise per SKU; 1 when a SKU asked for is not known."""
    from routing import atp, store

    db = store.open_db(args.db)
    every = atp.atp_all(db)
    unknown = [sku for sku in args.skus if sku not in every]
    rows = [every[sku] for sku in args.skus if sku in every] if args.skus else list(every.values())
    by_channel = {ch: atp.channel_atp(db, ch, every) for ch in args.channel}
    if args.json:
        out = [
            {"sku": a.sku, "by_site": a.by_site, "unrouted": a.unrouted, "total": a.total,
             "channels": {ch: got.get(a.sku, 0) for ch, got in by_channel.items()}}
            for a in rows
        ]  # fmt: skip
        print(json.dumps(out, indent=2))
    else:
        sites = sorted({site for a in rows for site in a.by_site})
        head = ["sku", *sites, "unrouted", "total", *by_channel]
        table = [
            [a.sku, *(str(a.by_site.get(s, 0)) for s in sites), str(a.unrouted), str(a.total),
             *(str(got.get(a.sku, 0)) for got in by_channel.values())]
            for a in rows
        ]  # fmt: skip
        widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]
        for r in [head, *table]:
            cells = [
                r[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
            ]
            print("  ".join(cells).rstrip())
    for sku in unknown:
        print(
            f"doms hub atp: SKU {sku} is neither in the catalogue nor the ledger", file=sys.stderr
        )
    return 1 if unknown else 0
