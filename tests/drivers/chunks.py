"""Byte streams cut where hypothesis says: a parser must read the same frames however a
serial port or socket splits them."""

from __future__ import annotations


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at ``cuts`` (taken modulo its length; repeats and order ignored)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
