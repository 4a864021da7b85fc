"""The Shopify webhook endpoint, over real HTTP on a free port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from routing import store
from routing.intake import map_sku
from routing.intake.shopify import sign, verify_hmac
from routing.intake.webhook import PATH, ShopifyWebhook

from .conftest import fixture_bytes

SECRET = b"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"
BODY = fixture_bytes("shopify_orders_create.json")


@pytest.fixture
def server(tmp_path):
    hub = store.open_db(tmp_path / "hub.db", check_same_thread=False)
    from routing import feed

    for sku in ("TSH-ORG-M-BLK", "MUG-STW-OAT"):
        feed.upsert_sku(hub, "WH1", {"sku": sku, "name": sku, "weight_g": 1, "length_mm": 1,
                                     "width_mm": 1, "height_mm": 1})  # fmt: skip
    map_sku(hub, "shopify", "44321", "TSH-ORG-M-BLK")
    map_sku(hub, "shopify", "4432", "MUG-STW-OAT")
    webhook = ShopifyWebhook(hub, SECRET, port=0).start()
    yield webhook
    webhook.stop()


def post(server, body, signature, path=PATH):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                 "X-Shopify-Hmac-Sha256": signature,
                 "X-Shopify-Shop-Domain": "bluebird-basics.myshopify.com"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_signature_is_the_base64_hmac_sha256_of_the_raw_body():
    # Computed apart: printf %s '{"id":1}' | openssl dgst -sha256 -hmac hush -binary | base64
    expected = "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY="
    assert sign(b'{"id":1}', b"hush") == expected
    assert verify_hmac(b'{"id":1}', expected, b"hush")


def test_a_delivery_with_a_good_signature_is_taken_in(server):
    status, answer = post(server, BODY, sign(BODY, SECRET))
    assert (status, answer) == (200, {"order_id": "SHP-5678901234567", "status": "new"})


def test_a_delivery_with_a_bad_signature_is_refused_and_not_stored(server):
    status, _ = post(server, BODY, sign(BODY, b"another app's secret"))
    assert status == 401
    assert server.db.execute("SELECT count(*) FROM orders").fetchone()[0] == 0


def test_a_body_changed_after_signing_is_refused(server):
    status, _ = post(server, BODY.replace(b'"quantity": 2', b'"quantity": 20'), sign(BODY, SECRET))
    assert status == 401


def test_a_retried_delivery_is_answered_200_as_a_duplicate(server):
    post(server, BODY, sign(BODY, SECRET))
    status, answer = post(server, BODY, sign(BODY, SECRET))
    assert (status, answer["status"]) == (200, "duplicate")


def test_a_signed_body_that_is_no_order_is_422_and_quarantined(server):
    body = b'{"id": 1, "name": "#1", "line_items": "none"}'
    status, _ = post(server, body, sign(body, SECRET))
    assert status == 422
    assert server.db.execute("SELECT topic FROM quarantine").fetchall() == [("intake/shopify",)]
