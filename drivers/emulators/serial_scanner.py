"""A serial barcode scanner on a pty: each :meth:`scan` writes data + suffix at once.

    with SerialScannerEmulator() as emu:
        scanner = open_scanner(emu.url)
        emu.scan("09506000134352", split=True, noise=b"\\x00")

No thread: a scanner only talks, so writing from the caller's thread is the real thing.
Open the driver before scanning: pyserial empties the input buffer when it opens a port,
so earlier scans are lost, as with a real scanner.
"""

from __future__ import annotations

from typing import Self

from drivers.emulators.pty_port import PtyPort

_SUFFIXES = {b"\r": "cr", b"\n": "lf", b"\r\n": "crlf"}


class SerialScannerEmulator:
    def __init__(self, suffix: bytes = b"\r", prefix: bytes = b"") -> None:
        self.suffix = suffix
        self.prefix = prefix
        self._port: PtyPort | None = None

    @property
    def port(self) -> str:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port.path

    @property
    def url(self) -> str:
        """Device URL for :func:`drivers.urls.open_scanner` (suffix included)."""
        suffix = _SUFFIXES.get(self.suffix, self.suffix.hex())
        extra = f"&prefix={self.prefix.hex()}" if self.prefix else ""
        return f"serial://{self.port}?protocol=scanner&baud=9600&suffix={suffix}{extra}"

    def start(self) -> Self:
        if self._port is None:
            self._port = PtyPort()
        return self

    def stop(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def scan(self, data: str, split: bool = False, noise: bytes = b"") -> None:
        """Send one scan. ``split``: in three writes 10 ms apart; ``noise``: bytes first."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        frame = noise + self.prefix + data.encode("latin-1") + self.suffix
        self._port.write(frame, chunk_gap=0.01 if split else 0.0, chunks=3 if split else 1)

    def unplug(self) -> None:
        """Pull the cable: the driver's next read fails."""
        if self._port is not None:
            self._port.unplug()
