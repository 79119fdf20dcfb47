"""Transactional outbox: stage events during a change, number them, commit once."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.db import utcnow
from services.engine.events.hub import EventHub, PublishedEvent
from services.engine.events.models import HallEvent
from services.engine.halls.models import Hall

_STAGED = "jiaohao_outbox"
HUB_KEY = "jiaohao_hub"


def stage(session: AsyncSession, hall_id: int, type_: str, payload: dict[str, Any]) -> None:
    """Remember an event to be written with this transaction."""
    session.info.setdefault(_STAGED, []).append((hall_id, type_, payload))


async def commit(session: AsyncSession) -> list[PublishedEvent]:
    """Write staged events with per-hall sequence numbers, commit, then publish.

    Sequence numbers are taken last, just before the commit, so the hall row
    lock that orders them is held for the shortest time and sequence order is
    commit order.
    """
    staged: list[tuple[int, str, dict[str, Any]]] = session.info.pop(_STAGED, [])
    by_hall: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for hall_id, type_, payload in staged:
        by_hall[hall_id].append((type_, payload))
    published: list[PublishedEvent] = []
    now = utcnow()
    for hall_id in sorted(by_hall):
        items = by_hall[hall_id]
        last = (
            await session.execute(
                update(Hall)
                .where(Hall.id == hall_id)
                .values(event_seq=Hall.event_seq + len(items))
                .returning(Hall.event_seq)
            )
        ).scalar_one()
        first = last - len(items) + 1
        rows: list[dict[str, Any]] = [
            {"hall_id": hall_id, "seq": first + i, "type": t, "payload": p, "created_at": now}
            for i, (t, p) in enumerate(items)
        ]
        await session.execute(insert(HallEvent), rows)
        published.extend(
            PublishedEvent(hall_id, r["seq"], r["type"], r["payload"], now) for r in rows
        )
    notifier = session.info.get("jiaohao_notify")
    if notifier is not None and published:
        await notifier(session, published)
    await session.commit()
    hub: EventHub | None = session.info.get(HUB_KEY)
    if hub is not None and published:
        hub.publish(published)
    return published


def discard(session: AsyncSession) -> None:
    """Forget staged events (the change was rolled back)."""
    session.info.pop(_STAGED, None)
