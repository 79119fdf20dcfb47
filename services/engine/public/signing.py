"""Signed ticket status links (排队进度二维码). Pure: no FastAPI, no database.

The printed QR code holds ``{base}/t/{hall}/{ticket_id}?s=<sig>``. The signature is
a short HMAC of (hall, ticket id) keyed with the engine's secret, so a citizen can
follow their own ticket without an account while nobody can walk through the
hall's tickets by counting ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

# 9 bytes of HMAC-SHA256 -> 12 URL-safe characters (72 bits): short enough for a
# small QR code, far too many to guess.
SIGNATURE_BYTES = 9
_PURPOSE = b"jiaohao ticket status v1"


def ticket_signature(secret: str, hall: str, ticket_id: int) -> str:
    message = b"\x1f".join((_PURPOSE, hall.encode(), str(ticket_id).encode()))
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signature_valid(secret: str, hall: str, ticket_id: int, signature: str | None) -> bool:
    # Compared as bytes: compare_digest refuses (TypeError) str holding non-ASCII text,
    # and a signature is URL-safe base64, ASCII by definition.
    if not signature or not signature.isascii():
        return False
    expected = ticket_signature(secret, hall, ticket_id).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("ascii"))


def status_path(secret: str, hall: str, ticket_id: int) -> str:
    return f"/t/{quote(hall, safe='')}/{ticket_id}?s={ticket_signature(secret, hall, ticket_id)}"


def status_url(base_url: str, secret: str, hall: str, ticket_id: int) -> str:
    """The address printed as the ticket's QR code."""
    return base_url.rstrip("/") + status_path(secret, hall, ticket_id)
