"""Read an ESC/POS byte stream back: text, barcodes, QR codes, cuts, status queries.

Used by the slip-printer emulator (it must find ``DLE EOT`` queries at command
boundaries, not inside image data) and by tests that assert what a slip says. Covers the
commands python-escpos emits; an unknown ``ESC x``/``GS x`` is skipped as two bytes.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C

# Commands with a fixed number of argument bytes after the two command bytes.
_FIXED: dict[tuple[int, int], int] = {
    **{(ESC, ord(c)): 1 for c in "!E-aMt{GdJ3RV=rU"},
    **{(ESC, ord(c)): 0 for c in "@2<S"},
    (ESC, ord("c")): 2,  # ESC c 3 n / ESC c 4 n / ESC c 5 n
    (ESC, ord("p")): 3,
    (ESC, ord("$")): 2,
    (ESC, ord("\\")): 2,
    **{(GS, ord(c)): 1 for c in "!BHfhwbrIa|"},
    **{(GS, ord(c)): 2 for c in "LWP"},
    (DLE, 0x04): 1,
    (DLE, 0x05): 1,
    (FS, ord(".")): 0,
    (FS, ord("&")): 0,
}


@dataclass
class Slip:
    """What a stream of ESC/POS bytes prints."""

    text: str = ""
    barcodes: list[tuple[int, str]] = field(default_factory=list)  # (GS k type, data)
    qr_codes: list[str] = field(default_factory=list)
    cuts: int = 0
    status_queries: list[int] = field(default_factory=list)  # n of each DLE EOT n


class EscposReader:
    """Incremental: feed bytes as they come; :attr:`slip` accumulates what they print."""

    def __init__(self, codepages: dict[int, str] | None = None) -> None:
        self.slip = Slip()
        self._buf = b""
        self.job_bytes = 0  # bytes consumed that were not status queries: print data
        self._codec = "cp437"
        self._codepages = codepages if codepages is not None else _default_codepages()

    def feed(self, data: bytes) -> list[int]:
        """Consume ``data``; return the ``n`` of each ``DLE EOT n`` query completed in it."""
        return [q[2] for q in self.feed_queries(data) if q[0] == DLE]

    def feed_queries(self, data: bytes, stop_at_cut: bool = False) -> list[bytes]:
        """Consume ``data``; return every status query completed in it, as sent
        (``DLE EOT n`` and ``GS r n``), in order.

        ``stop_at_cut``: stop right after a cut and keep the rest (:attr:`unparsed`), so
        a caller with no other job boundary (a serial line) can :meth:`take_slip` and go
        on with ``feed_queries(b"", True)``."""
        self._buf += data
        queries: list[bytes] = []
        pos = 0
        text = bytearray()
        cuts = self.slip.cuts
        while pos < len(self._buf):
            used, query = self._step(pos, text)
            if used == 0:
                break  # an incomplete command: wait for more bytes
            if query is not None:
                queries.append(query)
            else:
                self.job_bytes += used
            pos += used
            if stop_at_cut and self.slip.cuts > cuts:
                break
        self._flush(text)
        self._buf = self._buf[pos:]
        self.slip.status_queries += [q[2] for q in queries if q[0] == DLE]
        return queries

    @property
    def unparsed(self) -> int:
        """How many bytes fed so far are not consumed yet (an incomplete command, or
        what follows a cut with ``stop_at_cut``)."""
        return len(self._buf)

    def take_slip(self) -> Slip:
        """What was printed since the last call; starts a new slip. The code page stays,
        as it does in a printer until it is reset."""
        slip, self.slip = self.slip, Slip()
        self.job_bytes = 0
        return slip

    def _flush(self, text: bytearray) -> None:
        if text:
            self.slip.text += codecs.decode(bytes(text), self._codec, errors="replace")
            text.clear()

    def _step(self, pos: int, text: bytearray) -> tuple[int, bytes | None]:
        """Handle the item at ``pos``; return (bytes used, status query or None); 0 = need more."""
        buf, b = self._buf, self._buf[pos]
        if b not in (ESC, GS, DLE, FS):
            if b == 0x0A or b >= 0x20 or b == 0x09:
                text.append(0x20 if b == 0x09 else b)
            return 1, None
        if pos + 1 >= len(buf):
            return 0, None
        key = (b, buf[pos + 1])
        if key in _FIXED:
            size = 2 + _FIXED[key]
            if pos + size > len(buf):
                return 0, None
            if key == (ESC, ord("t")):
                self._flush(text)
                self._codec = self._codepages.get(buf[pos + 2], "cp437")
            if key in ((DLE, 0x04), (GS, ord("r"))):
                return size, bytes(buf[pos : pos + size])
            return size, None
        if key == (GS, ord("V")):  # cut: GS V m, or GS V m n for m >= 65
            if pos + 2 >= len(buf):
                return 0, None
            size = 4 if buf[pos + 2] >= 65 else 3
            if pos + size > len(buf):
                return 0, None
            self.slip.cuts += 1
            return size, None
        if key == (ESC, ord("D")):  # tab positions, NUL-terminated
            end = buf.find(b"\x00", pos + 2)
            return (end + 1 - pos if end >= 0 else 0), None
        if key == (ESC, ord("*")):  # ESC * m nL nH: column bit image
            if pos + 5 > len(buf):
                return 0, None
            width = buf[pos + 3] + 256 * buf[pos + 4]
            size = 5 + width * (3 if buf[pos + 2] in (32, 33) else 1)
            return (size if pos + size <= len(buf) else 0), None
        if key == (GS, ord("k")):
            return self._barcode(pos), None
        if key in ((GS, ord("(")), (GS, ord("8"))):
            return self._block(pos), None
        if key == (GS, ord("v")):  # GS v 0 m xL xH yL yH raster image
            if pos + 8 > len(buf):
                return 0, None
            size = 8 + (buf[pos + 4] + 256 * buf[pos + 5]) * (buf[pos + 6] + 256 * buf[pos + 7])
            return (size if pos + size <= len(buf) else 0), None
        return 2, None  # unknown command: skip its two bytes and hope

    def _barcode(self, pos: int) -> int:
        buf = self._buf
        if pos + 3 >= len(buf):
            return 0
        kind = buf[pos + 2]
        if kind >= 65:  # function B: GS k m n d1..dn
            n = buf[pos + 3]
            if pos + 4 + n > len(buf):
                return 0
            data, size = buf[pos + 4 : pos + 4 + n], 4 + n
        else:  # function A: GS k m d1..dk NUL
            end = buf.find(b"\x00", pos + 3)
            if end < 0:
                return 0
            data, size = buf[pos + 3 : end], end + 1 - pos
        self.slip.barcodes.append((kind, _barcode_text(kind, data)))
        return size

    def _block(self, pos: int) -> int:
        """``GS ( x pL pH ...`` (and ``GS 8 L p1..p4``): skip it, keep QR contents."""
        buf = self._buf
        long_form = buf[pos + 1] == ord("8")
        head = 7 if long_form else 5
        if pos + head > len(buf):
            return 0
        if long_form:
            length = int.from_bytes(buf[pos + 3 : pos + 7], "little")
        else:
            length = buf[pos + 3] + 256 * buf[pos + 4]
        if pos + head + length > len(buf):
            return 0
        body = buf[pos + head : pos + head + length]
        # GS ( k  cn=49 ('1', QR)  fn=80 ('P', store data)  m=48  data...
        if not long_form and buf[pos + 2] == ord("k") and body[:3] == b"1P0":
            self.slip.qr_codes.append(body[3:].decode("utf-8", errors="replace"))
        return head + length


def _barcode_text(kind: int, data: bytes) -> str:
    text = data.decode("latin-1")
    if kind in (73, 74) and text[:1] == "{":  # Code 128: drop code-set switches, unescape {{
        out, i = [], 0
        while i < len(text):
            if text[i] == "{" and i + 1 < len(text):
                if text[i + 1] == "{":
                    out.append("{")
                i += 2
                continue
            out.append(text[i])
            i += 1
        return "".join(out)
    return text


def _default_codepages() -> dict[int, str]:
    """ESC t numbers of python-escpos's default profile -> Python codec names."""
    from escpos.capabilities import get_profile

    table: dict[int, str] = {}
    for name, number in get_profile().get_code_pages().items():
        try:
            table[int(number)] = codecs.lookup(name).name
        except (LookupError, ValueError):
            continue
    return table


def read_slip(data: bytes) -> Slip:
    """Everything ``data`` prints (text with line breaks, barcodes, QR codes, cuts)."""
    reader = EscposReader()
    reader.feed(data)
    return reader.slip
