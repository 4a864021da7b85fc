"""An ESC/POS receipt printer on a serial line (a pty), for the ``escpos+serial://`` path.

    with SerialEscposPrinterEmulator() as emu:
        slip = open_slip_printer(emu.url)        # escpos+serial:///dev/pts/N?baud=9600
        slip.print_document(doc)
        job = emu.wait_for_jobs(1)[0]

The printer is the same as the TCP one (:class:`EscposMechanism`: paper, cover, status
answers, held jobs). What the line changes: there is no connection to close, so a job
ends at its cut (``GS V``); bytes after the last cut wait for the next one
(:attr:`pending`). Status queries are answered inline as they arrive, as on TCP.

Line faults: :meth:`slow` (status answers ``s`` late; a late answer is not lost with a
closed port as on TCP: it lands on the line, as a real one does), :meth:`noise` (junk
before each answer, at once), :meth:`go_offline` (the cable is pulled: the bytes sent go
nowhere and nothing answers, until :meth:`come_back`). The line is always drained, even
unplugged, since a real one is: bytes leave the port at the baud rate whether or not a
printer is at the other end, so a driver's write never blocks (a pty nobody reads would
block it after a few KB). Bytes sent at another baud rate than :attr:`baud` are garbage
to the printer: not printed, not answered (:attr:`misheard`).
"""

from __future__ import annotations

import threading
import time
from typing import Self

from drivers.emulators.escpos_mechanism import EscposMechanism
from drivers.emulators.pty_port import PtyPort, line_speed
from drivers.emulators.tcp_faults import DEFAULT_NOISE
from drivers.emulators.threaded import Threaded
from drivers.protocols.escpos_reader import EscposReader, Slip


class SerialEscposPrinterEmulator(EscposMechanism, Threaded):
    """A slip printer in a background thread behind a pty. Controls are thread-safe."""

    def __init__(self, baud: int = 9600) -> None:
        super().__init__()
        line_speed(baud)  # a bad rate fails here, not in the emulator's thread
        self.baud = baud
        self._line = threading.Lock()
        self._slow = 0.0
        self._noise = b""
        self._unplugged = False
        self._reader = EscposReader()
        self._raw = bytearray()  # bytes since the last cut
        self._port: PtyPort | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.lost = 0  # bytes sent while unplugged
        self.misheard = 0  # chunks received at another baud rate

    # -- lifecycle --------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The slave path a driver opens, like ``/dev/pts/4``."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port.path

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_slip_printer`."""
        return f"escpos+serial://{self.port}?baud={self.baud}"

    def start(self) -> Self:
        if self._thread is None:
            self._port = PtyPort()
            self._running.set()
            self._thread = threading.Thread(target=self._run, name="escpos-serial-emu", daemon=True)
            self._thread.start()
        return self

    # -- line faults ------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        """Answer status queries ``seconds`` late (0: at once)."""
        with self._line:
            self._slow = seconds

    def noise(self, data: bytes | None = DEFAULT_NOISE) -> None:
        """Send ``data`` before every status answer, at once even when the answer is
        ``slow`` (``None`` or ``b""`` to stop)."""
        with self._line:
            self._noise = data or b""

    def go_offline(self, timeout: float = 5.0) -> None:
        """Pull the cable: what the driver sends is lost and nothing answers (answers
        not sent yet are lost too). The port still opens, as an RS-232 port does with
        nothing plugged in. ``timeout`` is for the same call on TCP emulators."""
        with self._line:
            self._unplugged = True

    def come_back(self, timeout: float = 5.0) -> None:
        """Plug the cable back in: bytes from now on are read and answered."""
        with self._line:
            self._unplugged = False

    @property
    def pending(self) -> Slip:
        """What was received after the last cut (not a job until it is cut)."""
        return self._reader.slip

    # -- the device -------------------------------------------------------------------

    def _run(self) -> None:
        assert self._port is not None
        port = self._port
        outbox: list[tuple[float, bytes]] = []  # (due, answer)
        try:
            while self._running.is_set():
                data = port.read(0.01)
                now = time.monotonic()
                with self._line:
                    slow, noise, unplugged = self._slow, self._noise, self._unplugged
                if unplugged:
                    self._unplug(data)
                    outbox.clear()
                elif data and not port.speed_is(self.baud):
                    self.misheard += 1
                elif data and (reply := self._receive(data)):
                    port.write(noise)
                    outbox.append((now + slow, reply))
                for _, answer in [item for item in outbox if item[0] <= now]:
                    port.write(answer)
                outbox = [item for item in outbox if item[0] > now]
        finally:
            port.close()

    def _unplug(self, data: bytes) -> None:
        self.lost += len(data)
        if self._raw:  # a slip cut short by the pulled cable never gets its cut
            self._reader, self._raw = EscposReader(), bytearray()

    def _receive(self, data: bytes) -> bytes:
        """Take bytes off the line: record each job at its cut; return the status answers."""
        self._raw += data
        reply = b""
        queries = self._reader.feed_queries(data, stop_at_cut=True)
        while True:
            for query in queries:
                self.status_queries += 1
                reply += self._status_answer(query)
            if not self._reader.slip.cuts:
                return reply
            end = len(self._raw) - self._reader.unparsed
            job, self._raw = bytes(self._raw[:end]), self._raw[end:]
            self._print(job, self._reader.take_slip())
            queries = self._reader.feed_queries(b"", stop_at_cut=True)
