"""``doms devices ...`` and ``doms emulate ...``: thin wrappers over drivers.urls and emulators.

Heavy imports (pyserial, python-escpos) happen inside the commands, so ``doms --help``
stays fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``devices`` and ``emulate`` to the ``doms`` command line."""
    from drivers.urls import SCALE_PROTOCOLS  # light: no pyserial until a URL is opened

    devices = subparsers.add_parser(
        "devices", help="talk to scales, printers and scanners by device URL"
    )
    dev_subs = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    read = dev_subs.add_parser(
        "read-scale",
        help="read one weight and print it as JSON",
        description='Print {"grams": ..., "stable": ...} on stdout; exit 1 with the reason '
        "on stderr if the scale cannot be read.",
    )
    read.add_argument("url", help="scale URL, e.g. serial:///dev/ttyUSB0?protocol=mt-sics")
    read.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    read.add_argument("--unstable", action="store_true", help="do not wait for a stable weight")
    read.set_defaults(func=read_scale)
    probe = dev_subs.add_parser(
        "probe",
        help="find which scale protocol and baud rate answer on a serial port",
        description="Tries Toledo 8217, NCI, CAS and MT-SICS at their usual settings, then "
        "(the sweep) at 4800, 2400 and 19200 baud, with read-only commands, stops at the "
        "first answer and prints the URL to put in the station config; exit 1 if nothing "
        "answered. With nothing answering a full sweep takes about 15 s (0.5 s timeout).",
    )
    probe.add_argument("port", help="serial port, e.g. /dev/ttyUSB0 or COM3")
    probe.add_argument("--json", action="store_true", help="print the report as JSON")
    probe.add_argument(
        "--timeout", type=float, default=0.5, help="seconds to wait for each answer (0.5)"
    )
    probe.add_argument(
        "--sweep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the usual settings try the other common baud rates (default; "
        "--no-sweep: usual settings only)",
    )
    probe.add_argument(
        "--bauds",
        default="9600,4800,2400,19200",
        help="baud rates for the sweep, in order (default 9600,4800,2400,19200)",
    )
    probe.set_defaults(func=probe_scale)
    _register_device_tools(dev_subs)

    emulate = subparsers.add_parser(
        "emulate", help="run a device emulator (prints its URL, runs until Ctrl-C)"
    )
    emu_subs = emulate.add_subparsers(dest="emulate_command", metavar="DEVICE", required=True)
    scale = emu_subs.add_parser(
        "scale",
        help="a serial scale (MT-SICS, Toledo 8217, NCI, CAS or CAS stream) on a pseudo-terminal",
        description="Prints the scale URL. Type a weight in grams and Enter to place it; "
        "'r' removes it; faults: motion, overload, under, noise, split, slow S, hang (and "
        "nak, bad-bcc for CAS; fault NAME for NCI); 'ok' clears them; 'help' lists all. "
        "cas-stream sends its frames unasked (slow S: one every S s).",
    )
    scale.add_argument("--weight", type=float, default=0.0, help="grams on the pan at start")
    scale.add_argument(
        "--protocol",
        default="mt-sics",
        choices=[*SCALE_PROTOCOLS, "hid"],
        help="wire protocol (default mt-sics; hid: a USB HID scale's reports over TCP)",
    )
    scale.add_argument("--unit", help="unit the scale shows: g, kg, lb or oz")
    scale.add_argument(
        "--baud",
        type=int,
        default=9600,
        help="baud rate the scale is set to; it answers only a port set to it (9600)",
    )
    scale.set_defaults(func=emulate_scale)
    label = emu_subs.add_parser(
        "label-printer",
        help="a ZPL label printer on TCP",
        description="Prints the printer URL. Type a fault and Enter: paper-out, head-open, "
        "ribbon-out, pause, cutter, hot, motor-hot, near-end, silent, slow S, noise, drop, "
        "drop-status, offline "
        "(each with 'off' to clear); 'ok' clears them all; 'help' lists them.",
    )
    label.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    label.add_argument("--folder", help="also save each printed label as NNNN.zpl here")
    label.set_defaults(func=emulate_label_printer)
    slip = emu_subs.add_parser(
        "slip-printer",
        help="an ESC/POS slip printer on TCP, or on a pseudo-terminal with --serial",
        description="Prints the printer URL (with --serial, the pty path on stderr too). "
        "Type a fault and Enter: paper-out, near-end, cover-open, offline, silent, slow S, "
        "noise, unplug, and on TCP drop, drop-status (each with 'off' to clear); 'ok' clears "
        "them all; 'help' lists them. On a serial line a slip ends at its cut.",
    )
    slip.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    slip.add_argument(
        "--serial", action="store_true", help="on a pseudo-terminal (escpos+serial://) not TCP"
    )
    slip.add_argument(
        "--baud",
        type=int,
        default=9600,
        help="with --serial: the printer's baud rate; it understands only a port set to it",
    )
    slip.set_defaults(func=emulate_slip_printer)
    scanner = emu_subs.add_parser(
        "scanner",
        help="a serial barcode scanner on a pseudo-terminal",
        description="Prints the scanner URL; every line typed is sent as one scan.",
    )
    scanner.set_defaults(func=emulate_scanner)


