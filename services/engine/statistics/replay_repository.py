"""Reading what a replay needs beyond the reports' rows: appointments' booked slots. No
rules here."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.tickets.models import Ticket


async def appointment_slots(
    session: AsyncSession, hall_id: int, day: date
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """Each appointment ticket of the day: its booked slot (预约时段)."""
    rows = await session.execute(
        select(Ticket.id, Ticket.slot_starts_at, Ticket.slot_ends_at).where(
            Ticket.hall_id == hall_id,
            Ticket.business_date == day,
            Ticket.priority == "appointment",
        )
    )
    return {int(i): (a, b) for i, a, b in rows.all()}
