"""The byte-pipe interface every transport implements; it knows nothing of protocols."""

from __future__ import annotations

import abc


class Transport(abc.ABC):
    """A bidirectional byte pipe (serial port, TCP socket, memory).

    Transports open themselves lazily on the first read or write and drop the connection
    on failure, so the next call reconnects: a replugged device comes back without the
    caller doing anything. They raise only :class:`drivers.errors.DeviceUnreachable`.
    """

    #: Human-readable name of the far end, used in error messages ("serial /dev/ttyUSB0").
    name: str = "device"

    def open(self) -> None:
        """Connect now if not connected (reads and writes do it anyway).

        Lets a caller tell "could not connect: nothing was sent" from a write that broke
        half-way. Raises DeviceUnreachable.
        """
        return None  # optional: a transport that is always open has nothing to do

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Write all of ``data``. Raises DeviceUnreachable if it cannot be written."""

    @abc.abstractmethod
    def read(self, timeout: float) -> bytes:
        """Return the bytes available now, waiting up to ``timeout`` s for at least one.

        Returns ``b""`` on timeout. Raises DeviceUnreachable when the device went away.
        """

    def reset_input(self) -> None:
        """Throw away bytes received but not read yet (stale answers). Never raises."""
        return None  # optional: a transport without an input buffer has nothing to drop

    def drain(self, timeout: float) -> None:
        """Wait until written bytes have left this host, where the transport can tell.

        Raises DeviceUnreachable if they have not within ``timeout`` s.
        """
        return None  # optional: most transports cannot tell, and sent is all we know

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; the next read or write reopens it. Never raises."""
