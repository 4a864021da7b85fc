"""Byte pipes: serial (pyserial), TCP sockets, memory. They know nothing of protocols."""

from drivers.transports.base import Transport
from drivers.transports.memory import MemoryTransport

__all__ = ["MemoryTransport", "Transport"]
