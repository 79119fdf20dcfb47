"""Reading a period's raw rows for the reports. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.tickets.models import Ticket, TicketEvent
from services.engine.windows.models import WindowLogEntry


async def tickets_of_days(
    session: AsyncSession, hall_id: int, first: date, last: date
) -> Sequence[Any]:
    """The hall's tickets of business days first..last, with the moment of the CALL that
    served each (its last CALL; recalls and call-backs are not new calls) and whether it
    was ever held."""
    in_days = and_(
        Ticket.hall_id == hall_id, Ticket.business_date >= first, Ticket.business_date <= last
    )
    calls = (
        select(TicketEvent.ticket_id, func.max(TicketEvent.at).label("served_call_at"))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(in_days, TicketEvent.action == "call")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    holds = (
        select(TicketEvent.ticket_id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(in_days, TicketEvent.action == "hold")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    query = (
        select(
            Ticket.id,
            Ticket.service_id,
            Ticket.window_id,
            Ticket.staff_user_id,
            Ticket.priority,
            Ticket.source,
            Ticket.status,
            Ticket.issued_at,
            calls.c.served_call_at,
            Ticket.called_at,
            Ticket.started_at,
            Ticket.finished_at,
            Ticket.closed_at,
            Ticket.held_seconds,
            Ticket.outcome,
            Ticket.transferred_from_id,
            holds.c.ticket_id.label("held_id"),
        )
        .outerjoin(calls, calls.c.ticket_id == Ticket.id)
        .outerjoin(holds, holds.c.ticket_id == Ticket.id)
        .where(in_days)
        .order_by(Ticket.id)
    )
    return (await session.execute(query)).all()


async def window_log_between(
    session: AsyncSession, hall_id: int, start: datetime, end: datetime
) -> Sequence[WindowLogEntry]:
    """The window log of [start, end), and before it, for each window, the entries that
    say what state it was in and who was signed in when the period began."""
    # A clerk signed in before the period and still there: their sign-in, too.
    signed = (
        select(WindowLogEntry.window_id, func.max(WindowLogEntry.id).label("last_id"))
        .where(
            WindowLogEntry.hall_id == hall_id,
            WindowLogEntry.at < start,
            WindowLogEntry.action.in_(("sign_in", "sign_out")),
        )
        .group_by(WindowLogEntry.window_id)
        .subquery()
    )
    sign_ins = (
        (
            await session.execute(
                select(WindowLogEntry)
                .join(signed, signed.c.last_id == WindowLogEntry.id)
                .where(WindowLogEntry.action == "sign_in")
            )
        )
        .scalars()
        .all()
    )
    # The state before the period: the last open/close/pause/resume.
    state = (
        select(WindowLogEntry.window_id, func.max(WindowLogEntry.id).label("last_id"))
        .where(
            WindowLogEntry.hall_id == hall_id,
            WindowLogEntry.at < start,
            WindowLogEntry.action.in_(("open", "close", "pause", "resume")),
        )
        .group_by(WindowLogEntry.window_id)
        .subquery()
    )
    states = (
        (
            await session.execute(
                select(WindowLogEntry).join(state, state.c.last_id == WindowLogEntry.id)
            )
        )
        .scalars()
        .all()
    )
    during = (
        (
            await session.execute(
                select(WindowLogEntry)
                .where(
                    WindowLogEntry.hall_id == hall_id,
                    WindowLogEntry.at >= start,
                    WindowLogEntry.at < end,
                )
                .order_by(WindowLogEntry.at, WindowLogEntry.id)
            )
        )
        .scalars()
        .all()
    )
    seen: dict[int, WindowLogEntry] = {}
    for entry in [*sign_ins, *states]:
        seen[entry.id] = entry
    return [*sorted(seen.values(), key=lambda e: (e.at, e.id)), *during]
