"""Station configuration: one TOML file, validated into typed sections.

Example (``station.toml``)::

    station_id = "WH1-PACK-01"
    site = "WH1"
    database = "var/WH1-PACK-01.db"

    [devices]
    scale = "serial:///dev/ttyUSB0?protocol=mt-sics&baud=9600"
    label_printer = "tcp://10.0.0.5:9100"
    slip_printer = "escpos+tcp://10.0.0.6:9100"
    scanner = ""           # empty: keyboard wedge only
    camera = "v4l2:///dev/video0?width=1280&height=720"   # photos of damage; empty: none

    [printers]             # other printers a lead may move print jobs to (name = URL)
    pack-02-label = "tcp://10.0.0.7:9100"
    spare-slip = "escpos+tcp://10.0.0.8:9100"

    [packing]
    weight_tolerance_pct = 5.0
    weight_tolerance_min_g = 30.0
    short_policy = "hold"  # or "ship_partial"

    [sync]                 # off by default: a station without a hub works on its own
    enabled = true
    host = "10.0.0.2"
    port = 8883
    username = "WH1-PACK-01"               # empty: the station id
    password_file = "/etc/doms/WH1-PACK-01.password"   # mode 0600, or the station refuses
    tls_ca = "/etc/doms/ca.crt"            # TLS on when set
    keep_delivered_days = 7.0              # delivered events are pruned after this
    reconnect_max_s = 30.0                 # cap of the reconnect backoff
    mqtt = "auto"                          # "5", "3.1.1", or "auto": 5 where the broker has it
    session_expiry_hours = 168.0           # MQTT 5: the broker forgets a station gone this long
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from sync.mqtt import BrokerSettings


class Devices(msgspec.Struct, forbid_unknown_fields=True):
    scale: str = ""
    label_printer: str = ""
    slip_printer: str = ""
    scanner: str = ""  # a serial scanner; the keyboard wedge always works
    # Photos of damage (v4l2://, folder://, emulator://camera); empty: no camera fitted.
    camera: str = ""


class Packing(msgspec.Struct, forbid_unknown_fields=True):
    weight_tolerance_pct: float = 5.0
    weight_tolerance_min_g: float = 30.0
    # A stable reading above min_capture_g is captured once the scale has said "stable"
    # this long. 0: trust the scale's own stability filter (MT-SICS "S S"); raise it for
    # benches that wobble.
    stable_hold_s: float = 0.0
    min_capture_g: float = 10.0
    short_policy: str = "hold"  # "hold": the order waits for a lead; "ship_partial"
    max_keyed_qty: int = 999


class Login(msgspec.Struct, forbid_unknown_fields=True):
    require_pin: bool = False
    idle_lock_s: float = 300.0


class ShipFrom(msgspec.Struct, forbid_unknown_fields=True):
    name: str = "doms Demo Warehouse"
    company: str = "doms Fulfilment"
    street1: str = "100 Logistics Way"
    street2: str = ""
    city: str = "Columbus"
    region: str = "OH"
    postal_code: str = "43215"
    country: str = "US"
    phone: str = "+1 614 555 0100"


class Identifiers(msgspec.Struct, forbid_unknown_fields=True):
    # Each format is (prefix, serial, check digit). Every station numbers from its own
    # block of serials (``*_block``, of ``block_size``), given by the hub, so no two
    # stations issue the same SSCC or tracking number without talking to each other.
    gs1_company_prefix: str = "0614141"
    sscc_extension: int = 0
    ups_shipper: str = "999AA1"
    usps_mailer_id: str = "123456789"
    block: int = 0
    block_size: int = 100_000


class Sync(msgspec.Struct, forbid_unknown_fields=True):
    """How the station reaches its site's broker (``sync/PROTOCOL.md``)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""  # empty: the station id (one broker user per station)
    password_file: str = ""  # the password alone, in a file only its owner can read
    tls_ca: str = ""  # CA certificate: TLS on when set
    keep_delivered_days: float = 7.0  # delivered outbox rows are pruned after this
    reconnect_max_s: float = 30.0  # cap of the reconnect backoff
    mqtt: str = "auto"  # "5", "3.1.1", or "auto": 5 where the broker has it, else 3.1.1
    session_expiry_hours: float = 168.0  # MQTT 5: the broker drops a session gone this long


