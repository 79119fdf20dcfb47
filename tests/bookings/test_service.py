"""Booking use cases at chosen times, on both databases: windows, cutoffs, no-shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.engine.auth.permissions import Principal
from services.engine.bookings import rules
from services.engine.bookings import service as bookings
from services.engine.bookings.models import Booking, BookingSlot
from services.engine.halls.service import get_hall
from services.engine.tickets.models import Ticket
from tests.helpers.bookings import BOOKING_HALL
from tests.helpers.halls import Hall

TZ = ZoneInfo("Asia/Shanghai")
PII_KEY = "test-pii-key-not-for-production"
IDS = ["11010519491231002X", "110105194912310037", "440301199001011234"]


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in January 2030, hall time (the 7th is a Monday)."""
    return datetime(2030, 1, day, hour, minute, second, tzinfo=TZ)


class Desk:
    """Calls the booking use cases with fresh sessions, as requests would."""

    def __init__(self, app, code: str) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.code = code

    async def book(
        self, id_number: str, start: datetime, now: datetime, service: str = "business"
    ) -> Booking:
        async with self.app.state.sessionmaker() as session:
            hall = await get_hall(session=session, code=self.code)
            booking, _ = await bookings.book(
                session=session,
                hall=hall,
                service_code=service,
                start=start,
                id_number=id_number,
                phone=None,
                pii_key=PII_KEY,
                partner_id=None,
                now=now,
            )
            return booking

    async def check_in(
        self, booking: Booking, now: datetime, by_id_card: str | None = None
    ) -> bookings.CheckedIn:
        """By the booking's code (its QR), or by the ID card the citizen shows."""
        async with self.app.state.sessionmaker() as session:
            hall = await get_hall(session=session, code=self.code)
            kiosk = Principal(kind="device", id=1, role="kiosk", hall_id=hall.id, name="kiosk")
            return await bookings.check_in(
                session=session,
                hall=hall,
                principal=kiosk,
                pii_key=PII_KEY,
                code=None if by_id_card else booking.code,
                id_number=by_id_card,
                now=now,
            )

    async def cancel(self, booking: Booking, now: datetime) -> Booking:
        async with self.app.state.sessionmaker() as session:
            hall = await get_hall(session=session, code=self.code)
            cancelled, _ = await bookings.cancel(
                session=session, hall=hall, booking_id=booking.id, by_citizen=True, now=now
            )
            return cancelled

    async def sweep(self, now: datetime) -> int:
        async with self.app.state.sessionmaker() as session:
            return await bookings.sweep_no_shows(session=session, now=now)

    async def excuse(self, booking: Booking) -> None:
        async with self.app.state.sessionmaker() as session:
            hall = await get_hall(session=session, code=self.code)
            await bookings.excuse_no_show(session=session, hall=hall, booking_id=booking.id)

    async def booking(self, booking_id: int) -> Booking:
        async with self.app.state.sessionmaker() as session:
            return (
                await session.execute(select(Booking).where(Booking.id == booking_id))
            ).scalar_one()


@pytest.fixture
def desk(app, bhall: Hall) -> Desk:  # type: ignore[no-untyped-def]
    return Desk(app, bhall.code)


async def test_check_in_window_edges(desk: Desk, app) -> None:  # type: ignore[no-untyped-def]
    early = await desk.book(IDS[0], at(7, 10), now=at(7, 8))
    with pytest.raises(rules.CheckInTooEarly) as refused:
        await desk.check_in(early, now=at(7, 9, 14, 59))
    assert "09:15" in refused.value.detail
    done = await desk.check_in(early, now=at(7, 9, 15))
    assert done.issued.ticket.priority == "appointment" and done.booking.status == "checked_in"

    on_the_edge = await desk.book(IDS[1], at(7, 10), now=at(7, 8))
    await desk.check_in(on_the_edge, now=at(7, 10, 15))  # 15 minutes late: still in

    late = await desk.book(IDS[2], at(7, 10), now=at(7, 8))
    with pytest.raises(rules.CheckInTooLate):
        await desk.check_in(late, now=at(7, 10, 15, 1))
    assert (await desk.booking(late.id)).status == "booked"  # a refusal changes nothing
    async with app.state.sessionmaker() as session:
        tickets = (await session.execute(select(Ticket))).scalars().all()
    assert len(tickets) == 2 and {t.source for t in tickets} == {"booking"}


