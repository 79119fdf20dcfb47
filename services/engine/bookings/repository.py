"""Loading and saving bookings, slot counters and booking settings. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.bookings.models import Booking, BookingConfig, BookingSlot
from services.engine.core.db import utcnow
from services.engine.tickets.states import TicketStatus


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "postgresql"


async def get_config(session: AsyncSession, hall_id: int) -> dict[str, Any]:
    row = await session.get(BookingConfig, hall_id)
    return dict(row.config) if row is not None else {}


async def save_config(session: AsyncSession, hall_id: int, config: dict[str, Any]) -> bool:
    """Store a hall's booking sections; True when they changed."""
    row = await session.get(BookingConfig, hall_id)
    if row is None:
        if not config.get("hall") and not config.get("services"):
            return False
        session.add(BookingConfig(hall_id=hall_id, config=config, updated_at=utcnow()))
        return True
    if row.config == config:
        return False
    row.config = config
    row.updated_at = utcnow()
    return True


async def take_place(
    session: AsyncSession,
    *,
    hall_id: int,
    service_id: int,
    slot_date: date,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
) -> bool:
    """Take one place of a slot, unless it is full.

    The upsert makes sure the counter row exists (and carries the configured
    capacity); the guarded increment then succeeds for at most ``capacity``
    bookings: on PostgreSQL concurrent increments wait on the row lock and
    re-check ``booked < capacity``; on SQLite writers are serialised.
    """
    ins = (postgresql if _dialect(session) == "postgresql" else sqlite).insert(BookingSlot)
    await session.execute(
        ins.values(
            hall_id=hall_id,
            service_id=service_id,
            slot_date=slot_date,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            booked=0,
        ).on_conflict_do_update(
            index_elements=["service_id", "starts_at"], set_={"capacity": capacity}
        )
    )
    result = await session.execute(
        update(BookingSlot)
        .where(
            BookingSlot.service_id == service_id,
            BookingSlot.starts_at == starts_at,
            BookingSlot.booked < BookingSlot.capacity,
        )
        .values(booked=BookingSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def give_back_place(session: AsyncSession, service_id: int, starts_at: datetime) -> None:
    await session.execute(
        update(BookingSlot)
        .where(
            BookingSlot.service_id == service_id,
            BookingSlot.starts_at == starts_at,
            BookingSlot.booked > 0,
        )
        .values(booked=BookingSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


async def booked_counts(
    session: AsyncSession, service_id: int, start: datetime, end: datetime
) -> dict[datetime, int]:
    rows = await session.execute(
        select(BookingSlot.starts_at, BookingSlot.booked).where(
            BookingSlot.service_id == service_id,
            BookingSlot.starts_at >= start,
            BookingSlot.starts_at < end,
        )
    )
    return {starts_at: int(booked) for starts_at, booked in rows.all()}


async def get_by_code(session: AsyncSession, hall_id: int, code: str) -> Booking | None:
    return (
        await session.execute(
            select(Booking).where(Booking.hall_id == hall_id, Booking.code == code)
        )
    ).scalar_one_or_none()


async def get_by_id(session: AsyncSession, hall_id: int, booking_id: int) -> Booking | None:
    return (
        await session.execute(
            select(Booking).where(Booking.hall_id == hall_id, Booking.id == booking_id)
        )
    ).scalar_one_or_none()


async def lock_booking(session: AsyncSession, booking_id: int) -> Booking | None:
    return (
        await session.execute(
            select(Booking)
            .where(Booking.id == booking_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def bookings_of_person(
    session: AsyncSession, hall_id: int, person_hash: str, *, statuses: Sequence[str] | None = None
) -> Sequence[Booking]:
    query = select(Booking).where(Booking.hall_id == hall_id, Booking.person_hash == person_hash)
    if statuses is not None:
        query = query.where(Booking.status.in_(list(statuses)))
    return (await session.execute(query.order_by(Booking.starts_at))).scalars().all()


async def person_holds_day(
    session: AsyncSession, hall_id: int, slot_date: date, person_hash: str
) -> Booking | None:
    return (
        await session.execute(
            select(Booking).where(
                Booking.hall_id == hall_id,
                Booking.slot_date == slot_date,
                Booking.person_day_key == person_hash,
            )
        )
    ).scalar_one_or_none()


async def no_show_times(
    session: AsyncSession, hall_id: int, person_hash: str, since: datetime
) -> list[datetime]:
    rows = await session.execute(
        select(Booking.starts_at).where(
            Booking.hall_id == hall_id,
            Booking.person_hash == person_hash,
            Booking.status == "no_show",
            Booking.starts_at >= since,
        )
    )
    return [r for (r,) in rows.all()]


async def lapsed_bookings(
    session: AsyncSession,
    *,
    started_before: datetime,
    hall_id: int | None = None,
    person_hash: str | None = None,
    limit: int = 500,
) -> Sequence[Booking]:
    """Booked (not checked in) bookings whose slot started before a time, oldest first."""
    query = select(Booking).where(Booking.status == "booked", Booking.starts_at < started_before)
    if hall_id is not None:
        query = query.where(Booking.hall_id == hall_id)
    if person_hash is not None:
        query = query.where(Booking.person_hash == person_hash)
    return (await session.execute(query.order_by(Booking.starts_at).limit(limit))).scalars().all()


async def day_bookings(
    session: AsyncSession,
    hall_id: int,
    day: date,
    *,
    service_id: int | None = None,
    status: str | None = None,
) -> Sequence[Booking]:
    query = select(Booking).where(Booking.hall_id == hall_id, Booking.slot_date == day)
    if service_id is not None:
        query = query.where(Booking.service_id == service_id)
    if status is not None:
        query = query.where(Booking.status == status)
    return (await session.execute(query.order_by(Booking.starts_at, Booking.id))).scalars().all()


async def code_taken(session: AsyncSession, hall_id: int, code: str) -> bool:
    return bool(
        (
            await session.execute(
                select(func.count())
                .select_from(Booking)
                .where(Booking.hall_id == hall_id, Booking.code == code)
            )
        ).scalar_one()
    )


async def booking_of_ticket(session: AsyncSession, ticket_id: int) -> Booking | None:
    return (
        await session.execute(select(Booking).where(Booking.ticket_id == ticket_id).limit(1))
    ).scalar_one_or_none()


async def waiting_partner_bookings(session: AsyncSession, hall_id: int) -> Sequence[Any]:
    """(booking, ticket) of checked-in partner bookings whose ticket still waits."""
    from services.engine.tickets.models import Ticket

    rows = await session.execute(
        select(Booking, Ticket)
        .join(Ticket, Ticket.id == Booking.ticket_id)
        .where(
            Booking.hall_id == hall_id,
            Booking.partner_id.is_not(None),
            Ticket.status == TicketStatus.WAITING.value,
        )
    )
    return rows.all()
