"""``doms station jobs``: a lead's view of the print queue, thin over :mod:`queue`.

    doms station jobs --db var/station.db list
    doms station jobs --db var/station.db cancel 42
    doms station jobs --db var/station.db move 42 --to pack-02-label
    doms station jobs --db var/station.db move --all --from label --to pack-02-label

It works on the database file, so it also works while the station runs (SQLite WAL); the
station's print worker notices a moved job within two seconds.
"""

from __future__ import annotations

import argparse
import sys


def register(station_subs: argparse._SubParsersAction) -> None:
    jobs = station_subs.add_parser(
        "jobs",
        help="list, cancel or move print jobs (for leads)",
        description="The station's print queue: list waiting jobs, cancel one, or move one "
        "or all waiting jobs to another printer of the same kind (label or slip).",
    )
    jobs.add_argument("--db", help="station database (default: the --config one)")
    jobs.add_argument("--config", default=argparse.SUPPRESS, help="station TOML file")
    jobs.set_defaults(func=_list, all_jobs=False)
    subs = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")

    list_ = subs.add_parser(
        "list",
        help="show jobs not printed yet, and the printers",
        description="Show jobs not printed yet (queued, sending, uncertain) and the printers "
        "they can be moved to.",
    )
    list_.set_defaults(func=_list)

    cancel = subs.add_parser(
        "cancel",
        help="cancel a job so it never prints",
        description="Cancel a queued or uncertain job. A job being sent cannot be cancelled.",
    )
    cancel.add_argument("job", type=int, help="job number (from list)")
    cancel.set_defaults(func=_cancel)

    move = subs.add_parser(
        "move",
        help="send a job, or all waiting jobs of a printer, to another printer",
        description="Move a job (or with --all every waiting job of --from) to printer --to. "
        "The retry backoff starts afresh; a job being sent stays where it is.",
    )
    move.add_argument("job", type=int, nargs="?", help="job number (from list)")
    move.add_argument("--to", required=True, help="printer name (from list)")
    move.add_argument("--all", action="store_true", help="move every waiting job of --from")
    move.add_argument("--from", dest="from_printer", help="printer to empty (with --all)")
    move.set_defaults(func=_move)


def _db(args: argparse.Namespace):  # noqa: ANN202 - sqlite_utils stays a lazy import
    from station.store.db import open_db

    path = args.db
    if not path:
        from station.cli import _load

        path = _load(getattr(args, "config", None)).database
    return open_db(path)


def _list(args: argparse.Namespace) -> int:
    from station.printing import queue

    db = _db(args)
    try:
        jobs = queue.open_jobs(db)
        known = queue.printers(db)
    finally:
        db.close()
    if not jobs:
        print("No jobs waiting.")
    for j in jobs:
        print(
            f"{j.job_id:>6}  {j.printer:16} {j.media:5} {j.kind:15} {j.order_id or '-':12} "
            f"{j.status:9} tries {j.attempts}  {j.last_error or ''}".rstrip()
        )
    print("printers: " + ", ".join(f"{name} ({media})" for name, media in known.items()))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from station.printing import queue

    db = _db(args)
    try:
        job = queue.cancel_job(db, args.job)
    except queue.QueueError as exc:
        return _fail(str(exc))
    finally:
        db.close()
    print(f"job {job.job_id} ({job.kind}, printer {job.printer}) cancelled")
    return 0


def _move(args: argparse.Namespace) -> int:
    from station.printing import queue

    if args.all == (args.job is not None):
        return _fail("give a job number, or --all --from PRINTER")
    if args.all and not args.from_printer:
        return _fail("--all needs --from PRINTER")
    db = _db(args)
    try:
        if args.all:
            moved = queue.move_all(db, args.from_printer, args.to)
            print(f"{len(moved)} job(s) moved from {args.from_printer} to {args.to}")
        else:
            job = queue.move(db, args.job, args.to)
            print(f"job {job.job_id} ({job.kind}) moved to {job.printer}")
    except queue.QueueError as exc:
        return _fail(str(exc))
    finally:
        db.close()
    return 0


def _fail(message: str) -> int:
    print(f"doms: {message}", file=sys.stderr)
    return 1
