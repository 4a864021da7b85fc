"""``doms broker setup``: everything a site's Mosquitto needs, in one folder.

::

    DIR/mosquitto.conf            mosquitto -c DIR/mosquitto.conf runs the site's broker
    DIR/passwd                    one user per station (its id), hub-<site> and
                                  board-<site> (the read-only site board); 0600
    DIR/acl                       the topic rights of PROTOCOL.md
    DIR/tls/ca.crt, ca.key        the site's CA (ca.key stays here)
    DIR/tls/server.crt, .key      the broker's certificate: --host, localhost, 127.0.0.1
    DIR/credentials/<user>.password   each user's password, 0600 (folder 0700)
    DIR/credentials/<user>.toml       the [sync] settings for that station (or the hub;
                                      for board-<site>, a whole `doms board --config` file)
    DIR/data/                     Mosquitto's persistence

Running it again is safe: existing passwords and the CA are kept (``rotate=True`` gives
every user a new password), new stations are added, and any other user (a station no
longer counted, a user added by hand) is removed from passwd and acl, and reported:
both files belong to this command.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from sync.broker import templates
from sync.broker.passwd import (
    hash_password,
    new_password,
    read_passwd,
    verify_password,
    write_passwd,
    write_private,
)
from sync.broker.tls import TlsFiles, ensure_tls
from sync.topics import check_id

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883


def station_ids(site: str, count: int) -> list[str]:
    """``<site>-PACK-01`` .. ``<site>-PACK-<count>`` (two digits at least, so ids stay the
    same when a site grows past 99 stations)."""
    return [check_id(f"{site}-PACK-{n:02d}", "station id") for n in range(1, count + 1)]


def hub_user(site: str) -> str:
    """The hub's broker user, which is also its client id (PROTOCOL.md)."""
    return f"hub-{site}"


def board_user(site: str) -> str:
    """The read-only user of ``doms board`` on an office PC: it reads the site's statuses
    and writes nothing (a station's own user would take over that station's session, the
    broker forcing the client id to the username)."""
    return f"board-{site}"


@dataclass
class SetupReport:
    """What ``setup_site`` did. ``users`` maps each user to created / kept / rotated."""

    out: Path
    site: str
    stations: list[str]
    hub: str
    users: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    tls: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.out / "mosquitto.conf"

    def lines(self) -> list[str]:
        """A short human summary, one line each (``warnings`` not included)."""
        by_state: dict[str, list[str]] = {}
        for user, state in self.users.items():
            by_state.setdefault(state, []).append(user)
        out = [
            f"site {self.site}: {len(self.stations)} stations, {self.hub} and "
            f"{board_user(self.site)} (read-only board) in {self.out}"
        ]
        out += [f"  {state}: {', '.join(users)}" for state, users in by_state.items()]
        if self.removed:
            out.append(f"  removed (no longer counted): {', '.join(self.removed)}")
        out += [f"  tls/{name}: {state}" for name, state in self.tls.items()]
        out.append(f"run the broker: mosquitto -c {self.conf}")
        return out


