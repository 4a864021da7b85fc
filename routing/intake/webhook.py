"""The Shopify webhook endpoint: ``POST /webhooks/shopify`` with an ``orders/create``,
``orders/updated``, ``orders/edited``, ``orders/cancelled`` or ``refunds/create`` body
(``X-Shopify-Topic``).

Every request's signature is checked first (``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256
of the raw body with the app's client secret, compared in constant time); a missing or
wrong one is answered 401 and nothing else is read. Then, answers Shopify acts on:

* 200 ``{"order_id", "status"}``: stored as ``new`` or ``on_hold``, or a ``duplicate``
  (Shopify retries deliveries, and one order may come twice: it is one order); or, for
  an order with ``cancelled_at``, ``cancelled`` at the hub (``not_cancelled`` with the
  parts already packed, which people must stop); for an order with fewer units than
  before (``orders/updated`` after a refund or an edit) or a refund
  (``refunds/create``), ``amended``: the hub's order ships fewer units
  (:mod:`routing.intake.amend`), with what was too late to take back; ``duplicate``
  when that change was made already; for an order edit (``orders/edited``), ``amended``
  with ``notes`` (units removed, units added: :mod:`routing.intake.additions`) or
  ``duplicate``; an edit of an order the hub does not have is answered ``skipped`` and
  kept in ``quarantine`` with the reason, so nothing is lost;
  also 200 for an order with nothing for us to ship, and for another topic (ignored and
  logged, so a subscription set up by mistake does not fill Shopify's retry queue);
* 400 for a body that is not JSON, 422 for an order that cannot be read (both kept in the
  hub's ``quarantine`` table with the reason; Shopify retries, and shows the failures);
* 413 for a body over 4 MiB, 404 for another path, 500 when the database fails
  (Shopify retries later).

``GET /healthz`` answers 200 for a load balancer. The server is the standard library's
``ThreadingHTTPServer``: one short request at a time reaches the database, behind a lock,
so a framework would add nothing. Put it behind a TLS-terminating proxy: Shopify only
calls HTTPS addresses.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlite_utils

from routing.intake import shopify
from routing.intake.amend import apply_change, remove_units
from routing.intake.cancel import cancel_from_channel
from routing.intake.model import IntakeError, Skipped
from routing.intake.orders import take_in, unknown_order
from sync.quarantine import quarantine

log = logging.getLogger(__name__)

PATH = "/webhooks/shopify"
MAX_BODY = 4 * 1024 * 1024
TOPICS = {
    "orders/create", "orders/updated", "orders/edited", "orders/cancelled", "refunds/create",
}  # fmt: skip


class ShopifyWebhook:
    """The endpoint's server: ``start()`` serves in a thread, ``stop()`` ends it.
    ``port=0`` picks a free port (see :attr:`port`)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        secret: bytes,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
    ) -> None:
        if not secret:
            raise ValueError("the webhook needs the app's client secret")
        self.db = db
        self.secret = secret
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.webhook = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> ShopifyWebhook:
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon stop() is noticed
            name="shopify-webhook",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        """``(status, answer)`` for one delivery (signature already checked)."""
        topic = headers.get("X-Shopify-Topic", "orders/create")
        if topic not in TOPICS:
            log.warning("shopify webhook: topic %s is not handled; ignored", topic)
            return 200, {"ignored": topic}
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._refuse(400, f"not JSON: {exc}", body)
        if topic == "refunds/create":
            return self._refund(data, body)
        if topic == "orders/edited":
            return self._edit(data, body)
        try:
            parsed = shopify.parse(data)
        except IntakeError as exc:
            return self._refuse(422, str(exc), body)
        skipped = [p for p in parsed if isinstance(p, Skipped)]
        if skipped:
            with self.lock:
                outcomes, rest = cancel_from_channel(self.db, skipped)
            if rest:
                return 200, {"skipped": rest[0].reason}
            r = outcomes[0]
            log.info("shopify webhook: %s %s", r.order_id, r.status)
            return 200, {"order_id": r.order_id, "status": r.status} | (
                {"not_cancelled": r.hold_reason} if r.hold_reason else {}
            )
        webhook_id = headers.get("X-Shopify-Webhook-Id", "")
        with self.lock:
            try:
                results = take_in(self.db, parsed, source=f"webhook:shopify {webhook_id}".strip())
            except IntakeError as exc:
                return self._refuse(422, str(exc), body)
        r = results[0]
        answer = {"order_id": r.order_id, "status": r.status}
        if r.hold_reason:
            answer["hold_reason"] = r.hold_reason
        log.info("shopify webhook: %s %s", r.order_id, r.status)
        return 200, answer

    def _refund(self, data: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            refund = shopify.parse_refund(data)
        except IntakeError as exc:
            return self._refuse(422, str(exc), body)
        with self.lock:
            row = self.db.execute(
                "SELECT order_id FROM channel_orders WHERE channel = 'shopify' "
                "AND channel_order_id = ?",
                [refund.channel_order_id],
            ).fetchone()
            if row is None:
                return 200, {"skipped": f"order {refund.channel_order_id} is not at the hub"}
            r = remove_units(self.db, row[0], refund.units, refund.refund_id)
        log.info("shopify webhook: refund %s of %s: %s", refund.refund_id, r.order_id, r.status)
        return 200, {"order_id": r.order_id, "status": r.status} | (
            {"not_removed": r.hold_reason} if r.hold_reason else {}
        )

    def _edit(self, data: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            edit = shopify.parse_edit(data)
        except IntakeError as exc:
            return self._refuse(422, str(exc), body)
        with self.lock:
            r = apply_change(self.db, edit)
            if r is None:
                reason = unknown_order(edit).reason
                quarantine(self.db, "intake/shopify", f"order {edit.channel_order_id}: {reason}",
                           body)  # fmt: skip
                log.warning("shopify webhook: %s of order %s: %s", edit.change_id,
                            edit.channel_order_id, reason)  # fmt: skip
                return 200, {"skipped": reason}
        log.info("shopify webhook: %s of %s: %s (%s)", edit.change_id, r.order_id, r.status,
                 r.hold_reason or "")  # fmt: skip
        return 200, {"order_id": r.order_id, "status": r.status} | (
            {"notes": r.hold_reason} if r.hold_reason else {}
        )

    def _refuse(self, status: int, reason: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            quarantine(self.db, "intake/shopify", reason, body)
        return status, {"error": reason}


class _Handler(BaseHTTPRequestHandler):
    server_version = "doms-hub"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self._answer(200, {"ok": True})
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        webhook: ShopifyWebhook = self.server.webhook  # type: ignore[attr-defined]
        if self.path.split("?", 1)[0] != PATH:
            self._answer(404, {"error": "not found"}, drain=True)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, {"error": "Content-Length required"}, close=True)
            return
        if length < 0 or length > MAX_BODY:
            self._answer(413, {"error": f"body over {MAX_BODY} bytes"}, close=True)
            return
        body = self.rfile.read(length)
        signature = self.headers.get("X-Shopify-Hmac-Sha256")
        if not shopify.verify_hmac(body, signature, webhook.secret):
            log.warning("shopify webhook from %s: bad signature", self.client_address[0])
            self._answer(401, {"error": "bad signature"})
            return
        try:
            status, answer = webhook.handle(body, self.headers)
        except sqlite3.Error as exc:
            log.exception("shopify webhook: the database failed")
            status, answer = 500, {"error": f"database: {exc}"}
        self._answer(status, answer)

    def _answer(self, status: int, answer: dict, *, drain: bool = False, close: bool = False):
        if drain:
            length = self.headers.get("Content-Length", "0")
            if length.isdigit() and int(length) <= MAX_BODY:
                self.rfile.read(int(length))
            else:
                close = True
        data = json.dumps(answer).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)
