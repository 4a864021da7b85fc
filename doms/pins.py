"""Operator PINs as stations verify them offline: PBKDF2-SHA256, stored as ``salt$hex``.

Here, not in ``station/``, because the hub hashes the PINs it loads (``doms hub load
operators``) and ``routing/`` never imports ``station/``; the station uses these same two
functions, so there is one format.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_ITERATIONS = 100_000


def hash_pin(pin: str, salt: str | None = None) -> str:
    """The stored form of ``pin``: ``salt$hex`` (a new random salt unless one is given)."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), _ITERATIONS).hex()
    return f"{salt}${digest}"


def pin_matches(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN ``stored`` (a :func:`hash_pin` result) was made from."""
    salt, _ = stored.split("$", 1)
    return hmac.compare_digest(hash_pin(pin, salt), stored)
