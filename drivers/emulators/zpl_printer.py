"""A ZPL label printer on raw TCP (like port 9100) for tests and demos.

    with ZplPrinterEmulator() as emu:
        printer = open_label_printer(emu.url)
        printer.send(b"^XA^FO50,50^FDhello^FS^XZ")
        emu.wait_for_labels(1)

It splits what it receives into label formats (``^XA ... ^XZ``), "prints" them into
:attr:`labels` (and ``folder``, one ``NNNN.zpl`` file each), and answers ``~HS`` with the
three frames a Zebra sends, reflecting its state.

Honest faults: with paper out, head open or paused, a real printer still *accepts* the
bytes into its buffer and prints nothing; when the fault is cleared it prints them all.
So does this emulator (they wait in :attr:`held`, ``~HS`` counts them). That is why the
driver (and the station) ask ``~HS`` before sending a job.
"""

from __future__ import annotations

import threading
from pathlib import Path

from drivers.emulators.tcp_server import TcpDeviceServer
from drivers.protocols.zpl import HOST_STATUS, split_stream
from drivers.protocols.zpl_status import HostStatus, encode_hs


class ZplPrinterEmulator(TcpDeviceServer):
    """Records printed labels; controls are thread-safe."""

    def __init__(self, port: int = 0, folder: str | Path | None = None) -> None:
        super().__init__(port)
        self.folder = Path(folder) if folder else None
        self._cond = threading.Condition()
        self._labels: list[bytes] = []
        self._held: list[bytes] = []
        self._faults = {"paper_out": False, "head_open": False, "paused": False, "ribbon": False}
        self._buffers: dict[int, bytes] = {}
        self.received = bytearray()  # every byte received, in order
        self.incomplete: list[bytes] = []  # formats cut off by a closed connection
        self.status_queries = 0
        self.tilde_commands: list[bytes] = []

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_label_printer`."""
        return f"tcp://{self.host}:{self.port}"

    # -- controls -----------------------------------------------------------------------

    def paper_out(self, on: bool = True) -> None:
        self._set("paper_out", on)

    def head_open(self, on: bool = True) -> None:
        self._set("head_open", on)

    def pause(self, on: bool = True) -> None:
        self._set("paused", on)

    def ribbon_out(self, on: bool = True) -> None:
        self._set("ribbon", on)

    @property
    def labels(self) -> list[bytes]:
        """Labels printed so far, each ``b"^XA...^XZ"``."""
        with self._cond:
            return list(self._labels)

    @property
    def held(self) -> list[bytes]:
        """Labels received but waiting for a fault to clear."""
        with self._cond:
            return list(self._held)

    def wait_for_labels(self, n: int, timeout: float = 5.0) -> list[bytes]:
        """Wait until at least ``n`` labels are printed; return them. Raises TimeoutError."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._labels) >= n, timeout):
                raise TimeoutError(f"{len(self._labels)} label(s) printed, expected {n}")
            return list(self._labels)

    def wait_for_held(self, n: int, timeout: float = 5.0) -> list[bytes]:
        """Wait until at least ``n`` labels wait in the buffer; return them."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._held) >= n, timeout):
                raise TimeoutError(f"{len(self._held)} label(s) held, expected {n}")
            return list(self._held)

    def host_status(self) -> HostStatus:
        with self._cond:
            f = self._faults
            return HostStatus(
                paper_out=f["paper_out"],
                paused=f["paused"],
                head_open=f["head_open"],
                ribbon_out=f["ribbon"],
                formats_in_buffer=len(self._held),
                labels_remaining=len(self._held),
            )

    # -- the device ---------------------------------------------------------------------

    def _set(self, fault: str, on: bool) -> None:
        with self._cond:
            self._faults[fault] = on
            if not any(self._faults.values()):
                held, self._held = self._held, []
                for label in held:
                    self._print(label)

    def _print(self, label: bytes) -> None:
        # caller holds self._cond
        self._cond.notify_all()
        if any(self._faults.values()):
            self._held.append(label)
            return
        self._labels.append(label)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{len(self._labels):04d}.zpl").write_bytes(label)

    def on_data(self, conn_id: int, data: bytes) -> bytes:
        self.received += data
        items, rest = split_stream(self._buffers.get(conn_id, b"") + data)
        self._buffers[conn_id] = rest
        reply = b""
        for kind, item in items:
            if kind == "label":
                with self._cond:
                    self._print(item)
            elif item == HOST_STATUS:
                self.status_queries += 1
                reply += encode_hs(self.host_status())
            else:
                self.tilde_commands.append(item)
        return reply

    def on_close(self, conn_id: int) -> None:
        rest = self._buffers.pop(conn_id, b"")
        if rest.startswith(b"^XA"):
            self.incomplete.append(rest)
