"""Device URL -> driver: protocol x transport, chosen by configuration.

    open_scale("serial:///dev/ttyUSB0?protocol=mt-sics&baud=9600")
    open_label_printer("tcp://10.0.0.5:9100")      # ZPL over raw TCP
    open_slip_printer("escpos+tcp://10.0.0.6:9100")
    open_scanner("serial:///dev/ttyACM0?suffix=cr")

``emulator://`` URLs start an in-process emulator owned by the driver (``driver.emulator``
holds it; ``close()`` stops it): handy for ``doms demo``. Every form is in README.md.
Opening never touches the device: the first call does, so a station starts even while a
printer is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from drivers.base import LabelPrinter, Scale, Scanner, SlipPrinter
from drivers.errors import BadDeviceURL

if TYPE_CHECKING:  # imported lazily below: `doms --help` should not load pyserial/escpos
    from drivers.camera import Camera
    from drivers.transports.serial_port import SerialTransport
    from drivers.transports.tcp import TcpTransport

_SCALE_FORMS = (
    "serial://PORT?protocol=mt-sics|toledo-8217|nci|cas|cas-stream&baud=9600&bytesize=7&parity=E"
    "&stopbits=1&unit=kg, tcp://HOST:PORT?protocol=..., emulator://scale?protocol=...&weight=G"
)
_LABEL_FORMS = "tcp://HOST:9100, serial://PORT?protocol=zpl, cups://QUEUE, file:///PATH"
_SLIP_FORMS = (
    "escpos+tcp://HOST:9100, escpos+serial://PORT?baud=..., escpos+file:///PATH, "
    "escpos+usb://VID:PID?interface=0&in_ep=0x82&out_ep=0x01"
)
_SCANNER_FORMS = "serial://PORT?suffix=cr|lf|crlf&prefix=HEX"


class _Url:
    """A parsed device URL with typed, validated query options."""

    def __init__(self, url: str, kind: str, forms: str) -> None:
        self.url, self.kind, self.forms = url, kind, forms
        try:
            parts = urlsplit(url)
            self.port_number = parts.port
        except ValueError as exc:
            raise self.bad(str(exc)) from exc
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.netloc = unquote(parts.netloc)
        self.path = unquote(parts.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

    def bad(self, why: str) -> BadDeviceURL:
        return BadDeviceURL(
            f"Cannot use device URL {self.url!r} for a {self.kind}: {why}. "
            f"Expected one of: {self.forms}."
        )

    def option(self, name: str, default: Any, cast: type = str) -> Any:
        if name not in self.query:
            return default
        raw = self.query[name]
        try:
            if cast is bool:
                return raw.lower() not in ("0", "false", "no", "off", "")
            return cast(raw)
        except ValueError as exc:
            raise self.bad(f"option {name}={raw!r} is not a valid {cast.__name__}") from exc

    def device_path(self) -> str:
        """``serial:///dev/ttyUSB0`` -> ``/dev/ttyUSB0``; ``serial://COM3`` -> ``COM3``."""
        path = self.path if not self.netloc else self.netloc + self.path
        if not path:
            raise self.bad("no port or path given")
        return path

    def host_port(self, default_port: int | None = None) -> tuple[str, int]:
        port = self.port_number or default_port
        if not self.host or not port:
            raise self.bad("expected HOST:PORT")
        return self.host, port

    def serial_transport(self) -> SerialTransport:
        from drivers.transports.serial_port import SerialTransport

        try:
            return SerialTransport(
                self.device_path(),
                baudrate=self.option("baud", 9600, int),
                bytesize=self.option("bytesize", 8, int),
                parity=self.option("parity", "N"),
                stopbits=self.option("stopbits", "1"),
            )
        except BadDeviceURL as exc:
            if str(exc).startswith("Cannot use device URL"):
                raise
            raise self.bad(str(exc)) from None

    def tcp_transport(self, default_port: int | None = None) -> TcpTransport:
        from drivers.transports.tcp import TcpTransport

        host, port = self.host_port(default_port)
        return TcpTransport(host, port, timeout=self.option("timeout", 5.0, float))


