"""ZPL II byte stream helpers: cut a stream into label formats, find tilde commands.

A label format runs from ``^XA`` to ``^XZ``. Tilde commands (``~HS``, ``~JA`` ...) stand
alone and a printer acts on them as soon as they arrive. Source: Zebra "ZPL II
Programming Guide" (``^XA``, ``^XZ``, ``~HS``). Caret and tilde may be changed with
``^CC``/``~CT``; we assume the defaults, as nearly every installation does.
"""

from __future__ import annotations

import re

HOST_STATUS = b"~HS"  # "host status return": three STX..ETX CR LF frames come back
HOST_QUERY = b"~HQ"  # "host query": takes a two-letter type, e.g. ~HQES (error status)
START, END = b"^XA", b"^XZ"

# ~HQ carries its query type (ES, OD, SN ...) as two more letters: one command, not two.
_TILDE = re.compile(rb"~HQ[A-Z]{2}|~[A-Z]{2}")
_TILDE_START = re.compile(rb"~[A-Z]?")


def split_stream(buffer: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """Cut ``buffer`` into complete items and the unfinished rest.

    Items are ``("label", b"^XA...^XZ")`` or ``("tilde", b"~HS")`` in arrival order; bytes
    between them that are neither (line breaks, stray text) are dropped, as a printer
    ignores them. The rest (an open ``^XA`` or a partial command) is returned for the
    next call with more bytes.
    """
    items: list[tuple[str, bytes]] = []
    pos = 0
    while True:
        start = buffer.find(START, pos)
        tilde = _TILDE.search(buffer, pos, start if start >= 0 else len(buffer))
        if tilde:
            rest = buffer[tilde.end() :]
            if (
                tilde.group() == HOST_QUERY
                and start < 0
                and len(rest) < 2
                and (not rest or rest.isupper())
            ):
                return items, buffer[tilde.start() :]  # its query type may be in the next read
            items.append(("tilde", tilde.group()))
            pos = tilde.end()
            continue
        if start < 0:
            # Keep a tail that may be the beginning of ``^XA`` or of a tilde command.
            tail = buffer[pos:]
            for k in (2, 1):
                piece = tail[-k:]
                if len(tail) >= k and (START.startswith(piece) or _TILDE_START.fullmatch(piece)):
                    return items, piece
            return items, b""
        end = buffer.find(END, start + len(START))
        if end < 0:
            return items, buffer[start:]
        items.append(("label", buffer[start : end + len(END)]))
        pos = end + len(END)
