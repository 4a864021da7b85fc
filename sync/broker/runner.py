"""Start a broker for tests, benchmarks and the demo: Mosquitto when it is installed.

``start_broker()`` runs ``mosquitto`` as a child process on a free loopback port with its
own persistence directory, and waits until it accepts connections. It can be killed with
SIGKILL and restarted on the same port, as the fault tests need.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


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


class Broker:
    """A running broker process. ``conf`` is the Mosquitto configuration text to use;
    by default an anonymous loopback listener with persistence in ``workdir``."""

    def __init__(
        self,
        port: int | None = None,
        workdir: str | Path | None = None,
        conf: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="doms-broker-")
        self.workdir = Path(workdir or self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_text = conf
        self.proc: subprocess.Popen | None = None
        self.kind = "mosquitto"

    def _conf(self) -> Path:
        path = self.workdir / "mosquitto.conf"
        text = self.conf_text or (
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "log_type error\nlog_type warning\n"
            f"log_dest file {self.workdir}/mosquitto.log\n"
        )
        path.write_text(text)
        return path

    def start(self, timeout: float = 10.0) -> Broker:
        exe = mosquitto_path()
        if exe is None:
            raise RuntimeError("mosquitto is not installed")
        self.proc = subprocess.Popen(
            [exe, "-c", str(self._conf())], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if not wait_port(self.host, self.port, timeout):
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {err}")
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


__all__ = ["Broker", "free_port", "mosquitto_path", "start_broker", "wait_port"]