def setup_site(
    out: Path | str,
    site: str,
    stations: int,
    *,
    host: str | None = None,
    port: int = DEFAULT_PORT,
    tls_port: int = DEFAULT_TLS_PORT,
    rotate: bool = False,
    run_as: str | None = None,
) -> SetupReport:
    """Write or update the broker folder ``out`` for ``site`` with ``stations`` stations.

    ``host`` is the name stations use to reach the broker (default: this machine's host
    name); it goes into the server certificate and the station snippets. ``run_as`` is
    the user Mosquitto runs as when started by root (written as ``user``; default
    Mosquitto's own, ``mosquitto``): when this runs as root, the files the broker reads
    are given to that user. Raises ValueError for a bad site id, station count or port
    pair, or a CA certificate without its key (or the reverse).
    """
    check_id(site, "site id")
    if stations < 1:
        raise ValueError("--stations must be at least 1")
    if port == tls_port:
        raise ValueError(f"--port and --tls-port must differ (both {port})")
    out = Path(out).resolve()
    host = host or socket.gethostname()
    report = SetupReport(out, site, station_ids(site, stations), hub_user(site))
    creds = out / "credentials"
    out.mkdir(parents=True, exist_ok=True)
    for folder in (creds, out / "data"):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o700)

    board = board_user(site)
    users = [report.hub, *report.stations, board]
    old = read_passwd(out / "passwd")
    hashes = {user: _password_for(user, old.get(user), creds, rotate, report) for user in users}
    for gone in sorted(set(old) - set(users)):
        report.removed.append(gone)
        for suffix in (".password", ".toml"):
            (creds / f"{gone}{suffix}").unlink(missing_ok=True)
    write_passwd(out / "passwd", hashes)
    write_private(out / "acl", templates.acl(site, report.stations, report.hub, board))

    report.tls = ensure_tls(out / "tls", site, host)
    tls = TlsFiles.under(out / "tls")
    for user in users[:-1]:
        _write_snippet(creds, user, site, host, tls_port, tls.ca_cert)
    _write_board_snippet(creds, board, site, host, tls_port, tls.ca_cert)
    user_line = f"user {run_as}\n" if run_as else ""
    (out / "mosquitto.conf").write_text(
        templates.MOSQUITTO_CONF.substitute(
            site=site,
            conf=out / "mosquitto.conf",
            out=out,
            port=port,
            tls_port=tls_port,
            user_line=user_line,
        )
    )
    _hand_to_broker_user(out, tls, run_as, report)
    return report


def _password_for(
    user: str, old_hash: str | None, creds: Path, rotate: bool, report: SetupReport
) -> str:
    """The hash to keep or make for ``user``; writes credentials/<user>.password when new."""
    path = creds / f"{user}.password"
    known = path.read_text().strip() if path.exists() else None
    if not rotate:
        if old_hash and known is not None and verify_password(known, old_hash):
            report.users[user] = "kept"
            return old_hash
        if old_hash and known is None:
            report.users[user] = "kept"
            report.warnings.append(
                f"{user}: password kept, but {path} is missing (use --rotate to make a new one)"
            )
            return old_hash
        if old_hash and known is not None:
            report.users[user] = "kept"
            report.warnings.append(
                f"{user}: passwd differs from {path} (changed by hand?); passwd kept as is"
            )
            return old_hash
        if known:  # passwd lost or new, password file still there: keep the password
            report.users[user] = "kept"
            return hash_password(known)
    password = new_password()
    write_private(path, password)
    report.users[user] = "rotated" if rotate and (old_hash or known) else "created"
    return hash_password(password)


def _write_snippet(creds: Path, user: str, site: str, host: str, port: int, ca: Path) -> None:
    s = templates.toml_str
    text = templates.STATION_TOML.substitute(
        who=f"the hub {user}" if user == hub_user(site) else f"station {user}",
        site=site,
        host=s(host),
        port=port,
        username=s(user),
        password_file=s(str(creds / f"{user}.password")),
        tls_ca=s(str(ca)),
    )
    (creds / f"{user}.toml").write_text(text)


def _write_board_snippet(creds: Path, user: str, site: str, host: str, port: int, ca: Path) -> None:
    s = templates.toml_str
    text = templates.BOARD_TOML.substitute(
        site=site,
        site_str=s(site),
        host=s(host),
        port=port,
        username=user,
        username_str=s(user),
        password_file=s(str(creds / f"{user}.password")),
        tls_ca=s(str(ca)),
    )
    (creds / f"{user}.toml").write_text(text)


def _hand_to_broker_user(out: Path, tls: TlsFiles, run_as: str | None, report: SetupReport) -> None:
    """Run as root, Mosquitto switches to ``run_as`` (default ``mosquitto``) before it
    reads passwd and acl: give it the files it reads and check it can reach the folder."""
    if os.geteuid() != 0:
        return
    name = run_as or "mosquitto"
    if name == "root":
        return
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        if run_as:
            report.warnings.append(f"user {name!r} does not exist: mosquitto will not start")
        return
    for path in (out / "passwd", out / "acl", tls.server_key, out / "data"):
        shutil.chown(path, account.pw_uid, account.pw_gid)
    for parent in [out, *out.parents]:
        if not parent.stat().st_mode & 0o001 and parent.stat().st_uid != account.pw_uid:
            report.warnings.append(
                f"mosquitto runs as {name!r}, which cannot enter {parent}: "
                f"put the folder elsewhere (e.g. /etc/mosquitto/doms) or pass --user"
            )
            break