async def test_check_in_by_id_card_before_midnight_for_a_place_at_midnight(desk: Desk) -> None:
    """A hall open around the clock: a place at 00:00 is checked in by ID card at 23:30
    (its arrival window opened at 23:15 the day before), as by its QR code."""
    booking = await desk.book(IDS[0], at(8, 0), now=at(7, 20))
    with pytest.raises(rules.CheckInTooEarly):
        await desk.check_in(booking, now=at(7, 23, 14), by_id_card=IDS[0])
    done = await desk.check_in(booking, now=at(7, 23, 30), by_id_card=IDS[0])
    assert done.booking.id == booking.id and done.booking.status == "checked_in"


async def test_check_in_before_the_hall_opens_still_issues(app, client, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    """A place booked at 09:00 in a hall opening at 09:00 can be checked in at 08:40."""
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file

    text = BOOKING_HALL.read_text(encoding="utf-8").replace('"00:00-24:00"', '"09:00-12:00"')
    async with app.state.sessionmaker() as session:
        report = await apply_hall_file(session=session, spec=parse_hall_file(text))
    assert report.changed
    booking = await desk.book(IDS[0], at(7, 9), now=at(6, 20))
    done = await desk.check_in(booking, now=at(7, 8, 40))
    assert done.issued.ticket.number == "A001"


async def test_cancel_cutoff_and_place_given_back(desk: Desk, app) -> None:  # type: ignore[no-untyped-def]
    first = await desk.book(IDS[0], at(7, 10), now=at(7, 7))
    with pytest.raises(rules.CancelTooLate):
        await desk.cancel(first, now=at(7, 8))
    cancelled = await desk.cancel(first, now=at(7, 7, 59, 59))
    assert cancelled.status == "cancelled" and cancelled.person_day_key is None
    async with app.state.sessionmaker() as session:
        slot = (await session.execute(select(BookingSlot))).scalar_one()
    assert (slot.booked, slot.capacity) == (0, 3)
    # The same person may book that day again.
    await desk.book(IDS[0], at(7, 11), now=at(7, 8))


async def test_booking_not_yet_released_and_past_slots(desk: Desk) -> None:
    with pytest.raises(rules.BookingClosed):  # 8 days ahead
        await desk.book(IDS[0], at(15, 10), now=at(7, 10))
    await desk.book(IDS[0], at(14, 10), now=at(7, 10))
    with pytest.raises(rules.BookingClosed):
        await desk.book(IDS[1], at(7, 9, 30), now=at(7, 10))


async def test_no_shows_suspend_booking(desk: Desk) -> None:
    person = IDS[0]
    missed = []
    for day in (7, 8, 9):
        missed.append(await desk.book(person, at(day, 10), now=at(day, 8)))
        if day < 9:
            # The sweep marks a booking once its arrival window has closed, not before.
            assert await desk.sweep(now=at(day, 10, 15)) == 0
            assert await desk.sweep(now=at(day, 10, 15, 1)) == 1
    assert [(await desk.booking(b.id)).status for b in missed[:2]] == ["no_show", "no_show"]
    # The third no-show is noticed when the person books again, even before any sweep.
    with pytest.raises(rules.BookingSuspended) as refused:
        await desk.book(person, at(10, 10), now=at(9, 11))
    assert refused.value.status == 403
    until = datetime.fromisoformat(refused.value.extra["until"])
    assert until == at(9, 10) + timedelta(days=30)
    assert "2030-02-08 10:00" in refused.value.detail
    # The refusal wrote nothing; the sweep records the third no-show.
    assert (await desk.booking(missed[2].id)).status == "booked"
    assert await desk.sweep(now=at(9, 11)) == 1
    assert (await desk.booking(missed[2].id)).status == "no_show"
    # Someone else is not affected.
    await desk.book(IDS[1], at(10, 10), now=at(9, 11))
    # A manager excuses one no-show: the person may book again.
    await desk.excuse(missed[0])
    await desk.book(person, at(10, 10), now=at(9, 11))


async def test_checked_in_bookings_are_never_no_shows(desk: Desk) -> None:
    booking = await desk.book(IDS[0], at(7, 10), now=at(7, 8))
    await desk.check_in(booking, now=at(7, 9, 45))
    assert await desk.sweep(now=at(8, 12)) == 0
    assert (await desk.booking(booking.id)).status == "checked_in"
