"""``doms hub load KIND FILE``: a thin wrapper over ``routing.masterdata``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Exit statuses (also in the command's help and README.md).
OK, REJECTED, UNREADABLE, PARTIAL = 0, 1, 2, 3


def register(subs: argparse._SubParsersAction) -> None:
    """Add ``load`` to ``doms hub``."""
    from routing.masterdata import KINDS

    load = subs.add_parser(
        "load",
        help="load the catalogue, barcodes, cartons or operators from a CSV file",
        description="Load a CSV file of KIND (catalog, barcodes, cartons, operators; "
        "columns in README.md, 'Load your data') into the hub; each added or changed row "
        "goes to every site's stations. Every row is checked first; with any bad row "
        "nothing is written unless --skip-bad is given. Exit status: 0 every row loaded, "
        "1 bad rows and nothing written, 2 the file cannot be read, 3 bad rows skipped "
        "and the good ones loaded (with --dry-run: what it would be).",
    )
    load.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    load.add_argument("file", metavar="FILE", help="CSV file with a header row")
    load.add_argument("--db", required=True, help="hub database file")
    load.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    load.add_argument(
        "--skip-bad", action="store_true", help="write the good rows even when some are bad"
    )
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    load.set_defaults(func=hub_load)


def hub_load(args: argparse.Namespace) -> int:
    """Load the file; print the report (counts, bad rows)."""
    from routing import store
    from routing.masterdata import FileError, load

    try:
        data = Path(args.file).read_bytes()
        db = store.open_db(args.db)
        report = load(db, args.kind, data, name=args.file, dry_run=args.dry_run,
                      skip_bad=args.skip_bad)  # fmt: skip
    except (FileError, OSError) as exc:
        print(f"doms hub load: {args.file}: {exc}", file=sys.stderr)
        return UNREADABLE
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            print(line)
    return {"ok": OK, "rejected": REJECTED, "partial": PARTIAL}[report.status]