def _register_device_tools(dev_subs: argparse._SubParsersAction) -> None:
    """``devices list``, ``devices watch-scale``, ``devices test-print`` (drivers.tools)."""
    found = dev_subs.add_parser(
        "list",
        help="list serial ports, USB scales, CUPS printers, scanners and cameras",
        description="One line per device with the URL to configure; --json for a list of "
        "objects. Sources that cannot be looked at (a missing package) are noted on stderr.",
    )
    found.add_argument("--json", action="store_true", help="print JSON instead of a table")
    found.set_defaults(func=devices_list)
    watch = dev_subs.add_parser(
        "watch-scale",
        help="print live scale readings, stable or in motion, until Ctrl-C",
        description="A line when the reading changes (and once a second while it does not). "
        "Overload and other conditions are printed and watching goes on.",
    )
    watch.add_argument("url", help="scale URL, e.g. hid://0922:8003 or serial:///dev/ttyUSB0")
    watch.add_argument("--count", type=int, help="stop after this many lines")
    watch.add_argument(
        "--every", type=float, default=1.0, help="repeat an unchanged reading after S seconds"
    )
    watch.set_defaults(func=watch_scale)
    test_print = dev_subs.add_parser(
        "test-print",
        help="print a test label (ZPL URLs) or test slip (escpos URLs) and report status",
        description="Reports the printer's status before and after; exits 1 if nothing was "
        "printed.",
    )
    test_print.add_argument("url", help="printer URL, e.g. tcp://10.0.0.5:9100, escpos+tcp://...")
    test_print.set_defaults(func=devices_test_print)


def devices_list(args: argparse.Namespace) -> int:
    """List the devices this machine can see, with their URLs."""
    from drivers.tools import list_devices

    found, notes = list_devices()
    for note in notes:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps([d.as_json() for d in found], indent=2))
        return 0
    if not found:
        print("no devices found", file=sys.stderr)
    for d in found:
        print(f"{d.kind:8} {d.url:50} {d.usb_id:9} {d.description}")
    return 0


def watch_scale(args: argparse.Namespace) -> int:
    """Print readings from the scale until Ctrl-C (or --count lines)."""
    from drivers.errors import DeviceError
    from drivers.tools import watch_scale as watch

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        watch(args.url, sys.stdout, count=args.count, every=args.every)
    except KeyboardInterrupt:
        pass
    except DeviceError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 1
    return 0


def devices_test_print(args: argparse.Namespace) -> int:
    """Print a test label or slip and report the printer's status."""
    from drivers.errors import DeviceError
    from drivers.tools import print_test

    try:
        printed, lines = print_test(args.url)
    except DeviceError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0 if printed else 1


def read_scale(args: argparse.Namespace) -> int:
    """Read one weight from the scale at ``args.url``."""
    from drivers.errors import DeviceError
    from drivers.urls import open_scale

    try:
        scale = open_scale(args.url)
        try:
            weight = scale.read(stable=not args.unstable, timeout=args.timeout)
        finally:
            scale.close()
    except DeviceError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 1
    print(json.dumps(weight.as_json()))
    return 0


def probe_scale(args: argparse.Namespace) -> int:
    """Find the scale protocol (and baud rate) on ``args.port``; print the URL for it."""
    from drivers.probe import Attempt, plan, probe, worst_case_seconds

    try:
        bauds = [int(b) for b in args.bauds.split(",") if b.strip()] if args.sweep else []
    except ValueError:
        print(f"--bauds {args.bauds!r}: give rates like 9600,4800", file=sys.stderr)
        return 2
    tries = len(plan(bauds=bauds))
    longest = worst_case_seconds(args.timeout, bauds=bauds)
    print(
        f"Trying {tries} settings on {args.port}, read-only; up to {longest:.0f} s if "
        "nothing answers.",
        file=sys.stderr,
        flush=True,
    )

    def show(a: Attempt) -> None:
        print(f"{a.protocol:<12} {a.settings:<10} {a.detail}", flush=True)

    report = probe(
        args.port, timeout=args.timeout, bauds=bauds, on_attempt=None if args.json else show
    )
    if args.json:
        print(json.dumps(report.as_json()))
    elif report.found is not None:
        found = report.found
        print(f"Found {found.protocol} at {found.settings} after {report.seconds:.1f} s.")
        print(f"Put this in the station config: {report.url}")
    if report.found is None:
        rates = sorted({a.baud for a in report.attempts})
        print(
            f"No scale answered on {args.port} (tried {len(report.attempts)} settings: "
            f"{', '.join(dict.fromkeys(a.protocol for a in report.attempts))} at "
            f"{', '.join(map(str, rates))} baud, {report.seconds:.1f} s): check power, "
            "cable and the scale's interface settings.",
            file=sys.stderr,
        )
        return 1
    return 0