@dataclass(frozen=True)
class ScaleProtocol:
    """A scale protocol's name, its usual serial settings, and where its code lives."""

    name: str
    aliases: tuple[str, ...]
    baud: int
    bytesize: int
    parity: str
    stopbits: str
    driver: str  # "module:Class"
    emulator: str  # "module:Class"

    def settings(self) -> str:
        return f"{self.baud} {self.bytesize}{self.parity}{self.stopbits}"


# Defaults are each protocol's factory or usual settings (sources in README.md); the URL
# options override them, as the scale's own interface menu can.
SCALE_PROTOCOLS: dict[str, ScaleProtocol] = {
    p.name: p
    for p in (
        ScaleProtocol(
            "mt-sics", ("mtsics", "sics"), 9600, 8, "N", "1",
            "drivers.scale_mt_sics:MtSicsScale",
            "drivers.emulators.mt_sics_scale:MtSicsScaleEmulator",
        ),
        ScaleProtocol(
            "toledo-8217", ("toledo", "8217", "toledo-8213", "8213"), 9600, 7, "E", "1",
            "drivers.scale_toledo:ToledoScale",
            "drivers.emulators.toledo_scale:ToledoScaleEmulator",
        ),
        ScaleProtocol(
            "nci", ("scp-01", "scp01", "weigh-tronix", "avery"), 9600, 7, "E", "1",
            "drivers.scale_nci:NciScale",
            "drivers.emulators.nci_scale:NciScaleEmulator",
        ),
        ScaleProtocol(
            "cas", ("cas-enq", "cas-pd2"), 9600, 8, "N", "1",
            "drivers.scale_cas:CasScale",
            "drivers.emulators.cas_scale:CasScaleEmulator",
        ),
        ScaleProtocol(
            "cas-stream", ("cas-22", "cas22", "cas-continuous"), 9600, 8, "N", "1",
            "drivers.scale_cas_stream:CasStreamScale",
            "drivers.emulators.cas_stream_scale:CasStreamScaleEmulator",
        ),
    )
}  # fmt: skip


def scale_protocol(name: str) -> ScaleProtocol | None:
    """The protocol called ``name`` (or one of its aliases), None if unknown."""
    key = name.strip().lower()
    for proto in SCALE_PROTOCOLS.values():
        if key == proto.name or key in proto.aliases:
            return proto
    return None


def _load(target: str) -> Any:
    from importlib import import_module

    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def open_scale(url: str) -> Scale:
    """A :class:`Scale` for ``url``. Raises BadDeviceURL; never touches the device.

    ``protocol`` picks the driver (default ``mt-sics``) and brings its usual serial
    settings; ``baud``, ``bytesize``, ``parity``, ``stopbits`` override them. ``unit``
    (g, kg, lb, oz) is the unit a Toledo 8217 scale is set to (its frames carry none).
    ``hid://VID:PID`` is a USB HID postal scale.
    """
    if _is_hid_scale(url):
        return _open_hid_scale(url)
    u = _Url(url, "scale", _SCALE_FORMS)
    name = u.option("protocol", "mt-sics")
    proto = scale_protocol(name)
    if proto is None:
        known = ", ".join(SCALE_PROTOCOLS)
        raise u.bad(f"unknown scale protocol {name.lower()!r} (known: {known})")
    from drivers.base import Unit

    unit = u.option("unit", "kg").lower()
    if unit not in {x.value for x in Unit}:
        raise u.bad(f"unknown unit {unit!r} (use g, kg, lb or oz)")
    if u.scheme == "emulator":
        emulator = _load(proto.emulator)
        kwargs = {"weight": u.option("weight", 0.0, float)}
        if "unit" in u.query:
            kwargs["unit"] = unit
        emu = emulator(**kwargs).start()
        return _owning(open_scale(emu.url), emu)
    driver = _load(proto.driver)
    extra = {"unit": unit} if proto.name == "toledo-8217" else {}
    if u.scheme == "serial":
        return driver(_scale_serial(u, proto), **extra)
    if u.scheme == "tcp":
        return driver(u.tcp_transport(), **extra)
    raise u.bad(f"unknown scheme {u.scheme!r}")


