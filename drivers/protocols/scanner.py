"""Serial barcode scanners: data framed by a configurable prefix and suffix. No I/O.

Scanners in "serial/USB-COM" mode send ``prefix + data + suffix``; the suffix is usually
CR, sometimes LF or CR LF (set by scanning a configuration barcode from the manual).
"""

from __future__ import annotations

import re

# Characters a scan may contain: printable ASCII plus the GS1/ISO 15434 separators
# GS (FNC1), RS and EOT. Anything else on the line is noise (NUL, XON/XOFF, 8-bit junk).
_KEEP = re.compile(rb"[^\x20-\x7e\x1d\x1e\x04]")
LINE_ENDINGS = (b"\r", b"\n", b"\r\n")


class ScanFramer:
    """Cut a byte stream into scans.

    With a CR/LF/CR LF suffix any line ending ends a scan (a scanner set to CR LF and one
    set to CR then both work); other suffixes must match exactly.
    """

    def __init__(self, prefix: bytes = b"", suffix: bytes = b"\r", max_len: int = 4096) -> None:
        if not suffix:
            raise ValueError("a serial scanner needs a suffix to tell scans apart")
        self.prefix = prefix
        self.suffix = suffix
        self.max_len = max_len
        self._buf = b""
        self._split = (
            re.compile(rb"[\r\n]+") if suffix in LINE_ENDINGS else re.compile(re.escape(suffix))
        )

    def feed(self, data: bytes) -> list[str]:
        """Add ``data``; return the scans it completed (prefix/suffix and noise removed)."""
        self._buf += data
        *done, rest = self._split.split(self._buf)
        self._buf = rest[-self.max_len :]
        scans = []
        for chunk in done:
            clean = _KEEP.sub(b"", chunk)
            if self.prefix and clean.startswith(self.prefix):
                clean = clean[len(self.prefix) :]
            if clean:
                scans.append(clean.decode("ascii"))
        return scans

    def clear(self) -> None:
        """Forget a partial scan (noise left on the line, a scan cut off)."""
        self._buf = b""

    @property
    def pending(self) -> bool:
        return bool(self._buf)