class StationConfig(msgspec.Struct, forbid_unknown_fields=True):
    station_id: str = "WH1-PACK-01"
    site: str = "WH1"
    database: str = "var/station.db"
    synchronous: str = "FULL"
    gs_substitute: str = ""  # a character wedges type in place of GS (FNC1), e.g. "|"
    devices: Devices = msgspec.field(default_factory=Devices)
    # Extra printers by name (another station's, a spare): label or slip by URL scheme.
    printers: dict[str, str] = msgspec.field(default_factory=dict)
    packing: Packing = msgspec.field(default_factory=Packing)
    login: Login = msgspec.field(default_factory=Login)
    ship_from: ShipFrom = msgspec.field(default_factory=ShipFrom)
    identifiers: Identifiers = msgspec.field(default_factory=Identifiers)
    sync: Sync = msgspec.field(default_factory=Sync)

    @property
    def separator_chars(self) -> tuple[str, ...]:
        return ("\x1d", self.gs_substitute) if self.gs_substitute else ("\x1d",)


class ConfigError(Exception):
    """The configuration file is missing or wrong; the message says where."""


def load_config(path: str | Path | None) -> StationConfig:
    """Read ``path`` (TOML) into a StationConfig; ``None`` gives the defaults.

    Raises ConfigError naming the file and the field when a value is wrong.
    """
    if path is None:
        return StationConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
        config = msgspec.convert(data, StationConfig)
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: no such configuration file") from exc
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    if config.packing.short_policy not in ("hold", "ship_partial"):
        raise ConfigError(f"{p}: packing.short_policy must be 'hold' or 'ship_partial'")
    if config.sync.mqtt not in ("auto", "5", "3.1.1"):
        raise ConfigError(f"{p}: sync.mqtt must be 'auto', '5' or '3.1.1'")
    for name in config.printers:
        if name in ("label", "slip") or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(
                f"{p}: printers.{name}: use letters, digits, - and _ (not label or slip, "
                "which are this station's own printers)"
            )
    if config.sync.enabled and config.sync.password_file:
        read_password_file(config.sync.password_file)
    return config


def read_password_file(path: str | Path) -> str:
    """Return the broker password kept in ``path`` (its first line).

    Raises ConfigError when the file cannot be read, is empty, or is readable by other
    users (``mode & 0o004``): the station refuses to start with a plaintext password in
    a world-readable file.
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if mode & stat.S_IROTH:
            raise ConfigError(
                f"{p}: the broker password file is readable by every user (mode "
                f"{stat.S_IMODE(mode):04o}). The station refuses to start with a plaintext "
                f"password in a world-readable file: chmod 600 {p}"
            )
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the broker password file: {exc.strerror}") from exc
    password = lines[0].strip() if lines else ""
    if not password:
        raise ConfigError(f"{p}: the broker password file is empty")
    return password


def broker_settings(config: StationConfig) -> BrokerSettings:
    """The broker connection of ``config.sync``: username defaults to the station id,
    the password comes from ``password_file``. Raises ConfigError as
    :func:`read_password_file` does."""
    from sync.mqtt import BrokerSettings

    sync = config.sync
    return BrokerSettings(
        host=sync.host,
        port=sync.port,
        username=sync.username or config.station_id,
        password=read_password_file(sync.password_file) if sync.password_file else None,
        tls_ca=os.path.expanduser(sync.tls_ca) if sync.tls_ca else None,
        backoff_max=max(sync.reconnect_max_s, 0.1),
        backoff_min=min(0.5, max(sync.reconnect_max_s, 0.1)),
        protocol=sync.mqtt,
        session_expiry_s=max(0, round(sync.session_expiry_hours * 3600)),
    )
