"""Reading and pruning the outbox of hall events. No rules here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.events.hub import PublishedEvent
from services.engine.events.models import HALL_SEQUENCE, HallEvent


def _published(row: HallEvent) -> PublishedEvent:
    return PublishedEvent(row.hall_id, row.seq, row.type, row.payload, row.created_at)


async def head(session: AsyncSession, hall_id: int) -> int:
    """The hall's last committed sequence number (0 before its first event)."""
    value = (
        await session.execute(
            select(HALL_SEQUENCE.c.event_seq).where(HALL_SEQUENCE.c.id == hall_id)
        )
    ).scalar()
    return int(value or 0)


async def read_events(
    session: AsyncSession, hall_id: int, after: int, upto: int | None = None, limit: int = 500
) -> list[PublishedEvent]:
    """Events with ``after < seq <= upto`` in sequence order, at most ``limit``."""
    query = select(HallEvent).where(HallEvent.hall_id == hall_id, HallEvent.seq > after)
    if upto is not None:
        query = query.where(HallEvent.seq <= upto)
    rows = (await session.execute(query.order_by(HallEvent.seq).limit(limit))).scalars().all()
    return [_published(r) for r in rows]


async def count_between(session: AsyncSession, hall_id: int, after: int, upto: int) -> int:
    """How many of the events ``after < seq <= upto`` are still retained."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(HallEvent)
                .where(HallEvent.hall_id == hall_id, HallEvent.seq > after, HallEvent.seq <= upto)
            )
        ).scalar_one()
    )


async def latest_of_types(
    session: AsyncSession,
    hall_id: int,
    types: Iterable[str],
    *,
    not_before: datetime,
    upto: int,
    limit: int,
) -> Sequence[PublishedEvent]:
    """The newest events of some types (newest first), no older than ``not_before``."""
    rows = (
        (
            await session.execute(
                select(HallEvent)
                .where(
                    HallEvent.hall_id == hall_id,
                    HallEvent.type.in_(list(types)),
                    HallEvent.seq <= upto,
                    HallEvent.created_at >= not_before,
                )
                .order_by(HallEvent.seq.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return [_published(r) for r in rows]


async def prune(session: AsyncSession, before: datetime) -> int:
    """Delete events created before ``before``; returns how many went."""
    result = await session.execute(
        delete(HallEvent)
        .where(HallEvent.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