def emulate_scale(args: argparse.Namespace) -> int:
    """Run a scale emulator of ``args.protocol``; stdin lines control it."""
    from drivers.emulators.controls import SCALE, Console
    from drivers.urls import SCALE_PROTOCOLS, _load

    kwargs: dict[str, object] = {"unit": args.unit} if args.unit else {}
    if args.protocol == "hid":
        emulator = _load("drivers.emulators.hid_scale:HidScaleEmulator")
    else:
        emulator = _load(SCALE_PROTOCOLS[args.protocol].emulator)
        kwargs["baud"] = args.baud
    with emulator(weight=args.weight, **kwargs) as emu:
        _announce(emu.url)

        def pan(line: str) -> str | None:
            if line in ("r", "remove"):
                emu.remove()
                return "removed"
            try:
                grams = float(line)
            except ValueError:
                return None
            emu.place(grams)
            return f"placed {grams:g} g"

        help_text = f"  {'GRAMS':<18} place a parcel (settles)\n  {'r':<18} remove it"
        return _serve(Console(emu, SCALE, pan, help_text))


def emulate_label_printer(args: argparse.Namespace) -> int:
    """Run a ZPL printer emulator; stdin lines inject faults."""
    from drivers.emulators.controls import LABEL_PRINTER, Console
    from drivers.emulators.zpl_printer import ZplPrinterEmulator

    with ZplPrinterEmulator(port=args.port, folder=args.folder) as emu:
        _announce(emu.url)
        return _serve(Console(emu, LABEL_PRINTER))


def emulate_slip_printer(args: argparse.Namespace) -> int:
    """Run an ESC/POS printer emulator; stdin lines inject faults."""
    from drivers.emulators.controls import SERIAL_SLIP_PRINTER, SLIP_PRINTER, Console

    if args.serial:
        from drivers.emulators.escpos_serial import SerialEscposPrinterEmulator

        try:
            serial_emu = SerialEscposPrinterEmulator(baud=args.baud)
        except ValueError as exc:
            print(f"doms emulate slip-printer: {exc}", file=sys.stderr)
            return 2
        with serial_emu as emu:
            print(f"pty {emu.port} at {emu.baud} baud 8N1", file=sys.stderr, flush=True)
            _announce(emu.url)
            return _serve(Console(emu, SERIAL_SLIP_PRINTER))
    from drivers.emulators.escpos_printer import EscposPrinterEmulator

    with EscposPrinterEmulator(port=args.port) as tcp_emu:
        _announce(tcp_emu.url)
        return _serve(Console(tcp_emu, SLIP_PRINTER))


def emulate_scanner(args: argparse.Namespace) -> int:
    """Run a serial scanner emulator; each stdin line is one scan."""
    from drivers.emulators.serial_scanner import SerialScannerEmulator

    with SerialScannerEmulator() as emu:
        _announce(emu.url)

        def scan(line: str) -> tuple[bool, str]:
            emu.scan(line)
            return True, ""

        return _serve(scan)


def _announce(url: str) -> None:
    print(url, flush=True)
    print("running; type 'help' for the controls, Ctrl-C to stop", file=sys.stderr, flush=True)


class _Lines(Protocol):
    def handle(self, line: str) -> tuple[bool, str]: ...


def _serve(on_line: _Lines | Callable[[str], tuple[bool, str]] | None = None) -> int:
    """Feed stdin lines to ``on_line`` (if any); wait for Ctrl-C. Returns the exit code.

    What a line did goes to stdout (one line, or the help list), so a script driving the
    emulator can wait for it before looking at the device; what was not understood goes
    to stderr.
    """
    # `kill PID` stops it as cleanly as Ctrl-C (emulators close their pty/socket).
    signal.signal(signal.SIGTERM, _interrupt)
    handle = getattr(on_line, "handle", on_line)
    try:
        if handle is not None and sys.stdin is not None and not sys.stdin.closed:
            for line in sys.stdin:
                if not line.strip():
                    continue
                understood, said = handle(line.strip())
                if said:
                    print(said, file=sys.stdout if understood else sys.stderr, flush=True)
        threading.Event().wait()  # stdin closed (or unused): keep serving until Ctrl-C
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
