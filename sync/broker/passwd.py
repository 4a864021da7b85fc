"""Mosquitto 2.0 password files, written in Python (no ``mosquitto_passwd`` needed).

A line is ``username:$7$<iterations>$<salt>$<hash>``: PBKDF2-HMAC-SHA512 over the password
with a 12-byte random salt, 101 iterations (Mosquitto's default), salt and the 64-byte
hash in standard base64. Mosquitto 2.0 reads this format; ``tests/sync`` logs in with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

ITERATIONS = 101  # what mosquitto_passwd 2.0 writes (PW_DEFAULT_ITERATIONS)
SALT_BYTES = 12


def new_password() -> str:
    """A random password of 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` hash of ``password`` as Mosquitto 2.0 stores it."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash; False for any other hash or format."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(mine, digest)


def read_passwd(path: Path) -> dict[str, str]:
    """``{username: hash}`` from a Mosquitto password file; {} when it does not exist."""
    if not path.exists():
        return {}
    users: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, encoded = line.split(":", 1)
            users[user] = encoded
    return users


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (mode 0600)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_passwd(path: Path, users: dict[str, str]) -> None:
    """Write ``{username: hash}`` as a Mosquitto password file, mode 0600."""
    write_private(path, "".join(f"{user}:{encoded}\n" for user, encoded in users.items()))
