"""Writing and reading the audit log. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit.models import AuditEntry


def record(
    session: AsyncSession,
    hall_id: int | None,
    action: str,
    target: str,
    *,
    actor: str,
    at: datetime,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add one entry, in the caller's transaction (written with the change or not at all)."""
    session.add(
        AuditEntry(
            hall_id=hall_id,
            at=at,
            actor=actor,
            action=action,
            target=target,
            before=before,
            after=after,
        )
    )


async def entries(
    session: AsyncSession, hall_id: int, *, since: datetime, limit: int
) -> Sequence[AuditEntry]:
    """The hall's entries since a moment, newest first."""
    return (
        (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.hall_id == hall_id, AuditEntry.at >= since)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
