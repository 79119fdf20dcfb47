"""The partner caller: an HMAC-signed request, bound to its hall and rate-limited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.engine.core.errors import Forbidden
from services.engine.core.problems import refuses
from services.engine.core.request_context import note_caller
from services.engine.deps import SessionDep, SettingsDep
from services.engine.halls.models import Hall
from services.engine.halls.service import get_hall
from services.engine.partners import signing
from services.engine.partners.models import Partner
from services.engine.partners.ratelimit import RateLimiter
from services.engine.partners.service import SignedRequest, verify_request


def rate_limiter(request: Request) -> RateLimiter:
    """The process's token buckets (one per app)."""
    limiter: RateLimiter | None = getattr(request.app.state, "partner_rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.partner_rate_limiter = RateLimiter()
    return limiter


LimiterDep = Annotated[RateLimiter, Depends(rate_limiter)]


@dataclass(frozen=True)
class PartnerCaller:
    hall: Hall
    partner: Partner


def signed_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


@refuses(401, 403, 404, 429)  # signature, hall, rate limit
async def partner_caller(
    hall: str, request: Request, session: SessionDep, settings: SettingsDep, limiter: LimiterDep
) -> PartnerCaller:
    body = await request.body()
    headers = request.headers
    partner = await verify_request(
        session=session,
        request=SignedRequest(
            key_id=headers.get(signing.HEADER_KEY),
            timestamp=headers.get(signing.HEADER_TIMESTAMP),
            nonce=headers.get(signing.HEADER_NONCE),
            signature=headers.get(signing.HEADER_SIGNATURE),
            method=request.method,
            path=signed_path(request),
            body=body,
        ),
        secret_key=settings.secret_key,
    )
    note_caller("partner", "partner", partner.id)  # for the logs
    limiter.take(f"partner:{partner.id}", partner.rate_per_minute, what=f"partner {partner.name}")
    found = await get_hall(session=session, code=hall)
    await session.commit()
    if found.id != partner.hall_id:
        raise Forbidden("this partner key belongs to another hall")
    return PartnerCaller(found, partner)


PartnerAccess = Annotated[PartnerCaller, Depends(partner_caller)]
