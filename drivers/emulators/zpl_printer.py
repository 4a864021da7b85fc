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

``~HQES`` is answered with the error and warning bits of the same state. Faults ``~HS``
has no flag for (cutter fault, motor too hot) show there as "paused", as a Zebra stops
and waits; ``~HQES`` names the cause. Other fault injection: :meth:`slow` (status answers
come late), :meth:`noise` (junk before them), :meth:`disconnect_mid_job` (the next job's
connection is reset after its first bytes), :meth:`disconnect_on_status` (a reset instead
of the next answer), all shared with the ESC/POS emulator (:mod:`tcp_faults`), and
:meth:`silent_while_head_open` (status queries go unanswered while the head is open, as
some models do; jobs are still buffered).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from drivers.emulators.tcp_faults import FaultyTcpDevice
from drivers.emulators.tcp_server import Hangup
from drivers.protocols import zpl_hqes as hq
from drivers.protocols.zpl import HOST_STATUS, START, split_stream
from drivers.protocols.zpl_status import HostStatus, encode_hs

# fault -> its ~HQES error bit; every one of them stops printing
_ERROR_BITS = {
    "paper_out": hq.MEDIA_OUT,
    "ribbon": hq.RIBBON_OUT,
    "head_open": hq.HEAD_OPEN,
    "cutter": hq.CUTTER_FAULT,
    "head_hot": hq.HEAD_TOO_HOT,
    "motor_hot": hq.MOTOR_TOO_HOT,
    "paused": hq.PAUSED,
}


class ZplPrinterEmulator(FaultyTcpDevice):
    """Records printed labels; controls are thread-safe."""

    def __init__(self, port: int = 0, folder: str | Path | None = None) -> None:
        super().__init__(port)
        self.folder = Path(folder) if folder else None
        self._cond = threading.Condition()
        self._labels: list[bytes] = []
        self._held: list[bytes] = []
        self._faults = dict.fromkeys(_ERROR_BITS, False)
        self._near_end = False
        self._silent_head_open = False
        self._buffers: dict[int, bytes] = {}
        self.received = bytearray()  # every byte received, in order
        self.incomplete: list[bytes] = []  # formats cut off by a closed connection
        self.status_queries = 0  # ~HS and ~HQES
        self.error_queries = 0  # ~HQES alone
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

    def cutter_fault(self, on: bool = True) -> None:
        self._set("cutter", on)

    def head_too_hot(self, on: bool = True) -> None:
        self._set("head_hot", on)

    def motor_too_hot(self, on: bool = True) -> None:
        self._set("motor_hot", on)

    def paper_near_end(self, on: bool = True) -> None:
        """A warning only (``~HQES``): still prints."""
        with self._cond:
            self._near_end = on

    def silent_while_head_open(self, on: bool = True) -> None:
        """While the head is open, answer no status query at all (bytes still buffered)."""
        with self._cond:
            self._silent_head_open = on

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
                # ~HS has no flag for these: a Zebra stops, and reads as paused
                paused=f["paused"] or f["cutter"] or f["motor_hot"],
                over_temperature=f["head_hot"],
                head_open=f["head_open"],
                ribbon_out=f["ribbon"],
                formats_in_buffer=len(self._held),
                labels_remaining=len(self._held),
            )

    def error_status(self) -> hq.ErrorStatus:
        with self._cond:
            errors = 0
            for fault, bit in _ERROR_BITS.items():
                if self._faults[fault]:
                    errors |= bit
            return hq.ErrorStatus(errors, hq.PAPER_NEAR_END if self._near_end else 0)

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
        if START in self._buffers.get(conn_id, b"") + data:
            self._hang_up(conn_id, self._cut_job)
        with self._cond:
            silent = self._silent_head_open and self._faults["head_open"]
        self.received += data
        items, rest = split_stream(self._buffers.get(conn_id, b"") + data)
        self._buffers[conn_id] = rest
        reply = b""
        for kind, item in items:
            if kind == "label":
                with self._cond:
                    self._print(item)
            elif item in (HOST_STATUS, hq.HOST_QUERY_ES):
                self.status_queries += 1
                if item == hq.HOST_QUERY_ES:
                    self.error_queries += 1
                self._hang_up(conn_id, self._cut_status)
                if silent:
                    continue
                reply += (
                    encode_hs(self.host_status())
                    if item == HOST_STATUS
                    else hq.encode_hqes(self.error_status())
                )
            else:
                self.tilde_commands.append(item)
        return self._answer(conn_id, reply)

    def _hang_up(self, conn_id: int, cut: Callable[[], None]) -> None:
        # a reset connection leaves no unfinished format behind to count as incomplete
        try:
            cut()
        except Hangup:
            self._buffers.pop(conn_id, None)
            raise

    def on_close(self, conn_id: int) -> None:
        rest = self._buffers.pop(conn_id, b"")
        if rest.startswith(b"^XA"):
            self.incomplete.append(rest)
