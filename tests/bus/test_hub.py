"""The hub: every hall event once, in order, whatever order it learns of them in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from services.engine.core.db import make_engine, make_sessionmaker
from services.engine.events import outbox
from services.engine.events.hub import EventHub, HubClosed, PublishedEvent
from services.engine.events.pg import PgListener, asyncpg_dsn
from services.engine.events.source import OutboxSource
from services.engine.halls.models import Hall as HallRow
from tests.bus.subscription import Overflow, subscribe

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def event(seq: int, hall_id: int = 1) -> PublishedEvent:
    return PublishedEvent(hall_id, seq, "ticket.called", {"number": f"A{seq:03d}"}, AT)


async def collect(sub: Any, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        seqs += [e.seq for e in await asyncio.wait_for(sub.wait(), 5)]
    return seqs


async def test_out_of_order_hand_over_is_delivered_in_order() -> None:
    hub = EventHub()
    sub = subscribe(hub, 1)
    other_hall = subscribe(hub, 2)
    hub.publish([event(12), event(11)])
    hub.publish([event(13), event(12), event(5, hall_id=2)])
    assert await collect(sub, 3) == [11, 12, 13]
    assert await collect(other_hall, 1) == [5]
    hub.publish([event(13)])  # a repeat (the local hand-over and a NOTIFY) is dropped
    hub.publish([event(14)])
    assert await collect(sub, 1) == [14]
    await hub.close()


async def test_a_full_buffer_cuts_the_subscriber_off_not_the_others() -> None:
    hub = EventHub()
    slow = subscribe(hub, 1, maxsize=2)
    fast = subscribe(hub, 1, maxsize=10)
    hub.publish([event(1), event(2), event(3)])
    await asyncio.wait_for(slow.ended.wait(), 5)
    with pytest.raises(Overflow):
        await slow.wait()
    assert await collect(fast, 3) == [1, 2, 3]
    assert hub.subscriber_count(1) == 1
    await hub.close()
    with pytest.raises(HubClosed):
        await fast.wait()
    with pytest.raises(HubClosed):
        subscribe(hub, 1)


async def _hall_id(sessionmaker: Any) -> int:
    async with sessionmaker() as session:
        hall = HallRow(code="hubhall", name="枢纽测试大厅", event_seq=0, hours={}, rules={})
        session.add(hall)
        await session.commit()
        return hall.id


async def _commit(sessionmaker: Any, hall_id: int, hub: EventHub | None) -> int:
    """Commit one event through the real outbox; hand it to ``hub`` only if given."""
    async with sessionmaker() as session:
        if hub is not None:
            session.info[outbox.HUB_KEY] = hub
        outbox.stage(session, hall_id, "ticket.called", {"number": "A001", "window": 1})
        [published] = await outbox.commit(session)
        return published.seq


async def test_gaps_are_filled_from_the_outbox(database_url: str) -> None:
    engine = make_engine(database_url)
    sessionmaker = make_sessionmaker(engine)
    hub = EventHub(OutboxSource(sessionmaker))
    try:
        hall_id = await _hall_id(sessionmaker)
        first = await _commit(sessionmaker, hall_id, None)
        sub = subscribe(hub, hall_id)
        assert await hub.position(hall_id) == first
        # Two commits of this process hand their events over in the wrong order:
        # the hub learns of seq+2 first and reads seq+1 from the outbox.
        missing = await _commit(sessionmaker, hall_id, None)
        later = await _commit(sessionmaker, hall_id, hub)
        assert (missing, later) == (first + 1, first + 2)
        assert await collect(sub, 2) == [missing, later]
        # Another process's commit, known only by its number (NOTIFY).
        remote = await _commit(sessionmaker, hall_id, None)
        hub.notify(hall_id, remote)
        assert await collect(sub, 1) == [remote]
        # A lost notification heals at the next resync.
        lost = await _commit(sessionmaker, hall_id, None)
        hub.resync()
        got = await asyncio.wait_for(sub.wait(), 5)
        assert [(e.seq, e.type, e.payload["number"]) for e in got] == [
            (lost, "ticket.called", "A001")
        ]
        sub.close()
        await hub.idle()
    finally:
        await hub.close()
        await engine.dispose()


async def test_notify_reaches_another_hub_and_survives_a_lost_listener(postgres_url: str) -> None:
    """Two hubs on one database: as two engine processes, through real LISTEN/NOTIFY."""
    from tests.helpers.db import empty_tables

    await empty_tables(postgres_url)
    engine = make_engine(postgres_url)
    sessionmaker = make_sessionmaker(engine)
    here, there = EventHub(OutboxSource(sessionmaker)), EventHub(OutboxSource(sessionmaker))
    listener = PgListener(asyncpg_dsn(postgres_url), there, max_backoff=0.5)
    try:
        hall_id = await _hall_id(sessionmaker)
        await listener.start()
        sub = subscribe(there, hall_id)
        assert await there.position(hall_id) == 0
        seq = await _commit(sessionmaker, hall_id, here)
        assert await collect(sub, 1) == [seq]
        assert listener.notifications >= 1

        # The listener's connection dies; what is committed meanwhile is announced to
        # nobody, and is delivered once the listener is back.
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'jiaohao-listener' AND datname = current_database()"
                )
            )
        await asyncio.wait_for(listener.disconnected.wait(), 10)
        unheard = await _commit(sessionmaker, hall_id, here)
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert await collect(sub, 1) == [unheard]
        # And live notifications flow again.
        again = await _commit(sessionmaker, hall_id, here)
        assert await collect(sub, 1) == [again]
        async with sessionmaker() as session:
            head = (
                await session.execute(select(HallRow.event_seq).where(HallRow.id == hall_id))
            ).scalar_one()
        assert head == again
    finally:
        await listener.stop()
        await here.close()
        await there.close()
        await engine.dispose()
