"""Issuing a batch of tickets in one transaction (group commit), on both databases.

Each request of a batch gets its own ticket or its own refusal; numbers stay
gap-free; places and events are what one-by-one issuing would have given.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from services.engine.core import group_commit
from services.engine.core.errors import DuplicateOpenTicket, NotFound, QuotaExhausted
from services.engine.events import outbox
from services.engine.events.models import HallEvent
from services.engine.halls.service import get_hall
from services.engine.tickets import service as tickets_service
from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.tickets.service import (
    IssuedTicket,
    IssueRequest,
    issue_batch_uncommitted,
)
from services.engine.tickets.states import PriorityClass, TicketSource
from tests.helpers.api import API
from tests.helpers.halls import TEST_HALL, Hall, seed_hall
from tests.helpers.waiting import until


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
    assert [t.ahead for t in issued] == [0, 0, 1, 2, 0]

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
    assert [o.ahead for o in second[1:]] == [2, 0]  # type: ignore[union-attr]


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
    client: httpx.AsyncClient, hall: Hall, app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # The first batch is held until more kiosks queue behind it, as they do while a
    # commit is in flight at a busy bank (without it, on SQLite the requests could
    # arrive one after another and prove nothing about batching).
    real_batch = tickets_service.issue_batch_uncommitted
    held = False

    async def first_batch_in_flight(**kwargs):  # type: ignore[no-untyped-def]
        nonlocal held
        if not held:
            held = True
            line = group_commit._lines.get()[("issue", kwargs["hall"].id)]
            await until(lambda: len(line.waiting) >= 5, what="kiosks queued behind a batch")
        return await real_batch(**kwargs)

    monkeypatch.setattr(tickets_service, "issue_batch_uncommitted", first_batch_in_flight)

    async def issue(i: int) -> httpx.Response:
        return await client.post(
            f"{API}/{hall.code}/tickets",
            # A phone number of its own: each answer must be this request's own ticket.
            json={"service": "estate" if i % 4 == 0 else "business", "phone": f"1380000{i:04d}"},
            headers=hall.h("kiosk"),
        )

    answers = await asyncio.gather(*(issue(i) for i in range(40)))
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
    for i, answer in enumerate(answers):
        if answer.status_code == 201:
            assert answer.json()["phone_tail"] == f"{i:04d}"
    # Every answer is the ticket the database holds.
    async with app.state.sessionmaker() as session:
        held = dict((await session.execute(select(Ticket.id, Ticket.number))).all())
        tails = dict((await session.execute(select(Ticket.id, Ticket.phone_tail))).all())
        # Tickets of one batch are written by one commit: fewer commits than tickets.
        commits = (
            await session.execute(
                select(func.count(func.distinct(HallEvent.created_at))).where(
                    HallEvent.type == "ticket.issued"
                )
            )
        ).scalar_one()
    created = {a.json()["id"]: a.json() for a in answers if a.status_code == 201}
    assert {i: t["number"] for i, t in created.items()} == held
    assert {i: t["phone_tail"] for i, t in created.items()} == tails
    assert commits < len(created), "kiosks issuing at once were not written together"


async def period_quota_hall(app, client: httpx.AsyncClient, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """The test hall under another code with a service of 2 tickets per time window."""
    text = TEST_HALL.read_text(encoding="utf-8") + (
        '\n[[services]]\ncode = "permit"\nname = "许可"\nprefix = "P"\n'
        '[[services.period_quotas]]\nhours = "00:00-24:00"\nlimit = 2\n'
    )
    hall_file = tmp_path / "quota-hall.toml"
    hall_file.write_text(text, encoding="utf-8")
    return (await seed_hall(app, client, hall_file, other_code="quotahall")).code


async def test_a_refused_duplicate_takes_no_place_of_a_time_window_quota(
    app, client: httpx.AsyncClient, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    code = await period_quota_hall(app, client, tmp_path)
    outcomes = await write_batch(
        app,
        code,
        [
            kiosk("permit", person_hash="p"),
            kiosk("permit", person_hash="p"),  # refused as a duplicate: no place taken
            kiosk("permit"),
            kiosk("permit"),  # the window's 2 places are gone
        ],
    )
    assert [type(o).__name__ for o in outcomes] == [
        "IssuedTicket",
        "DuplicateOpenTicket",
        "IssuedTicket",
        "QuotaExhausted",
    ]
    assert [o.ticket.number for o in outcomes if isinstance(o, IssuedTicket)] == ["P001", "P002"]
    # The window is full now, for the holder as for anyone (quotas are checked first).
    again = await write_batch(app, code, [kiosk("permit", person_hash="p"), kiosk("permit")])
    assert [o.code for o in again] == ["quota_exhausted", "quota_exhausted"]  # type: ignore[union-attr]
