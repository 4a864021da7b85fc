"""Which channel a file or body comes from, and parsing it with that channel's parser."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from routing.intake import amazon, csvfile, shopify, tiktok
from routing.intake.model import CHANNELS, IntakeError, Parsed


def detect(data: Any) -> str:
    """The channel whose shape decoded JSON ``data`` has. Raises IntakeError."""
    if amazon.is_amazon(data) or amazon.is_order_change(data):
        return "amazon"
    if tiktok.is_tiktok(data):
        return "tiktok"
    if shopify.is_shopify(data) or shopify.is_order_edit(data):
        return "shopify"
    raise IntakeError(
        "not an order shape doms knows: expected a Shopify order or order edit, SP-API "
        "getOrder + getOrderItems responses or an ORDER_CHANGE notification, TikTok Shop "
        "order detail, or the doms order CSV"
    )


def parse_bytes(
    raw: bytes,
    *,
    channel: str | None = None,
    name: str = "",
    received_at: dt.datetime | None = None,
) -> tuple[str, Parsed]:
    """``(channel, orders and skips)`` from a file's or request's bytes. ``channel`` None
    means detect it: CSV by a ``.csv`` name or its header row, else JSON by shape.
    Raises IntakeError for an unknown channel or shape, bad JSON, or a bad order."""
    if channel is not None and channel not in CHANNELS:
        raise IntakeError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if channel == "csv" or (
        channel is None and (name.lower().endswith(".csv") or csvfile.is_csv(raw))
    ):
        return "csv", csvfile.parse(raw, received_at=received_at)
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise IntakeError(f"not JSON: {exc}") from None
    channel = channel or detect(data)
    if channel == "shopify" and shopify.is_order_edit(data):
        return channel, [shopify.parse_edit(data)]
    if channel == "amazon" and amazon.is_order_change(data):
        return channel, amazon.parse_order_change(data)
    parser = {"shopify": shopify.parse, "amazon": amazon.parse, "tiktok": tiktok.parse}
    return channel, parser[channel](data)
