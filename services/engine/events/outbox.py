"""Transactional outbox: stage events during a change, number them, commit once."""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.changes import note_changes
from services.engine.core.db import utcnow
from services.engine.core.gates import hall_gate
from services.engine.events.hub import EventHub, PublishedEvent
from services.engine.events.models import HALL_SEQUENCE, HallEvent

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
    async with AsyncExitStack() as gates:
        # One committer per hall in this process: the hall row is locked until COMMIT.
        for hall_id in sorted(by_hall):
            await gates.enter_async_context(hall_gate("commit", hall_id))
        published = await _number_and_commit(session, by_hall)
        note_changes((e.hall_id, e.type) for e in published)
        _hand_over(session, published)
    return published


async def _number_and_commit(
    session: AsyncSession, by_hall: dict[int, list[tuple[str, dict[str, Any]]]]
) -> list[PublishedEvent]:
    published: list[PublishedEvent] = []
    now = utcnow()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and by_hall:
        for hall_id in sorted(by_hall):
            published.extend(await _number_and_notify_pg(session, hall_id, by_hall[hall_id], now))
        await session.commit()
        return published
    for hall_id in sorted(by_hall):
        items = by_hall[hall_id]
        last = (
            await session.execute(
                update(HALL_SEQUENCE)
                .where(HALL_SEQUENCE.c.id == hall_id)
                .values(event_seq=HALL_SEQUENCE.c.event_seq + len(items))
                .returning(HALL_SEQUENCE.c.event_seq)
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
    await session.commit()
    return published


def _hand_over(session: AsyncSession, published: list[PublishedEvent]) -> None:
    hub: EventHub | None = session.info.get(HUB_KEY)
    if hub is not None and published:
        hub.publish(published)


# One round trip takes the hall's numbers, writes the rows and queues the NOTIFY
# (sent by PostgreSQL on COMMIT): the hall row lock that orders events is then
# held for this statement and the COMMIT only, never across the event loop.
_PG_NUMBER_AND_NOTIFY = text(
    """
    WITH numbered AS (
        UPDATE halls SET event_seq = event_seq + :n WHERE id = :hall RETURNING event_seq
    ), written AS (
        INSERT INTO hall_events (hall_id, seq, type, payload, created_at)
        SELECT :hall, numbered.event_seq - :n + e.ord, e.type, CAST(e.payload AS json), :now
        FROM numbered,
             unnest(CAST(:types AS text[]), CAST(:payloads AS text[])) WITH ORDINALITY
                 AS e(type, payload, ord)
    )
    SELECT event_seq, pg_notify('jiaohao_events', CAST(:hall AS text) || ':' || event_seq)
    FROM numbered
    """
)


async def _number_and_notify_pg(
    session: AsyncSession, hall_id: int, items: list[tuple[str, dict[str, Any]]], now: datetime
) -> list[PublishedEvent]:
    last = (
        await session.execute(
            _PG_NUMBER_AND_NOTIFY,
            {
                "n": len(items),
                "hall": hall_id,
                "now": now,
                "types": [t for t, _ in items],
                "payloads": [json.dumps(p, ensure_ascii=False) for _, p in items],
            },
        )
    ).scalar_one()
    first = last - len(items) + 1
    return [PublishedEvent(hall_id, first + i, t, p, now) for i, (t, p) in enumerate(items)]


def discard(session: AsyncSession) -> None:
    """Forget staged events (the change was rolled back)."""
    session.info.pop(_STAGED, None)
