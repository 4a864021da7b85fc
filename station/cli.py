"""``doms station``, ``doms label``, ``doms demo`` and ``doms board``: thin wrappers over the
station library."""

from __future__ import annotations

import argparse
import sys


def register(subs: argparse._SubParsersAction) -> None:
    station = subs.add_parser(
        "station",
        help="run a packing station (Textual app)",
        description="Run the packing-station app at this terminal.",
    )
    station.add_argument("--config", help="station TOML file (default: built-in defaults)")
    station.add_argument(
        "--exit-after-first-screen",
        action="store_true",
        help="draw the login screen, then exit (start-up benchmark)",
    )
    station.set_defaults(func=_station)
    station_subs = station.add_subparsers(dest="station_command", metavar="ACTION")
    init = station_subs.add_parser(
        "init",
        help="create the station database",
        description="Create (or migrate) the station database.",
    )
    # SUPPRESS: "doms station --config F init" keeps F instead of a None default.
    init.add_argument("--config", default=argparse.SUPPRESS, help="station TOML file")
    init.add_argument(
        "--sample",
        action="store_true",
        help="also load the demo catalogue, cartons, operators and orders",
    )
    init.set_defaults(func=_init)
    sheet = station_subs.add_parser(
        "command-sheet",
        help="print the ZPL of the command-barcode sheet on stdout",
        description="Write the station's sheet of command barcodes (ZPL) to stdout.",
    )
    sheet.set_defaults(func=_sheet)
    from station.printing import cli as printing_cli

    printing_cli.register(station_subs)

    label = subs.add_parser("label", help="shipping labels", description="Shipping-label tools.")
    label_subs = label.add_subparsers(dest="label_command", metavar="ACTION")
    sample = label_subs.add_parser(
        "sample",
        help="print the ZPL of a sample shipping label on stdout",
        description="Write a sample 4x6 in 203 dpi shipping label, made by the station's "
        "own label code, to stdout as ZPL.",
    )
    sample.set_defaults(func=_label_sample)

    demo = subs.add_parser(
        "demo",
        help="run a station against emulated devices with sample orders",
        description="Start emulated scale, scanner and printers, load sample orders and run "
        "the station app. Log in with badge B1001.",
    )
    demo.add_argument("--dir", default="var/demo", help="where the demo keeps its files")
    demo.add_argument("--orders", type=int, default=40, help="sample orders to load")
    demo.add_argument("--keep", action="store_true", help="keep the previous demo database")
    demo.set_defaults(func=_demo)
    from station import board_cli

    board_cli.register(subs)


def _load(path: str | None):
    from station.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"doms: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _skip_numpy_for_sqlite_utils() -> None:
    # sqlite-utils imports numpy and pandas when they are installed (the hub's routing
    # engine needs numpy) only to map their scalar types; a station never stores numpy
    # values, and the import costs about 0.3 s and 17 MB of the station's start-up.
    for name in ("numpy", "pandas"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _station(args: argparse.Namespace) -> int:
    if "sqlite_utils" not in sys.modules:
        _skip_numpy_for_sqlite_utils()
    from station.app import StationApp
    from station.logs import log_to_file

    config = _load(args.config)
    log_to_file(config.database)
    StationApp(config, exit_after_first_screen=args.exit_after_first_screen).run()
    return 0


def _init(args: argparse.Namespace) -> int:
    from station.store.db import open_db

    config = _load(args.config)
    db = open_db(config.database)
    if args.sample:
        from station.demo_data import load_sample

        print(load_sample(db))
    db.close()
    print(f"station database ready: {config.database}")
    return 0


def _sheet(args: argparse.Namespace) -> int:
    from station.commands import sheet_entries
    from station.labels.command_sheet import command_sheet_zpl

    sys.stdout.buffer.write(command_sheet_zpl(sheet_entries()))
    return 0


def _label_sample(args: argparse.Namespace) -> int:
    from station.labels.shipping import sample_zpl

    sys.stdout.buffer.write(sample_zpl())
    sys.stdout.buffer.flush()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from station.demo import run_demo

    return run_demo(args.dir, orders=args.orders, keep=args.keep)
