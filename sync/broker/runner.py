"""Start a broker for tests, benchmarks and the demo: Mosquitto, or the embedded one.

``start_broker()`` runs a broker as a child process on a free loopback port with its own
working directory, and waits until it accepts connections. It can be killed with SIGKILL
and restarted on the same port, as the fault tests need.

Which broker: ``mosquitto`` when it is installed, else the embedded amqtt broker
(``sync.broker.embedded``, see its limits). ``DOMS_BROKER=embedded`` forces the embedded
one, ``DOMS_BROKER=mosquitto`` insists on Mosquitto. ``Broker.from_setup(folder)`` runs
the configuration ``doms broker setup`` wrote (users, ACL, TLS) on free ports; that needs
Mosquitto.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = "DOMS_BROKER"
KINDS = ("mosquitto", "embedded")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


def broker_kind() -> str:
    """``"mosquitto"`` or ``"embedded"``: what ``Broker()`` runs here. Raises ValueError
    for an unknown ``DOMS_BROKER``."""
    wanted = os.environ.get(ENV, "").strip().lower()
    if wanted in KINDS:
        return wanted
    if wanted not in ("", "auto"):
        raise ValueError(f"{ENV}={wanted!r}: use mosquitto, embedded or auto")
    return "mosquitto" if mosquitto_path() else "embedded"


def embedded_note() -> str | None:
    """One line saying why the embedded broker is in use, or None when it is not."""
    if broker_kind() != "embedded":
        return None
    why = f"{ENV}=embedded" if os.environ.get(ENV, "").strip().lower() == "embedded" else None
    return (
        f"{why or 'mosquitto not found'}: broker tests run against the embedded amqtt "
        "broker; Mosquitto ACL/TLS/password tests skipped"
    )


_LISTENER = re.compile(r"^(\s*listener\s+)(\d+)(.*)$")


def substitute_ports(conf: str) -> tuple[str, dict[int, int], list[int]]:
    """Give every ``listener`` of a Mosquitto configuration a free port.

    Returns (new text, {old port: new port}, the new ports of TLS listeners)."""
    lines, ports, tls, current = [], {}, [], None
    for line in conf.splitlines():
        m = _LISTENER.match(line)
        if m:
            current = ports.setdefault(int(m[2]), free_port())
            line = f"{m[1]}{current}{m[3]}"
        elif line.split()[:1] == ["certfile"] and current is not None:
            tls.append(current)
        lines.append(line)
    return "\n".join(lines) + "\n", ports, tls


class Broker:
    """A running broker process.

    ``kind`` is "mosquitto" or "embedded" (default: ``broker_kind()``). ``conf`` is the
    Mosquitto configuration text to use; by default an anonymous loopback listener with
    persistence in ``workdir``. Raises ValueError for ``conf`` with the embedded kind.
    """

    def __init__(
        self,
        port: int | None = None,
        workdir: str | Path | None = None,
        conf: str | None = None,
        host: str = "127.0.0.1",
        *,
        kind: str | None = None,
    ) -> None:
        self.kind = kind or broker_kind()
        if self.kind not in KINDS:
            raise ValueError(f"unknown broker kind {self.kind!r}")
        if conf is not None and self.kind != "mosquitto":
            raise ValueError("a Mosquitto configuration needs mosquitto, not the embedded broker")
        self.host = host
        self.port = port or free_port()
        self.tls_port: int | None = None
        self.ports: dict[int, int] = {}  # from_setup: configured port -> port in use
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="doms-broker-")
        self.workdir = Path(workdir or self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_text = conf
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{self.kind}.out"

    @classmethod
    def from_setup(cls, folder: str | Path, workdir: str | Path | None = None) -> Broker:
        """Mosquitto with ``folder/mosquitto.conf`` as ``doms broker setup`` wrote it,
        every listener moved to a free port: ``port`` is the plaintext one, ``tls_port``
        the TLS one, ``ports`` maps the configured ports to these."""
        text = (Path(folder) / "mosquitto.conf").read_text()
        conf, ports, tls = substitute_ports(text)
        plain = [p for p in ports.values() if p not in tls]
        port = (plain or [*ports.values()])[0]
        broker = cls(port=port, workdir=workdir, conf=conf, kind="mosquitto")
        broker.ports, broker.tls_port = ports, (tls or [None])[0]
        return broker

    def _conf(self) -> Path:
        path = self.workdir / "mosquitto.conf"
        text = self.conf_text or (
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "set_tcp_nodelay true\n"  # as doms broker setup writes it (templates.py)
            "log_type error\nlog_type warning\n"
            f"log_dest file {self.workdir}/mosquitto.log\n"
        )
        if os.geteuid() == 0:
            # Started by root, Mosquitto switches to the user "mosquitto", which cannot
            # read our private test folders: run it as whoever runs the tests.
            text = re.sub(r"(?m)^\s*user\s.*$", "", text)
            text += f"\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
        path.write_text(text)
        return path

    def _command(self) -> list[str]:
        if self.kind == "embedded":
            return [sys.executable, "-m", "sync.broker.embedded"]
        exe = mosquitto_path()
        if exe is None:
            raise RuntimeError(f"mosquitto is not installed (unset {ENV} to use the embedded one)")
        return [exe, "-c", str(self._conf())]

    def start(self, timeout: float = 10.0) -> Broker:
        cmd = self._command()
        if self.kind == "embedded":
            cmd += ["--host", self.host, "--port", str(self.port)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        ports = [self.port, *([self.tls_port] if self.tls_port else [])]
        if not all(wait_port(self.host, p, timeout) for p in ports):
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.kind} did not start on port {self.port}: {tail}")
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final persistence save."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def restart(self) -> Broker:
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def start_broker(**kwargs: object) -> Broker:
    return Broker(**kwargs).start()  # type: ignore[arg-type]


__all__ = [
    "Broker",
    "broker_kind",
    "embedded_note",
    "free_port",
    "mosquitto_path",
    "start_broker",
    "substitute_ports",
    "wait_port",
]