def _scale_serial(u: _Url, proto: ScaleProtocol) -> SerialTransport:
    """The serial port with ``proto``'s usual settings, overridden by the URL's."""
    from drivers.transports.serial_port import SerialTransport

    try:
        return SerialTransport(
            u.device_path(),
            baudrate=u.option("baud", proto.baud, int),
            bytesize=u.option("bytesize", proto.bytesize, int),
            parity=u.option("parity", proto.parity),
            stopbits=u.option("stopbits", proto.stopbits),
        )
    except BadDeviceURL as exc:
        if str(exc).startswith("Cannot use device URL"):
            raise
        raise u.bad(str(exc)) from None


_HID_SCALE_FORMS = (
    "hid://VID:PID (hex, e.g. hid://0922:8003), hid://VID:PID/SERIAL, "
    "emulator://scale?protocol=hid&weight=G&unit=g|oz"
)


def _is_hid_scale(url: str) -> bool:
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    return scheme in ("hid", "hid+tcp") or (
        scheme == "emulator" and "protocol=hid" in rest.lower().replace("%3d", "=")
    )


def _open_hid_scale(url: str) -> Scale:
    """``hid://0922:8003`` (a USB HID postal scale through hidapi), ``hid+tcp://HOST:PORT``
    (the HID scale emulator's report stream) and ``emulator://scale?protocol=hid``."""
    from drivers.scale_hid import HidapiReports, HidScale, StreamReports

    if url.partition(":")[0].lower() == "hid":
        # Not through _Url: urlsplit reads "0922:80ff" as host and a (bad) port number.
        parts = urlsplit(url)
        ids, _, serial = (parts.netloc + parts.path).strip("/").partition("/")
        vid, sep, pid = ids.partition(":")
        try:
            if not sep:
                raise ValueError
            vid_n, pid_n = int(vid, 16), int(pid, 16)
            if not (0 <= vid_n <= 0xFFFF and 0 <= pid_n <= 0xFFFF):
                raise ValueError
        except ValueError:
            raise BadDeviceURL(
                f"Cannot use device URL {url!r} for a scale: expected VID:PID as 4 hex digits "
                f"each. Expected one of: {_HID_SCALE_FORMS}."
            ) from None
        return HidScale(HidapiReports(vid_n, pid_n, unquote(serial) or None))
    u = _Url(url, "scale", _HID_SCALE_FORMS)
    if u.scheme == "hid+tcp":
        return HidScale(StreamReports(u.tcp_transport()))
    from drivers.emulators.hid_scale import HidScaleEmulator

    unit = u.option("unit", "g").lower()
    if unit not in ("g", "kg", "oz", "lb"):
        raise u.bad("unit must be g, kg, oz or lb")
    emu = HidScaleEmulator(weight=u.option("weight", 0.0, float), unit=unit).start()
    return _owning(open_scale(emu.url), emu)


def open_label_printer(url: str) -> LabelPrinter:
    """A ZPL :class:`LabelPrinter` for ``url``. Raises BadDeviceURL; never touches it.

    Option ``check=0`` turns off the ``~HS`` check before each job (tcp, serial).
    """
    u = _Url(url, "label printer", _LABEL_FORMS)
    from drivers import label_zpl

    check = u.option("check", True, bool)
    if u.scheme == "emulator":
        from drivers.emulators.zpl_printer import ZplPrinterEmulator

        emu = ZplPrinterEmulator(folder=u.query.get("folder") or None).start()
        return _owning(open_label_printer(emu.url), emu)
    if u.scheme == "tcp":
        host, port = u.host_port(9100)
        return label_zpl.ZplTcpPrinter(
            host, port, timeout=u.option("timeout", 5.0, float), check_status=check
        )
    if u.scheme == "serial":
        if u.option("protocol", "zpl").lower() != "zpl":
            raise u.bad("label printers speak protocol=zpl")
        return label_zpl.ZplPrinter(u.serial_transport(), check_status=check, close_after=False)
    if u.scheme == "cups":
        queue = u.netloc or u.path.strip("/")
        if not queue:
            raise u.bad("no CUPS queue name")
        return label_zpl.ZplCupsPrinter(queue)
    if u.scheme == "file":
        return label_zpl.ZplFilePrinter(u.device_path())
    raise u.bad(f"unknown scheme {u.scheme!r}")


