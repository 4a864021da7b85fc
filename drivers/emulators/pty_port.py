"""A pseudo-terminal pair standing in for a serial cable.

The emulator holds the master side; the slave path (``/dev/pts/N``) is what a driver
opens with pyserial, exactly like ``/dev/ttyUSB0``. The emulator keeps the slave open too,
so the pair survives the driver closing and reopening the port.
"""

from __future__ import annotations

import errno
import os
import select
import termios
import time
import tty


def line_speed(baud: int) -> int:
    """The termios constant for ``baud``. Raises ValueError for a rate a tty cannot be set to."""
    speed = getattr(termios, f"B{baud}", None)
    if not isinstance(speed, int):
        raise ValueError(f"{baud} is not a baud rate a serial port can be set to")
    return speed


class PtyPort:
    """The device end of a serial line. Writes never block: with nobody listening on the
    other end a real line simply loses the bytes, and so do we."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw mode from the start, so nothing is echoed back or translated (CR -> LF) even
        # before pyserial opens the slave and sets its own (also raw) settings.
        tty.setraw(self._slave)
        tty.setraw(self._master)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.closed = False
        self._slave_open = True

    def fileno(self) -> int:
        return self._master

    def speed_is(self, baud: int) -> bool:
        """Whether the line is set to ``baud``: a pty carries bytes at any speed, but Linux
        keeps one termios for the pair, so the speed the driver set shows on the master.
        True when it cannot be told (the port closing): never a made-up mismatch."""
        try:
            return termios.tcgetattr(self._master)[4] == line_speed(baud)
        except termios.error:
            return True

    def read(self, timeout: float) -> bytes:
        """Return what the driver wrote, waiting up to ``timeout`` s; ``b""`` if nothing."""
        if self.closed:
            return b""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # nobody has the slave open: nothing to read
                return b""
            raise

    def write(self, data: bytes, chunk_gap: float = 0.0, chunks: int = 1) -> None:
        """Send ``data`` to the driver, optionally in ``chunks`` pieces ``chunk_gap`` apart."""
        if self.closed or not data:
            return
        size = max(1, -(-len(data) // max(1, chunks)))
        for start in range(0, len(data), size):
            if start and chunk_gap:
                time.sleep(chunk_gap)  # the gap between pieces is the point of the fault
            try:
                os.write(self._master, data[start : start + size])
            except (BlockingIOError, OSError):
                return

    def unplug(self) -> None:
        """Pull the cable: the driver's next read or write fails.

        Call it from the thread that reads the port (closing an fd another thread is
        selecting on is a race), which is why emulators only *request* an unplug.
        """
        if not self.closed:
            self.closed = True
            os.close(self._master)

    def close(self) -> None:
        """Unplug and release the pair. Call it from the thread that reads the port."""
        self.unplug()
        if self._slave_open:
            self._slave_open = False
            os.close(self._slave)
