"""Issuing a batch of tickets in one transaction (group commit), on both databases.

Each request of a batch gets its own ticket or its own refusal; numbers stay
gap-free; places and events are what one-by-one issuing would have given.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from services.engine.core.errors import DuplicateOpenTicket, NotFound, QuotaExhausted
from services.engine.events import outbox
from services.engine.events.models import HallEvent
from services.engine.halls.service import get_hall
from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.tickets.service import (
    IssuedTicket,
    IssueRequest,
    issue_batch_uncommitted,
)
from services.engine.tickets.states import PriorityClass, TicketSource
from tests.conftest import Hall

API = "/api/v1/halls"


def kiosk(
    service: str, priority: PriorityClass = PriorityClass.NORMAL, **kw: object
) -> IssueRequest:
    return IssueRequest(
        service_code=service, priority=priority, source=TicketSource.KIOSK, actor="kiosk", **kw
    )


async def write_batch(app, code: str, requests: list[IssueRequest]):  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=code)
        outcomes = await issue_batch_uncommitted(session=session, hall=hall, requests=requests)
        await outbox.commit(session)
    return outcomes


async def test_each_request_of_a_batch_gets_its_own_outcome(app, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    # estate takes 3 tickets a day; a person may hold one open ticket per service.
    outcomes = await write_batch(
        app,
        hall.code,
        [
            kiosk("estate"),
            kiosk("business"),
            kiosk("nosuch"),
            kiosk("estate", person_hash="p1"),
            kiosk("estate", person_hash="p1"),  # the same person again, in the same batch
            kiosk("estate"),
            kiosk("estate"),  # over the quota
            kiosk("business", PriorityClass.GREEN),
        ],
    )
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "IssuedTicket",
        "IssuedTicket",
        "NotFound",
        "IssuedTicket",
        "DuplicateOpenTicket",
        "IssuedTicket",
        "QuotaExhausted",
        "IssuedTicket",
    ]
    issued = [o for o in outcomes if isinstance(o, IssuedTicket)]
    assert [t.ticket.number for t in issued] == ["B001", "A001", "B002", "B003", "A002"]
    duplicate = outcomes[4]
    assert isinstance(duplicate, DuplicateOpenTicket)
    assert duplicate.extra["ticket_id"] == outcomes[3].ticket.id  # type: ignore[union-attr]
    assert "B002" in duplicate.detail
    assert isinstance(outcomes[2], NotFound)
    assert isinstance(outcomes[6], QuotaExhausted)
    # Places as one-by-one issuing gives them: the green ticket goes before A001.
    assert [(t.waiting_ahead, t.position) for t in issued] == [
        (0, 0),
        (0, 0),
        (1, 1),
        (2, 2),
        (1, 0),
    ]

    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Ticket.id, Ticket.number, Ticket.person_hash).order_by(Ticket.id)
            )
        ).all()
        assert [r.number for r in rows] == ["B001", "A001", "B002", "B003", "A002"]
        assert [r.id for r in rows] == [t.ticket.id for t in issued]
        logged = (await session.execute(select(TicketEvent.ticket_id, TicketEvent.action))).all()
        assert sorted(logged) == sorted((t.ticket.id, "issue") for t in issued)
        counters = dict(
            (
                await session.execute(select(TicketCounter.service_id, TicketCounter.last_sequence))
            ).all()
        )
        assert sorted(counters.values()) == [2, 3], "refused requests gave their numbers back"
        events = (
            await session.execute(select(HallEvent.type, HallEvent.payload).order_by(HallEvent.seq))
        ).all()
    assert [e.type for e in events if e.type == "ticket.issued"] == ["ticket.issued"] * 5
    assert [e.payload["number"] for e in events if e.type == "ticket.issued"] == [
        "B001",
        "A001",
        "B002",
        "B003",
        "A002",
    ]
    changed = {
        e.payload["service"]: e.payload["waiting"] for e in events if e.type == "queue.changed"
    }
    assert changed == {"estate": 3, "business": 2}


async def test_a_batch_continues_numbers_and_places_after_earlier_tickets(app, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    first = await write_batch(
        app, hall.code, [kiosk("business"), kiosk("business", person_hash="p")]
    )
    assert [o.ticket.number for o in first] == ["A001", "A002"]  # type: ignore[union-attr]
    second = await write_batch(
        app,
        hall.code,
        [
            kiosk("business", person_hash="p"),
            kiosk("business"),
            kiosk("business", PriorityClass.PRIORITY),
        ],
    )
    assert isinstance(second[0], DuplicateOpenTicket)
    assert second[0].extra["ticket_id"] == first[1].ticket.id  # type: ignore[union-attr]
    assert [o.ticket.number for o in second[1:]] == ["A003", "A004"]  # type: ignore[union-attr]
    # 前方还有N人: the favoured ticket goes before the three normal ones already waiting.
    assert [(o.waiting_ahead, o.position) for o in second[1:]] == [(2, 2), (3, 0)]  # type: ignore[union-attr]


async def test_a_batch_of_only_refusals_writes_nothing(app, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        events_before = (await session.execute(select(HallEvent.seq))).all()
    outcomes = await write_batch(app, hall.code, [kiosk("nosuch"), kiosk("night")])
    assert [o.code for o in outcomes] == ["not_found", "outside_service_hours"]  # type: ignore[union-attr]
    async with app.state.sessionmaker() as session:
        assert (await session.execute(select(Ticket.id))).all() == []
        assert (await session.execute(select(TicketCounter.service_id))).all() == []
        assert (await session.execute(select(HallEvent.seq))).all() == events_before


async def test_kiosks_issuing_at_once_share_batches_and_each_gets_its_answer(
    client: httpx.AsyncClient, hall: Hall, app
) -> None:  # type: ignore[no-untyped-def]
    async def issue(service: str) -> httpx.Response:
        return await client.post(
            f"{API}/{hall.code}/tickets", json={"service": service}, headers=hall.h("kiosk")
        )

    answers = await asyncio.gather(
        *(issue("estate" if i % 4 == 0 else "business") for i in range(40))
    )
    estate = [a for i, a in enumerate(answers) if i % 4 == 0]
    business = [a for i, a in enumerate(answers) if i % 4]
    assert sorted(a.json()["number"] for a in business) == [f"A{n:03d}" for n in range(1, 31)]
    assert sorted(a.status_code for a in estate) == [201] * 3 + [409] * 7
    refused = [a.json() for a in estate if a.status_code == 409]
    assert {r["code"] for r in refused} == {"quota_exhausted"}
    assert all(
        a.headers["content-type"] == "application/problem+json"
        for a in estate
        if a.status_code == 409
    )
    # Every answer is the ticket the database holds.
    async with app.state.sessionmaker() as session:
        held = dict((await session.execute(select(Ticket.id, Ticket.number))).all())
    assert {a.json()["id"]: a.json()["number"] for a in answers if a.status_code == 201} == held