def open_slip_printer(url: str) -> SlipPrinter:
    """An ESC/POS :class:`SlipPrinter` for ``url``. Raises BadDeviceURL; never touches it.

    Options: ``profile`` (python-escpos printer profile, e.g. ``TM-T88V``), ``timeout``,
    ``check=0`` (do not ask for paper status before printing). ``escpos+usb://04b8:0202``
    (vendor:product, hex) also takes ``interface``, ``in_ep``, ``out_ep`` (hex or decimal);
    it needs pyusb (BadDeviceURL here if missing) and libusb (DeviceUnreachable at first
    use, with the fix; so is a permission problem, with a udev rule).
    """
    u = _Url(url, "slip printer", _SLIP_FORMS)
    if u.scheme == "emulator":
        from drivers.emulators.escpos_printer import EscposPrinterEmulator

        emu = EscposPrinterEmulator().start()
        return _owning(open_slip_printer(emu.url), emu)
    _escpos_cache()
    from escpos import printer as escpos_printer

    from drivers.slip_escpos import EscposSlipPrinter

    profile = u.query.get("profile") or None
    timeout = u.option("timeout", 5.0, float)
    check = u.option("check", True, bool)
    try:
        if u.scheme == "escpos+tcp":
            host, port = u.host_port(9100)
            dev = escpos_printer.Network(host, port=port, timeout=timeout, profile=profile)
            return EscposSlipPrinter(dev, f"{host}:{port}", True, check, profile=profile)
        if u.scheme == "escpos+serial":
            path = u.device_path()
            u.serial_transport()  # validates baud/bytesize/parity/stopbits now, not at print
            dev = escpos_printer.Serial(
                path,
                baudrate=u.option("baud", 9600, int),
                bytesize=u.option("bytesize", 8, int),
                parity=u.option("parity", "N").upper(),
                stopbits=u.option("stopbits", 1, float),
                timeout=timeout,
                profile=profile,
            )
            return EscposSlipPrinter(dev, path, True, check, profile=profile)
        if u.scheme == "escpos+file":
            path = u.device_path()
            dev = escpos_printer.File(path, profile=profile)
            return EscposSlipPrinter(dev, path, False, False, profile=profile)
        if u.scheme == "escpos+usb":
            from drivers.slip_escpos import usb_slip_printer

            vid, _, pid = u.netloc.partition(":")
            try:
                vendor, product = int(vid, 16), int(pid, 16)
                numbers = {
                    name: int(u.query.get(name, default), 0)
                    for name, default in (("interface", "0"), ("in_ep", "0x82"), ("out_ep", "1"))
                }
            except ValueError:
                raise u.bad(
                    "expected escpos+usb://VID:PID in hex (04b8:0202), and numbers for "
                    "interface, in_ep, out_ep (0x82 or 130)"
                ) from None
            if not (0 <= vendor <= 0xFFFF and 0 <= product <= 0xFFFF):
                raise u.bad("USB vendor and product are 4 hex digits each")
            if not escpos_printer.Usb.is_usable():
                raise u.bad(
                    "USB printing needs the pyusb package, which is not installed: "
                    "pip install pyusb (and libusb: apt install libusb-1.0-0)"
                )
            return usb_slip_printer(
                vendor, product, **numbers, timeout=timeout, check=check, profile=profile
            )
    except (KeyError, ValueError) as exc:  # python-escpos: unknown profile name
        raise u.bad(f"python-escpos rejected it: {exc}") from exc
    raise u.bad(f"unknown scheme {u.scheme!r}")


def _escpos_cache() -> None:
    # python-escpos parses its capabilities YAML on import unless it finds a pickle in
    # ESCPOS_CAPABILITIES_PICKLE_DIR, which defaults to a fresh mkdtemp() every start
    # (~0.4 s and a stray /tmp folder each time). Give it a lasting cache folder.
    import os
    from pathlib import Path

    folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "doms" / "escpos"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(folder))


_SUFFIX_NAMES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t"}


