"""Concurrent bookings on PostgreSQL: real connections racing never oversell a slot."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.engine.bookings import rules
from services.engine.bookings import service as bookings
from services.engine.bookings.models import Booking, BookingSlot
from services.engine.core.db import make_engine, make_sessionmaker
from services.engine.halls.service import get_hall
from tests.helpers.bookings import BOOKING_HALL
from tests.helpers.halls import Hall

TZ = ZoneInfo("Asia/Shanghai")
PII_KEY = "test-pii-key-not-for-production"
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=TZ)
SLOT = datetime(2030, 1, 7, 10, 0, tzinfo=TZ)


def id_number(i: int) -> str:
    return f"1101051990010{i:04d}X"


async def race(url: str, hall_code: str, people: list[str], starts: list[datetime]) -> list[str]:
    """One task (with its own pooled connection) per request, released together."""
    engine = make_engine(url, pool_size=len(people))
    factory = make_sessionmaker(engine)
    gate = asyncio.Event()

    async def attempt(person: str, start: datetime) -> str:
        async with factory() as session:
            hall = await get_hall(session=session, code=hall_code)
            await session.commit()
            await gate.wait()
            try:
                await bookings.book(
                    session=session,
                    hall=hall,
                    service_code="business",
                    start=start,
                    id_number=person,
                    phone=None,
                    pii_key=PII_KEY,
                    partner_id=None,
                    now=NOW,
                )
            except (rules.SlotFull, rules.AlreadyBookedThatDay) as refused:
                return refused.code
            return "booked"

    # Open every connection first so the requests really overlap.
    async with engine.connect() as warm:
        await warm.close()
    tasks = [asyncio.create_task(attempt(p, s)) for p, s in zip(people, starts, strict=True)]
    await asyncio.sleep(0)
    gate.set()
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_thirty_citizens_race_for_the_last_places(
    database_url: str, app, bhall: Hall
) -> None:  # type: ignore[no-untyped-def]
    # Seven places a slot, two taken already: 30 citizens race for the last five.
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file

    text = BOOKING_HALL.read_text(encoding="utf-8").replace(
        "capacity_per_slot = 3", "capacity_per_slot = 7"
    )
    async with app.state.sessionmaker() as session:
        await apply_hall_file(session=session, spec=parse_hall_file(text))
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bhall.code)
        for i in (900, 901):
            await bookings.book(
                session=session,
                hall=hall,
                service_code="business",
                start=SLOT,
                id_number=id_number(i),
                phone=None,
                pii_key=PII_KEY,
                partner_id=None,
                now=NOW,
            )

    outcomes = await race(database_url, bhall.code, [id_number(i) for i in range(30)], [SLOT] * 30)
    assert outcomes.count("booked") == 5
    assert outcomes.count("slot_full") == 25
    async with app.state.sessionmaker() as session:
        slot = (await session.execute(select(BookingSlot))).scalar_one()
        count = (await session.execute(select(func.count()).select_from(Booking))).scalar_one()
    assert (slot.booked, slot.capacity, count) == (7, 7, 7)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_one_person_racing_for_several_slots_gets_one(
    database_url: str, app, bhall: Hall
) -> None:  # type: ignore[no-untyped-def]
    starts = [datetime(2030, 1, 7, 10 + i // 2, 30 * (i % 2), tzinfo=TZ) for i in range(10)]
    outcomes = await race(database_url, bhall.code, [id_number(1)] * 10, starts)
    assert outcomes.count("booked") == 1
    assert outcomes.count("already_booked_that_day") == 9
    async with app.state.sessionmaker() as session:
        slots = (await session.execute(select(BookingSlot))).scalars().all()
        count = (await session.execute(select(func.count()).select_from(Booking))).scalar_one()
    # Places taken by the refused requests were given back with their rollback.
    assert count == 1 and sum(s.booked for s in slots) == 1
