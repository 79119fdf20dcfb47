"""Loading and saving partners and nonces. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.partners.models import Partner, PartnerNonce


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "postgresql"


async def get_by_key_id(session: AsyncSession, key_id: str) -> Partner | None:
    return (
        await session.execute(select(Partner).where(Partner.key_id == key_id))
    ).scalar_one_or_none()


async def get_partner(session: AsyncSession, partner_id: int) -> Partner | None:
    return await session.get(Partner, partner_id)


async def get_by_name(session: AsyncSession, hall_id: int, name: str) -> Partner | None:
    return (
        await session.execute(
            select(Partner).where(Partner.hall_id == hall_id, Partner.name == name)
        )
    ).scalar_one_or_none()


async def remember_nonce(session: AsyncSession, partner_id: int, nonce: str, at: datetime) -> bool:
    """Record a nonce; False if this partner already used it (a replay)."""
    ins = (postgresql if _dialect(session) == "postgresql" else sqlite).insert(PartnerNonce)
    result = await session.execute(
        ins.values(partner_id=partner_id, nonce=nonce, seen_at=at).on_conflict_do_nothing()
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def forget_nonces_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(PartnerNonce).where(PartnerNonce.seen_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def webhook_partners(session: AsyncSession) -> Sequence[Partner]:
    return (
        (
            await session.execute(
                select(Partner).where(Partner.active.is_(True), Partner.webhook_url.is_not(None))
            )
        )
        .scalars()
        .all()
    )
