"""Loading and saving tickets. No rules here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.tickets.states import OPEN_STATUSES, TicketStatus


def _next_sequence_statement(dialect: Any) -> Any:
    return (
        dialect.insert(TicketCounter)
        .values(
            hall_id=bindparam("hall_id"),
            service_id=bindparam("service_id"),
            business_date=bindparam("day", type_=TicketCounter.business_date.type),
            last_sequence=1,
        )
        .on_conflict_do_update(
            index_elements=["hall_id", "service_id", "business_date"],
            set_={"last_sequence": TicketCounter.last_sequence + 1},
        )
        .returning(TicketCounter.last_sequence)
    )


# Built once per dialect: taken on every issue.
_NEXT_SEQUENCE = {
    "postgresql": _next_sequence_statement(postgresql),
    "sqlite": _next_sequence_statement(sqlite),
}


async def next_sequence(session: AsyncSession, hall_id: int, service_id: int, day: date) -> int:
    """Take the next number for a service's day; the counter row lock serialises issuers."""
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    result = await session.execute(
        _NEXT_SEQUENCE[dialect], {"hall_id": hall_id, "service_id": service_id, "day": day}
    )
    return int(result.scalar_one())


async def count_issued_between(
    session: AsyncSession, service_id: int, start: datetime, end: datetime
) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Ticket)
                .where(
                    Ticket.origin_service_id == service_id,
                    Ticket.transferred_from_id.is_(None),
                    Ticket.issued_at >= start,
                    Ticket.issued_at < end,
                )
            )
        ).scalar_one()
    )


async def open_ticket_of_person(
    session: AsyncSession, hall_id: int, service_id: int, person_hash: str
) -> Ticket | None:
    return (
        await session.execute(
            select(Ticket)
            .where(
                Ticket.hall_id == hall_id,
                Ticket.service_id == service_id,
                Ticket.person_hash == person_hash,
                Ticket.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def get_ticket(session: AsyncSession, hall_id: int, ticket_id: int) -> Ticket | None:
    return (
        await session.execute(
            select(Ticket).where(Ticket.id == ticket_id, Ticket.hall_id == hall_id)
        )
    ).scalar_one_or_none()


async def get_ticket_for_update(
    session: AsyncSession, hall_id: int, ticket_id: int
) -> Ticket | None:
    return (
        await session.execute(
            select(Ticket)
            .where(Ticket.id == ticket_id, Ticket.hall_id == hall_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def waiting_ahead(session: AsyncSession, ticket: Ticket) -> int:
    """Waiting tickets of the same service queued before this one."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Ticket)
                .where(
                    Ticket.hall_id == ticket.hall_id,
                    Ticket.service_id == ticket.service_id,
                    Ticket.status == TicketStatus.WAITING.value,
                    or_(
                        Ticket.queued_at < ticket.queued_at,
                        and_(Ticket.queued_at == ticket.queued_at, Ticket.id < ticket.id),
                    ),
                )
            )
        ).scalar_one()
    )


# Built once: hot statements skip expression building and cache-key work per call.
_WAITING_COUNT = (
    select(func.count())
    .select_from(Ticket)
    .where(
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.service_id == bindparam("service_id"),
        Ticket.status == TicketStatus.WAITING.value,
    )
)


async def waiting_count(session: AsyncSession, hall_id: int, service_id: int) -> int:
    """Waiting tickets of one service."""
    result = await session.execute(_WAITING_COUNT, {"hall_id": hall_id, "service_id": service_id})
    return int(result.scalar_one())


async def waiting_counts(session: AsyncSession, hall_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(Ticket.service_id, func.count())
        .where(Ticket.hall_id == hall_id, Ticket.status == TicketStatus.WAITING.value)
        .group_by(Ticket.service_id)
    )
    return {int(service_id): int(count) for service_id, count in rows.all()}


async def queue_heads(
    session: AsyncSession,
    *,
    hall_id: int,
    service_ids: Iterable[int],
    window_id: int,
    per_group: int = 5,
) -> Sequence[Any]:
    """The first few waiting tickets of each service x priority class a window may call."""
    service_ids = list(service_ids)
    eligible = or_(
        and_(Ticket.service_id.in_(service_ids), Ticket.target_window_id.is_(None)),
        Ticket.target_window_id == window_id,
    )
    ranked = (
        select(
            Ticket.id,
            Ticket.service_id,
            Ticket.priority,
            Ticket.queued_at,
            Ticket.target_window_id,
            func.row_number()
            .over(
                partition_by=(Ticket.service_id, Ticket.priority, Ticket.target_window_id),
                order_by=(Ticket.queued_at, Ticket.id),
            )
            .label("rank"),
        )
        .where(Ticket.hall_id == hall_id, Ticket.status == TicketStatus.WAITING.value, eligible)
        .subquery()
    )
    return (
        await session.execute(
            select(
                ranked.c.id,
                ranked.c.service_id,
                ranked.c.priority,
                ranked.c.queued_at,
                ranked.c.target_window_id,
            ).where(ranked.c.rank <= per_group)
        )
    ).all()


async def claim_waiting(session: AsyncSession, ticket_id: int, values: dict[str, Any]) -> bool:
    """Guarded update: take a ticket only if it is still waiting (two windows never share one)."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == TicketStatus.WAITING.value)
        .values(status=TicketStatus.CALLED.value, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def nth_waiting_queued_at(
    session: AsyncSession, ticket: Ticket, places: int
) -> datetime | None:
    """When the ``places``-th waiting ticket of the same service and class was queued."""
    rows = (
        (
            await session.execute(
                select(Ticket.queued_at)
                .where(
                    Ticket.hall_id == ticket.hall_id,
                    Ticket.service_id == ticket.service_id,
                    Ticket.priority == ticket.priority,
                    Ticket.status == TicketStatus.WAITING.value,
                    Ticket.id != ticket.id,
                )
                .order_by(Ticket.queued_at, Ticket.id)
                .limit(places)
            )
        )
        .scalars()
        .all()
    )
    return rows[-1] if rows else None


def log_event(
    session: AsyncSession,
    ticket: Ticket,
    *,
    action: str,
    from_status: str | None,
    actor: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            hall_id=ticket.hall_id,
            at=at,
            action=action,
            from_status=from_status,
            to_status=ticket.status,
            actor=actor,
            window_id=ticket.window_id,
            detail=detail or {},
        )
    )


async def events_of(session: AsyncSession, ticket_id: int) -> Sequence[TicketEvent]:
    return (
        (
            await session.execute(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
        )
        .scalars()
        .all()
    )


async def issued_counts(session: AsyncSession, hall_id: int, day: date) -> dict[int, int]:
    """Numbers handed out today per service (from the counters)."""
    rows = await session.execute(
        select(TicketCounter.service_id, TicketCounter.last_sequence).where(
            TicketCounter.hall_id == hall_id, TicketCounter.business_date == day
        )
    )
    return {int(s): int(n) for s, n in rows.all()}


async def tickets_of_day_with_sequence(
    session: AsyncSession, hall_id: int, day: date, sequence: int
) -> Sequence[Ticket]:
    """A business day's tickets holding a sequence number (any service), oldest first."""
    return (
        (
            await session.execute(
                select(Ticket)
                .where(
                    Ticket.hall_id == hall_id,
                    Ticket.business_date == day,
                    Ticket.sequence == sequence,
                )
                .order_by(Ticket.id)
            )
        )
        .scalars()
        .all()
    )
