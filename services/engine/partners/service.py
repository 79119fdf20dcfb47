"""Use cases for partners: add one (its key shown once), verify a signed request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.db import utcnow
from services.engine.core.errors import Refusal, Unauthorized, ValidationFailed
from services.engine.core.inputs import ascii_digits
from services.engine.halls.models import Hall
from services.engine.partners import repository, signing
from services.engine.partners.models import Partner


class SignatureMissing(Unauthorized):
    code = "signature_missing"
    title = "This API needs a signed request"


class SignatureInvalid(Unauthorized):
    code = "signature_invalid"
    title = "The request signature does not verify"


class SignatureStale(Unauthorized):
    code = "signature_stale"
    title = "The request timestamp is too far from the engine's clock"


class NonceReplayed(Unauthorized):
    code = "nonce_replayed"
    title = "This request was already received (replay)"


class PartnerExists(Refusal):
    code = "partner_exists"
    title = "A partner of that name already exists in this hall"


@dataclass(frozen=True)
class NewPartner:
    partner: Partner
    secret: str


def _check_webhook(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"webhook must be an http(s) URL, not {url!r}")


async def add_partner(
    *,
    session: AsyncSession,
    hall: Hall,
    name: str,
    webhook_url: str | None,
    secret_key: str,
    rate_per_minute: int = 600,
) -> NewPartner:
    """Create a partner and return its secret (the only time it is shown)."""
    _check_webhook(webhook_url)
    if await repository.get_by_name(session, hall.id, name) is not None:
        raise PartnerExists(f"hall {hall.code} already has a partner called {name!r}")
    partner = Partner(
        hall_id=hall.id,
        name=name,
        key_id=signing.new_key_id(),
        secret_salt=signing.new_salt(),
        webhook_url=webhook_url,
        active=True,
        rate_per_minute=rate_per_minute,
    )
    session.add(partner)
    await session.commit()
    return NewPartner(
        partner, signing.derive_secret(secret_key, partner.key_id, partner.secret_salt)
    )


def secret_of(partner: Partner, secret_key: str) -> str:
    return signing.derive_secret(secret_key, partner.key_id, partner.secret_salt)


@dataclass(frozen=True)
class SignedRequest:
    key_id: str | None
    timestamp: str | None
    nonce: str | None
    signature: str | None
    method: str
    path: str
    body: bytes


async def verify_request(
    *, session: AsyncSession, request: SignedRequest, secret_key: str, now: datetime | None = None
) -> Partner:
    """The partner that signed this request, or a refusal naming what is wrong.

    Order: headers present, timestamp fresh, key known, signature valid, then
    the nonce is recorded (so forged requests never fill the nonce table).
    """
    now = now or utcnow()
    if not (request.key_id and request.timestamp and request.nonce and request.signature):
        raise SignatureMissing(
            f"send {signing.HEADER_KEY}, {signing.HEADER_TIMESTAMP}, {signing.HEADER_NONCE} "
            f"and {signing.HEADER_SIGNATURE} (see docs/booking-api.md)"
        )
    # Bounded before it is a number: 1 and 400 zeros once overflowed the float below (500).
    ts = ascii_digits(request.timestamp.strip(), signing.MAX_TIMESTAMP_DIGITS)
    if ts is None:
        raise SignatureStale(
            "the timestamp must be Unix seconds (ASCII digits)", server_time=int(now.timestamp())
        )
    skew = abs(now.timestamp() - ts)
    if skew > signing.MAX_CLOCK_SKEW_SECONDS:
        raise SignatureStale(
            f"the timestamp is {skew:.0f} s away from the engine's clock "
            f"(at most {signing.MAX_CLOCK_SKEW_SECONDS} s); check the partner server's clock",
            server_time=int(now.timestamp()),
        )
    if not signing.NONCE_PATTERN.match(request.nonce):
        raise SignatureInvalid("the nonce must be 8-64 characters of A-Z a-z 0-9 _ -")
    partner = await repository.get_by_key_id(session, request.key_id)
    if partner is None or not partner.active:
        raise SignatureInvalid("unknown or disabled partner key")
    expected = signing.sign(
        secret_of(partner, secret_key),
        request.method,
        request.path,
        request.timestamp,
        request.nonce,
        request.body,
    )
    if not signing.signature_matches(expected, request.signature):
        raise SignatureInvalid(
            "the signature does not match METHOD, PATH, TIMESTAMP, NONCE and SHA256(BODY)"
        )
    if not await repository.remember_nonce(session, partner.id, request.nonce, now):
        await session.rollback()
        raise NonceReplayed("this nonce was already used; sign every request with a new nonce")
    await session.commit()
    return partner


async def forget_old_nonces(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Nonces older than twice the skew limit can no longer be replayed: drop them."""
    now = now or utcnow()
    removed = await repository.forget_nonces_before(
        session, now - timedelta(seconds=2 * signing.MAX_CLOCK_SKEW_SECONDS)
    )
    await session.commit()
    return removed
