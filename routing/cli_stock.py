"""``doms hub stock receive|count|adjust|transfer``: thin wrappers over ``routing.stock``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from routing.stock import Outcome


def register(subs: argparse._SubParsersAction) -> None:
    """Add ``stock`` to ``doms hub``."""
    stock = subs.add_parser(
        "stock",
        help="book stock in: receipts, counts, adjustments, transfers",
        description="Book a site's stock into the hub's ledger: goods received, a count "
        "(opening stock or a cycle count), a one-off correction, a transfer between "
        "sites. Each changes the ledger in one transaction and sends the site's stations "
        "the new stock level of each SKU.",
    )
    actions = stock.add_subparsers(
        dest="stock_command", metavar="ACTION", required=True,
        help="receive, count, adjust or transfer",
    )  # fmt: skip

    receive = actions.add_parser(
        "receive",
        help="book goods received (a CSV or one SKU)",
        description="Book receipts at --site from FILE (CSV with a header row: sku,qty and "
        "an optional ref column; other columns are ignored) or from --sku/--qty. Idempotent "
        "per (ref, SKU): the same PO received again is reported, not counted again. A file "
        "row's ref wins over --ref; a file with neither gets a ref from its content's hash, "
        "so importing it again changes nothing. Nothing is written when a row is bad, "
        "unless --skip-bad.",
    )
    receive.add_argument("file", nargs="?", metavar="FILE", help="receipt CSV (sku,qty[,ref])")
    receive.add_argument("--sku", help="the SKU received (instead of FILE)")
    receive.add_argument("--qty", help="units received (with --sku)")
    receive.add_argument("--ref", help="the delivery's reference, e.g. the PO number")
    _common(receive, skip_bad=True)
    receive.set_defaults(func=hub_stock_receive)

    count = actions.add_parser(
        "count",
        help="set on hand from a stock count (opening stock, cycle count)",
        description="Apply a count of --site from FILE (CSV: sku,qty, the units physically "
        "there): each SKU's on hand becomes what was counted, by an adjustment of counted "
        "less on hand. On hand includes units reserved for orders not yet shipped, so count "
        "those too (shelf, totes, packing benches); reservations are left as they are. SKUs "
        "not in the file are left alone, unless --full. A count is applied once per ref.",
    )
    count.add_argument("file", metavar="FILE", help="count CSV (sku,qty)")
    count.add_argument("--ref", help="the count's reference (default: the date and file hash)")
    count.add_argument(
        "--full", action="store_true", help="FILE is the whole site: SKUs not in it count as 0"
    )
    _common(count, skip_bad=True)
    count.set_defaults(func=hub_stock_count)

    adjust = actions.add_parser(
        "adjust",
        help="correct one SKU's on hand (damaged, found), with a reason",
        description="Add --qty (negative: take off) to --sku's on hand at --site, keeping "
        "--reason with the movement. On hand cannot go below 0.",
    )
    adjust.add_argument("--sku", required=True, help="the SKU")
    adjust.add_argument("--qty", required=True, help="units, signed: -2 takes two off")
    adjust.add_argument("--reason", required=True, help="why, e.g. 'damaged in handling'")
    adjust.add_argument("--ref", help="a reference that makes a retry harmless")
    _common(adjust, skip_bad=False)
    adjust.set_defaults(func=hub_stock_adjust)

    move = actions.add_parser(
        "transfer",
        help="move stock from one site to another",
        description="Book a transfer of --qty of --sku from --from to --to: one movement "
        "out and one in, at once, so book it when the goods arrive. Only units available at "
        "--from (on hand less reservations) can go.",
    )
    move.add_argument("--db", required=True, help="hub database file")
    move.add_argument("--from", dest="from_site", required=True, help="the sending site")
    move.add_argument("--to", dest="to_site", required=True, help="the receiving site")
    move.add_argument("--sku", required=True, help="the SKU")
    move.add_argument("--qty", required=True, help="units moved (above 0)")
    move.add_argument("--ref", help="a reference that makes a retry harmless")
    move.add_argument("--reason", default="", help="why, kept with the movements")
    move.add_argument("--dry-run", action="store_true", help="check and print, write nothing")
    move.add_argument("--json", action="store_true", help="print the outcome as JSON")
    move.set_defaults(func=hub_stock_transfer)


def _common(parser: argparse.ArgumentParser, *, skip_bad: bool) -> None:
    parser.add_argument("--db", required=True, help="hub database file")
    parser.add_argument("--site", required=True, help="the site, e.g. WH1 (registered)")
    if skip_bad:
        parser.add_argument(
            "--skip-bad", action="store_true", help="write the good rows when some are bad"
        )
    parser.add_argument("--dry-run", action="store_true", help="check and print, write nothing")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _run(args: argparse.Namespace, name: str, do) -> int:
    """Open the hub, run ``do(db)``, print the outcome. The exit status is that of ``doms
    hub load``: 0 done, 1 refused or bad rows stopped it, 2 the file cannot be read, 3
    ``--skip-bad`` left bad rows out."""
    from routing import store

    try:
        out = do(store.open_db(args.db))
    except OSError as exc:
        print(f"doms hub stock {name}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"doms hub stock {name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out.to_dict(), indent=2))
    else:
        print("\n".join(_lines(out)))
    for bad in out.bad:
        print(f"doms hub stock {name}: {bad}", file=sys.stderr)
    if not out.bad:
        return 0
    return 3 if getattr(args, "skip_bad", False) and not args.dry_run else 1


def hub_stock_receive(args: argparse.Namespace) -> int:
    """Book the file's (or the one SKU's) receipts."""
    from routing import stock

    if bool(args.file) == bool(args.sku or args.qty) or (args.sku is None) != (args.qty is None):
        print("doms hub stock receive: give FILE, or --sku and --qty", file=sys.stderr)
        return 2

    def do(db):
        opts = {"skip_bad": args.skip_bad, "dry_run": args.dry_run}
        if args.file:
            raw = Path(args.file).read_bytes()
            return stock.receive_file(db, args.site, raw, name=args.file, ref=args.ref, **opts)
        ref = args.ref or stock.manual_ref()  # no ref: a receipt of its own each time
        items = [(None, args.sku, _qty(stock, args.qty), ref)]
        return stock.receive(db, args.site, items, **opts)

    return _run(args, "receive", do)


def hub_stock_count(args: argparse.Namespace) -> int:
    """Apply the count file."""
    from routing import stock

    def do(db):
        return stock.count(db, args.site, Path(args.file).read_bytes(), name=args.file,
                           ref=args.ref, full=args.full, skip_bad=args.skip_bad,
                           dry_run=args.dry_run)  # fmt: skip

    return _run(args, "count", do)


def hub_stock_adjust(args: argparse.Namespace) -> int:
    """Book the one correction."""
    from routing import stock

    def do(db):
        qty = _qty(stock, args.qty, signed=True)
        return stock.adjust(db, args.site, args.sku, qty, args.reason, ref=args.ref,
                            dry_run=args.dry_run)  # fmt: skip

    return _run(args, "adjust", do)


def hub_stock_transfer(args: argparse.Namespace) -> int:
    """Book the transfer."""
    from routing import stock

    def do(db):
        return stock.transfer(db, args.from_site, args.to_site, args.sku,
                              _qty(stock, args.qty), ref=args.ref, reason=args.reason,
                              dry_run=args.dry_run)  # fmt: skip

    return _run(args, "transfer", do)


def _qty(stock, text: str, *, signed: bool = False) -> int:
    try:
        return stock.parse_qty(text, signed=signed)
    except ValueError as exc:
        said = str(exc)
        raise stock.StockError(
            f"--{said}" if said.startswith("qty") else f"--qty: {said}"
        ) from None


# -- what is printed -----------------------------------------------------------------------
def _lines(out: Outcome) -> list[str]:
    """The outcome for people: one line per SKU, then a summary."""
    booked = "booked" if out.written else "not booked"
    if out.action == "receive":
        new = [r for r in out.lines if r["status"] == "new"]
        lines = [
            f"{r['sku']}  +{r['qty']}  {r['ref']}  "
            + ("already received" if r["status"] == "already" else booked)
            for r in out.lines
        ]
        units = sum(r["qty"] for r in new)
        summary = f"{out.site}: " + (
            f"{len(new)} receipts of {units} units {booked}" if new else "nothing new"
        )
        if len(new) < len(out.lines):
            summary += f", {len(out.lines) - len(new)} already received"
    elif out.action == "count":
        rows = [
            (r["sku"], str(r["was"]), str(r["counted"]), f"{r['adjustment']:+d}",
             str(r["reserved"]))
            for r in out.lines
        ]  # fmt: skip
        lines = _table(("sku", "was", "counted", "adjustment", "reserved"), rows)
        changed = sum(1 for r in out.lines if r["adjustment"])
        summary = f"{out.site}: count {out.ref}: " + (
            f"already applied at {out.already}"
            if out.already
            else f"{changed} adjustments {booked}, {len(out.lines) - changed} matched"
        )
    elif out.action == "adjust":
        r = out.lines[0]
        lines = [f"{r['sku']}  {r['qty']:+d}  on hand {r['was']} -> {r['now']}  ({r['reason']})"]
        summary = f"{out.site}: adjustment {out.ref} " + (
            "already booked" if out.already else booked
        )
    else:
        r = out.lines[0]
        lines = [f"{r['sku']}  {r['qty']}  {r['from']} -> {r['to']}"]
        summary = f"transfer {out.ref} " + ("already booked" if out.already else booked)
    if out.bad:
        summary += f"; {len(out.bad)} bad rows" + (
            ": nothing written (--skip-bad writes the rest)" if out.held else " left out"
        )
    if out.dry_run:
        summary += " (dry run)"
    return [*lines, *out.notes, summary]


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in [head, *rows]
    ]
