"""The ``doms`` console script: a thin layer of subcommands over library calls.

Each package contributes its commands through a ``register(subparsers)`` function, so this
file only knows which packages have commands, not what they do.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (module, what it adds) - each module has register(subparsers) that adds its subcommands
# and sets ``func`` on each parser; func(args) returns the exit code.
COMMAND_MODULES = [
    "station.cli",  # doms station, doms label, doms demo
    "drivers.cli",  # doms devices, doms emulate
    "sync.cli",  # doms broker
    "routing.cli",  # doms hub
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doms", description="doms: distributed order fulfillment (hub, sync, stations)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package not written yet must not break the rest
            if exc.name != name:
                raise
            continue
        module.register(subs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
