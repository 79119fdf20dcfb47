"""Passwords, staff access tokens and device tokens. No web framework here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.engine.core.inputs import INT64_MAX, ascii_digits

_hasher = PasswordHasher()
DEVICE_TOKEN_PREFIX = "jhd_"
_ALGORITHM = "HS256"
# Verifying against this keeps a login for an unknown user as slow as a real one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_device_token() -> str:
    """A fresh bearer token for a device; shown once, only its hash is kept."""
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def device_token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough to look them up.
    return hashlib.sha256(token.encode()).hexdigest()


def password_stamp(*, secret: str, password_hash: str) -> str:
    """A short mark of the account's current password, carried in its staff tokens.

    A password reset changes the hash, so every token issued before it stops working
    (auth/service.py ``principal_from_token``). Keyed with the engine's secret: the
    token (readable by its holder) says nothing about the hash.
    """
    return hmac.new(secret.encode(), password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def create_access_token(
    *,
    secret: str,
    user_id: int,
    role: str,
    hall_id: int | None,
    minutes: int,
    stamp: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "hall": hall_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "typ": "staff",
    }
    if stamp is not None:
        claims["pws"] = stamp
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> dict[str, Any] | None:
    """The token's claims, or None if it is forged, expired or malformed."""
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[_ALGORITHM])
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "staff" or user_id_of(claims.get("sub")) is None:
        return None
    return claims


def user_id_of(subject: object) -> int | None:
    """A staff token's subject as a user id (ASCII digits, a row id), or None."""
    if not isinstance(subject, str):
        return None
    user_id = ascii_digits(subject, len(str(INT64_MAX)))
    return user_id if user_id is not None and 0 < user_id <= INT64_MAX else None
