"""Windows taking tickets: the first still waiting in the policy's order, and on
PostgreSQL a ticket another window is taking at this moment is passed over at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select, text

from services.engine.core.db import utcnow
from services.engine.tickets import repository
from services.engine.tickets.models import Ticket
from tests.helpers.api import issue
from tests.helpers.halls import Hall


async def issued_ids(client: httpx.AsyncClient, hall: Hall, count: int) -> list[int]:
    return [(await issue(client, hall))["id"] for _ in range(count)]


def calling(window_id: int) -> dict[str, object]:
    return {"window_id": window_id, "staff_user_id": None, "called_at": utcnow()}


async def window_ids(app) -> list[int]:  # type: ignore[no-untyped-def]
    from services.engine.windows.models import Window

    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(Window.id).order_by(Window.number))).scalars())


async def test_the_first_candidate_still_waiting_is_taken_in_the_order_given(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    first, second, third = await issued_ids(client, hall, 3)
    windows = await window_ids(app)
    async with app.state.sessionmaker() as session:
        assert (
            await repository.claim_first_waiting(session, [third, first], calling(windows[0]))
            == third
        )
        # third is called now: the next in the order given that still waits.
        assert (
            await repository.claim_first_waiting(session, [third, first], calling(windows[1]))
            == first
        )
        assert (
            await repository.claim_first_waiting(session, [third, first], calling(windows[2]))
            is None
        )
        await session.commit()
    async with app.state.sessionmaker() as session:
        rows = dict((await session.execute(select(Ticket.id, Ticket.window_id))).all())
    assert rows == {first: windows[1], second: None, third: windows[0]}


async def waiting_on_a_lock(app) -> None:  # type: ignore[no-untyped-def]
    """Until the server shows a session of this database waiting for a row lock."""
    async with asyncio.timeout(10), app.state.sessionmaker() as watcher:
        while not (
            await watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        ).scalar_one():
            await watcher.rollback()  # a fresh snapshot of the activity view
            await asyncio.sleep(0.01)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_ticket_being_taken_by_another_window_is_passed_over_not_waited_for(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    first, second = await issued_ids(client, hall, 2)
    windows = await window_ids(app)
    async with app.state.sessionmaker() as taking, app.state.sessionmaker() as other:
        # Window 1 has taken the first ticket and not committed yet.
        assert await repository.claim_waiting(taking, first, calling(windows[0]))
        # Window 2 gets the second at once instead of queueing behind window 1.
        claimed = await asyncio.wait_for(
            repository.claim_first_waiting(other, [first, second], calling(windows[1])), 10
        )
        assert claimed == second
        # With wait (call-next's last look), a ticket being taken is waited for: the
        # answer is exact once window 1 commits, and it has nothing left to take.
        exact = asyncio.create_task(
            repository.claim_first_waiting(other, [first], calling(windows[1]), wait=True)
        )
        await waiting_on_a_lock(app)
        assert not exact.done()
        await taking.commit()
        assert await asyncio.wait_for(exact, 10) is None
        await other.commit()
    async with app.state.sessionmaker() as session:
        rows = dict((await session.execute(select(Ticket.id, Ticket.window_id))).all())
    assert rows == {first: windows[0], second: windows[1]}
