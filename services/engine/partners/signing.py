"""Partner keys and request signatures (HMAC-SHA256). Pure: no I/O, no framework.

A partner holds a key id (public, ``jhp_...``) and a secret (``jhs_...``).
The secret is *derived*, never stored: ``HMAC(K, key_id + ":" + salt)`` where
``K = HMAC(settings.secret_key, "jiaohao partner secrets v1")`` and the salt is
random per partner. The engine keeps only the key id and the salt, so a copy
of the database alone yields no partner secret; changing ``secret_key``
changes every partner secret (they must then be issued again).

Every signed message, request or webhook, signs this text (lines joined by
``\\n``)::

    METHOD
    PATH[?QUERY]
    TIMESTAMP        (Unix seconds)
    NONCE            (8-64 characters of [A-Za-z0-9_-])
    SHA256(BODY)     (lower-case hex; of the empty string when there is no body)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

KEY_ID_PREFIX = "jhp_"
SECRET_PREFIX = "jhs_"
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Requests whose timestamp is further than this from the engine's clock are refused.
MAX_CLOCK_SKEW_SECONDS = 300
# Unix seconds have 10 digits until the year 2286; more is not a timestamp.
MAX_TIMESTAMP_DIGITS = 12

HEADER_KEY = "X-Jiaohao-Key"
HEADER_TIMESTAMP = "X-Jiaohao-Timestamp"
HEADER_NONCE = "X-Jiaohao-Nonce"
HEADER_SIGNATURE = "X-Jiaohao-Signature"


def new_key_id() -> str:
    return KEY_ID_PREFIX + secrets.token_hex(8)


def new_salt() -> str:
    return secrets.token_hex(16)


def derive_secret(secret_key: str, key_id: str, salt: str) -> str:
    """The partner's signing secret, recomputed from the engine's secret key."""
    master = hmac.new(secret_key.encode(), b"jiaohao partner secrets v1", hashlib.sha256).digest()
    raw = hmac.new(master, f"{key_id}:{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join((method.upper(), path, timestamp, nonce, body_hash(body)))


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the string to sign, keyed with the partner secret."""
    message = string_to_sign(method, path, timestamp, nonce, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Compared as bytes (compare_digest refuses str holding non-ASCII text)."""
    given = given.strip().lower()
    return given.isascii() and hmac.compare_digest(expected.encode(), given.encode())


def signed_headers(
    *,
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers of a signed message (what a partner sends, what a webhook carries)."""
    nonce = nonce or secrets.token_urlsafe(16)
    ts = str(timestamp)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret, method, path, ts, nonce, body),
    }
