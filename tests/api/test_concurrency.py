"""Two kiosks never get the same number; two windows never call the same ticket.

Two apps with their own connection pools stand in for two engine processes
on one database, so the guarantees rest on the database, not on one process.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from services.engine.tickets.models import Ticket, TicketEvent
from tests.helpers.api import API
from tests.helpers.app import app_for, serving
from tests.helpers.halls import Hall

ISSUES = 300
CALLS = 100


@pytest.fixture
async def second_client(database_url: str):  # type: ignore[no-untyped-def]
    """A client of a second engine app (another process) on the same database."""
    async with serving(app_for(database_url), base_url="http://b") as http:
        yield http


async def test_concurrent_issue_and_call(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    hall: Hall,
    app,
    database_url: str,  # type: ignore[no-untyped-def]
) -> None:
    clients = (client, second_client)

    async def issue(i: int) -> dict:
        response = await clients[i % 2].post(
            f"{API}/{hall.code}/tickets",
            json={"service": "business", "priority": "priority" if i % 5 == 0 else "normal"},
            # Priority tickets come from the guide desk (导办台), the others from kiosks.
            headers=hall.h("staff" if i % 5 == 0 else "kiosk"),
        )
        assert response.status_code == 201, response.text
        return response.json()

    issued = await asyncio.gather(*(issue(i) for i in range(ISSUES)))
    numbers = [t["number"] for t in issued]
    assert len(set(numbers)) == ISSUES
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, ISSUES + 1)]

    windows = (1, 2, 3)
    for number in windows:
        opened = await client.post(
            f"{API}/{hall.code}/windows/{number}/open", headers=hall.h("manager")
        )
        assert opened.status_code == 200

    async def call(i: int) -> int:
        response = await clients[i % 2].post(
            f"{API}/{hall.code}/windows/{windows[i % len(windows)]}/call-next",
            headers=hall.h("gateway"),
        )
        assert response.status_code == 200, response.text
        return int(response.json()["ticket"]["id"])

    called = await asyncio.gather(*(call(i) for i in range(CALLS)))
    assert len(set(called)) == CALLS, "a ticket was handed to two calls"

    async with app.state.sessionmaker() as session:
        calls_per_ticket = Counter(
            (
                await session.execute(
                    select(TicketEvent.ticket_id).where(TicketEvent.action == "call")
                )
            ).scalars()
        )
        waiting = (
            await session.execute(
                select(func.count()).select_from(Ticket).where(Ticket.status == "waiting")
            )
        ).scalar_one()
        in_hand = (
            await session.execute(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.status.in_(["called", "serving"]))
            )
        ).scalar_one()
    assert max(calls_per_ticket.values()) == 1
    assert sum(calls_per_ticket.values()) == CALLS
    # Every call took one ticket off the queue; each window holds at most one.
    assert waiting == ISSUES - CALLS
    assert in_hand == len(windows)