def open_scanner(url: str) -> Scanner:
    """A serial :class:`Scanner` for ``url``. Raises BadDeviceURL; never touches it.

    ``suffix`` is ``cr`` (default), ``lf``, ``crlf``, ``tab`` or hex bytes; ``prefix`` hex.
    """
    u = _Url(url, "scanner", _SCANNER_FORMS)
    if u.scheme == "evdev":
        return _open_evdev_scanner(u)
    from drivers.scanner_serial import SerialScanner

    if u.scheme == "emulator":
        from drivers.emulators.serial_scanner import SerialScannerEmulator

        emu = SerialScannerEmulator().start()
        return _owning(open_scanner(emu.url), emu)
    name = u.query.get("suffix", "cr").lower()
    try:
        suffix = _SUFFIX_NAMES.get(name) or bytes.fromhex(name)
        prefix = bytes.fromhex(u.query.get("prefix", ""))
    except ValueError as exc:
        raise u.bad("suffix must be cr, lf, crlf, tab or hex; prefix hex") from exc
    if not suffix:
        raise u.bad("empty suffix")
    if u.scheme == "serial":
        return SerialScanner(u.serial_transport(), suffix=suffix, prefix=prefix)
    if u.scheme == "tcp":
        return SerialScanner(u.tcp_transport(), suffix=suffix, prefix=prefix)
    raise u.bad(f"unknown scheme {u.scheme!r}")


def _open_evdev_scanner(u: _Url) -> Scanner:
    """``evdev:///dev/input/by-id/usb-...-event-kbd?layout=us|de&grab=1`` (Linux)."""
    from drivers.protocols.keymap import LAYOUTS
    from drivers.scanner_evdev import EvdevScanner

    u.forms = "evdev:///dev/input/by-id/usb-...-event-kbd?layout=us|de&grab=1"
    layout = u.option("layout", "us").lower()
    if layout not in LAYOUTS:
        raise u.bad(f"unknown keyboard layout {layout!r} (known: {', '.join(LAYOUTS)})")
    return EvdevScanner(u.device_path(), layout=layout, grab=u.option("grab", True, bool))


_CAMERA_FORMS = (
    "v4l2:///dev/video0?width=1280&height=720, folder:///PATH?settle=0.3, "
    "emulator://camera?width=640&height=480"
)


def open_camera(url: str) -> Camera:
    """A :class:`~drivers.camera.Camera` for ``url``. Raises BadDeviceURL; never touches it."""
    u = _Url(url, "camera", _CAMERA_FORMS)
    if u.scheme == "emulator":
        from drivers.emulators.camera import EmulatorCamera

        return EmulatorCamera(u.option("width", 640, int), u.option("height", 480, int))
    if u.scheme == "v4l2":
        from drivers.camera_v4l2 import V4l2Camera

        path = u.device_path()
        device: str | int = int(path) if path.isdigit() else path
        return V4l2Camera(
            device,
            width=u.option("width", None, int),
            height=u.option("height", None, int),
            quality=u.option("quality", 90, int),
        )
    if u.scheme == "folder":
        from drivers.camera_folder import FolderCamera

        return FolderCamera(u.device_path(), settle=u.option("settle", 0.3, float))
    raise u.bad(f"unknown scheme {u.scheme!r}")


_OPENERS = {
    "scale": open_scale,
    "label_printer": open_label_printer,
    "slip_printer": open_slip_printer,
    "scanner": open_scanner,
    "camera": open_camera,
}


def open_device(kind: str, url: str) -> Scale | LabelPrinter | SlipPrinter | Scanner | Camera:
    """``open_device("scale", url)`` etc.; ``kind`` is one of :data:`_OPENERS`' keys."""
    try:
        opener = _OPENERS[kind.replace("-", "_")]
    except KeyError:
        raise BadDeviceURL(f"Unknown kind of device {kind!r}: use {', '.join(_OPENERS)}") from None
    return opener(url)


def _owning(driver: Any, emulator: Any) -> Any:
    """Make ``driver.close()`` also stop the emulator it talks to (``driver.emulator``)."""
    inner_close = driver.close

    def close() -> None:
        inner_close()
        emulator.stop()

    driver.emulator = emulator
    driver.close = close
    return driver
