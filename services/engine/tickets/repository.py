"""Loading and saving tickets. No rules here."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Date,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.tickets.states import (
    FAVOURED,
    OPEN_STATUSES,
    PriorityClass,
    TicketAction,
    TicketStatus,
    next_status,
)

_TICKETS = cast(Table, Ticket.__table__)


@functools.cache  # built once per number of service-days: taken on every issue
def _take_sequences_statement(groups: int) -> Any:
    # Plain SQL (the same on PostgreSQL and SQLite): the construct form of an
    # upsert has no cache key, so it was compiled afresh on every issue.
    rows = ", ".join(f"(:hall_id, :service_{i}, :day_{i}, :count_{i})" for i in range(groups))
    return (
        text(
            "INSERT INTO ticket_counters (hall_id, service_id, business_date, last_sequence)"
            f" VALUES {rows}"
            " ON CONFLICT (hall_id, service_id, business_date)"
            " DO UPDATE SET last_sequence = ticket_counters.last_sequence + excluded.last_sequence"
            " RETURNING service_id, business_date, last_sequence"
        )
        .bindparams(*(bindparam(f"day_{i}", type_=Date) for i in range(groups)))
        .columns(TicketCounter.service_id, TicketCounter.business_date, TicketCounter.last_sequence)
    )


async def take_sequences(
    session: AsyncSession, hall_id: int, wanted: Sequence[tuple[int, date, int]]
) -> dict[tuple[int, date], int]:
    """Move the number counters of several service-days on; the last number of each.

    ``wanted`` holds (service id, business day, how many numbers). The counter
    rows stay locked until the transaction ends, which serialises issuers of a
    service's day; they are taken in the order given (callers sort it, so two
    transactions locking several never deadlock).
    """
    statement = _take_sequences_statement(len(wanted))
    params: dict[str, Any] = {"hall_id": hall_id}
    for i, (service_id, day, count) in enumerate(wanted):
        params |= {f"service_{i}": service_id, f"day_{i}": day, f"count_{i}": count}
    rows = await session.execute(statement, params)
    return {(int(s), d): int(last) for s, d, last in rows.all()}


async def set_last_sequence(
    session: AsyncSession, hall_id: int, service_id: int, day: date, last: int
) -> None:
    """Put a counter back (numbers taken for requests that were then refused)."""
    await session.execute(
        update(TicketCounter)
        .where(
            TicketCounter.hall_id == hall_id,
            TicketCounter.service_id == service_id,
            TicketCounter.business_date == day,
        )
        .values(last_sequence=last)
    )


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


async def open_tickets_of_people(
    session: AsyncSession, hall_id: int, wanted: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, str]]:
    """Open tickets held by these (service id, person hash) pairs: their id and number."""
    wanted = set(wanted)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Ticket.service_id, Ticket.person_hash, Ticket.id, Ticket.number).where(
            Ticket.hall_id == hall_id,
            Ticket.service_id.in_({s for s, _ in wanted}),
            Ticket.person_hash.in_({p for _, p in wanted}),
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )
    held: dict[tuple[int, str], tuple[int, str]] = {}
    for service_id, person_hash, ticket_id, number in rows.all():
        key = (int(service_id), str(person_hash))
        if key in wanted:
            held.setdefault(key, (int(ticket_id), str(number)))
    return held


# Core statements: one multi-row INSERT each, without the ORM's unit of work.
_INSERT_TICKETS = insert(_TICKETS).returning(_TICKETS.c.id, sort_by_parameter_order=True)
_INSERT_TICKET_EVENTS = insert(cast(Table, TicketEvent.__table__))


async def insert_tickets(
    session: AsyncSession, tickets: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
) -> list[int]:
    """Write new tickets and their first log rows; the tickets' ids in the order given.

    ``events`` are the log rows, one per ticket in the same order, without ``ticket_id``.
    """
    ids = [int(i) for i in (await session.execute(_INSERT_TICKETS, list(tickets))).scalars()]
    await session.execute(
        _INSERT_TICKET_EVENTS,
        [{**event, "ticket_id": ticket_id} for event, ticket_id in zip(events, ids, strict=True)],
    )
    return ids


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


async def waiting_sent_to_for_update(
    session: AsyncSession, hall_id: int, window_id: int
) -> Sequence[Ticket]:
    """The waiting tickets transferred to one window (locked), in queue order."""
    return (
        (
            await session.execute(
                select(Ticket)
                .where(
                    Ticket.hall_id == hall_id,
                    Ticket.target_window_id == window_id,
                    Ticket.status == TicketStatus.WAITING.value,
                )
                .order_by(Ticket.queued_at, Ticket.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )


_NOW = bindparam("now", type_=Ticket.queued_at.type)
_EARLIER = or_(
    Ticket.queued_at < bindparam("queued_at", type_=Ticket.queued_at.type),
    and_(
        Ticket.queued_at == bindparam("queued_at", type_=Ticket.queued_at.type),
        Ticket.id < bindparam("ticket_id"),
    ),
)
_APPOINTMENT = PriorityClass.APPOINTMENT.value
# The class an appointment competes in now (tickets.ahead.effective_class, in SQL):
# normal before its slot starts and when checked in after its slot ended.
_APPOINTMENT_CLASS = case(
    (
        or_(Ticket.slot_starts_at > _NOW, Ticket.queued_at > Ticket.slot_ends_at),
        PriorityClass.NORMAL.value,
    ),
    else_=_APPOINTMENT,
)


def _per_class(*group: Any, before: Any) -> Any:
    """Waiting tickets per class now, and those ``before`` a point, as two branches:
    tickets of the fixed classes counted from the queue index alone, appointments
    (few) with their slots."""
    counted = (func.count(), func.sum(case((before, 1), else_=0)))
    waiting = Ticket.status == TicketStatus.WAITING.value
    fixed = (
        select(*group, Ticket.priority, *counted)
        .where(waiting, Ticket.priority != _APPOINTMENT)
        .group_by(*group, Ticket.priority)
    )
    appointments = (
        select(*group, _APPOINTMENT_CLASS, *counted)
        .where(waiting, Ticket.priority == _APPOINTMENT)
        .group_by(*group, _APPOINTMENT_CLASS)
    )
    return fixed, appointments


def _class_counts_statement() -> Any:
    fixed, appointments = _per_class(before=_EARLIER)
    where = (
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.service_id == bindparam("service_id"),
        Ticket.id != bindparam("ticket_id"),
    )
    return union_all(fixed.where(*where), appointments.where(*where))


_CLASS_COUNTS = _class_counts_statement()


async def class_counts(
    session: AsyncSession, ticket: Ticket, now: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """Waiting tickets of the ticket's service per class they compete in at ``now``,
    and those queued before it."""
    rows = await session.execute(
        _CLASS_COUNTS,
        {
            "hall_id": ticket.hall_id,
            "service_id": ticket.service_id,
            "queued_at": ticket.queued_at,
            "ticket_id": ticket.id,
            "now": now,
        },
    )
    waiting: dict[str, int] = {}
    before: dict[str, int] = {}
    for priority, count, n_before in rows.all():
        waiting[str(priority)] = waiting.get(str(priority), 0) + int(count)
        before[str(priority)] = before.get(str(priority), 0) + int(n_before or 0)
    return waiting, before


def _service_class_counts_statement() -> Any:
    fixed, appointments = _per_class(Ticket.service_id, before=Ticket.queued_at <= _NOW)
    where = (
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.service_id.in_(bindparam("service_ids", expanding=True)),
    )
    return union_all(fixed.where(*where), appointments.where(*where))


_SERVICE_CLASS_COUNTS = _service_class_counts_statement()


async def class_counts_at(
    session: AsyncSession, hall_id: int, service_ids: Sequence[int], now: datetime
) -> dict[int, tuple[dict[str, int], dict[str, int]]]:
    """Per service: waiting tickets per class, and those queued by ``now``.

    A ticket issued at ``now`` comes after every one of those (ids only grow).
    """
    rows = await session.execute(
        _SERVICE_CLASS_COUNTS,
        {"hall_id": hall_id, "service_ids": list(service_ids), "now": now},
    )
    out: dict[int, tuple[dict[str, int], dict[str, int]]] = {s: ({}, {}) for s in service_ids}
    for service_id, priority, count, n_before in rows.all():
        waiting, before = out[int(service_id)]
        waiting[str(priority)] = waiting.get(str(priority), 0) + int(count)
        before[str(priority)] = before.get(str(priority), 0) + int(n_before or 0)
    return out


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


@functools.cache
def _queue_heads_statement(services: int) -> Any:
    # Plain SQL, built once per number of services: a statement of this size
    # built and keyed afresh on every call cost more than running it.
    waiting = f"hall_id = :hall_id AND status = '{TicketStatus.WAITING.value}'"
    columns = "id, service_id, priority, queued_at, target_window_id, slot_starts_at, slot_ends_at"
    heads = [
        f"SELECT * FROM (SELECT {columns} FROM tickets WHERE {waiting}"
        f" AND service_id = :service_{i} AND priority = '{priority.value}'"
        " AND target_window_id IS NULL"
        f" ORDER BY queued_at, id LIMIT :per_group) AS head_{i}_{priority.value}"
        for i in range(services)
        for priority in PriorityClass
    ]
    sent_here = (
        f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER"
        " (PARTITION BY service_id, priority ORDER BY queued_at, id) AS place"
        f" FROM tickets WHERE {waiting} AND target_window_id = :window_id) AS sent_here"
        " WHERE place <= :per_group"
    )
    return text("\nUNION ALL\n".join([*heads, sent_here])).columns(
        Ticket.id,
        Ticket.service_id,
        Ticket.priority,
        Ticket.queued_at,
        Ticket.target_window_id,
        Ticket.slot_starts_at,
        Ticket.slot_ends_at,
    )


async def queue_heads(
    session: AsyncSession,
    *,
    hall_id: int,
    service_ids: Iterable[int],
    window_id: int,
    per_group: int = 5,
) -> Sequence[Any]:
    """The first few waiting tickets of each service x priority class a window may call,
    and of those sent to this window.

    One short ordered read of the queue index per service and class, so the
    cost does not grow with the length of the queue.
    """
    services = sorted(set(service_ids))
    statement = _queue_heads_statement(len(services))
    params: dict[str, Any] = {"hall_id": hall_id, "window_id": window_id, "per_group": per_group}
    params.update({f"service_{i}": service_id for i, service_id in enumerate(services)})
    return (await session.execute(statement, params)).all()


# A claim is the state machine's call step, done as one guarded statement.
CALLED = next_status(TicketStatus.WAITING, TicketAction.CALL)
_CLAIM = (
    update(_TICKETS)
    .where(
        _TICKETS.c.id == bindparam("ticket_id"),
        _TICKETS.c.status == TicketStatus.WAITING.value,
    )
    .values(
        status=CALLED.value,
        window_id=bindparam("window_id"),
        staff_user_id=bindparam("staff_user_id"),
        called_at=bindparam("called_at"),
    )
)


async def claim_waiting(session: AsyncSession, ticket_id: int, values: dict[str, Any]) -> bool:
    """Guarded update: take a ticket only if it is still waiting (two windows never share one).

    If another window is taking it at this moment, this waits for that one's answer.
    """
    result = await session.execute(_CLAIM, {**values, "ticket_id": ticket_id})
    return result.rowcount == 1  # type: ignore[attr-defined]


# The first of the candidates still waiting, in the order given, taken in one round
# trip. A ticket another window is taking at this moment (its row locked) is passed
# over at once rather than waited for: when many windows call together they would
# otherwise all queue on the same first ticket.
_CLAIM_FIRST_PG = text(
    f"""
    UPDATE tickets SET status = '{CALLED.value}', window_id = :window_id,
                       staff_user_id = :staff_user_id, called_at = :called_at
    WHERE id = (
        SELECT id FROM tickets WHERE id = ANY(:ids) AND status = '{TicketStatus.WAITING.value}'
        ORDER BY array_position(:ids, id) LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
).bindparams(
    bindparam("ids", type_=postgresql.ARRAY(BigInteger)),
    bindparam("called_at", type_=Ticket.called_at.type),
)


async def claim_first_waiting(
    session: AsyncSession, ticket_ids: Sequence[int], values: dict[str, Any], *, wait: bool = False
) -> int | None:
    """Call the first of these tickets that is still waiting; its id, or None.

    ``values``: the calling window's ``window_id``, ``staff_user_id`` and ``called_at``.
    With ``wait``, a ticket another window is taking at this moment is waited for
    (the answer is exact); without, the first one nobody is taking is called.
    """
    if not ticket_ids:
        return None
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres and not wait:
        claimed = await session.execute(_CLAIM_FIRST_PG, {**values, "ids": list(ticket_ids)})
        found = claimed.scalar_one_or_none()
        return int(found) if found is not None else None
    # One by one, each waiting for any window taking it (SQLite has one writer at a
    # time: nobody else is taking a ticket meanwhile).
    for ticket_id in ticket_ids:
        if await claim_waiting(session, ticket_id, values):
            return ticket_id
    return None


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
            staff_user_id=ticket.staff_user_id,
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


async def held_at_window(session: AsyncSession, window_id: int) -> Sequence[Ticket]:
    """A window's held tickets (挂起), held longest first."""
    return (
        (
            await session.execute(
                select(Ticket)
                .where(Ticket.window_id == window_id, Ticket.status == TicketStatus.HELD.value)
                .order_by(Ticket.held_at, Ticket.id)
            )
        )
        .scalars()
        .all()
    )


async def held_before_for_update(
    session: AsyncSession, hall_id: int, day: date, *, limit: int = 500
) -> Sequence[Ticket]:
    """Held tickets of business days before ``day``: their day is over. Locked, and on
    PostgreSQL skipped when another engine process is closing them."""
    query = (
        select(Ticket)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.status == TicketStatus.HELD.value,
            Ticket.business_date < day,
        )
        .order_by(Ticket.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalars().all()


async def window_actions_since(
    session: AsyncSession, window_id: int, since: datetime
) -> dict[str, int]:
    """How many of each step the ticket log records at a window since a moment."""
    rows = await session.execute(
        select(TicketEvent.action, func.count())
        .where(TicketEvent.window_id == window_id, TicketEvent.at >= since)
        .group_by(TicketEvent.action)
    )
    return {str(action): int(n) for action, n in rows.all()}


async def outcomes_since(session: AsyncSession, window_id: int, since: datetime) -> dict[str, int]:
    """Cases finished at a window since a moment, by outcome ("" when none was given)."""
    finished = (
        select(TicketEvent.ticket_id)
        .where(
            TicketEvent.window_id == window_id,
            TicketEvent.at >= since,
            TicketEvent.action == TicketAction.FINISH.value,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Ticket.outcome, func.count())
        .where(Ticket.id.in_(finished), Ticket.status == TicketStatus.DONE.value)
        .group_by(Ticket.outcome)
    )
    return {str(outcome or ""): int(n) for outcome, n in rows.all()}


async def last_finished_at_window(
    session: AsyncSession, window_id: int, since: datetime
) -> Ticket | None:
    """The last case finished at a window since a moment (read from the ticket log)."""
    ticket_id = (
        await session.execute(
            select(TicketEvent.ticket_id)
            .where(
                TicketEvent.window_id == window_id,
                TicketEvent.at >= since,
                TicketEvent.action == TicketAction.FINISH.value,
            )
            .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if ticket_id is None else await session.get(Ticket, ticket_id)


async def queue_preview(
    session: AsyncSession, hall_id: int, service_id: int, window_id: int, *, limit: int
) -> tuple[int, datetime | None, Sequence[Ticket]]:
    """One service's queue as a window sees it: how many wait (its own or sent to this
    window), since when the oldest, and the first few (green, favoured, then the rest;
    oldest first within each)."""
    mine = and_(
        Ticket.hall_id == hall_id,
        Ticket.status == TicketStatus.WAITING.value,
        Ticket.service_id == service_id,
        or_(Ticket.target_window_id.is_(None), Ticket.target_window_id == window_id),
    )
    count, oldest = (
        await session.execute(select(func.count(), func.min(Ticket.queued_at)).where(mine))
    ).one()
    rank = case(
        (Ticket.priority == PriorityClass.GREEN.value, 0),
        (Ticket.priority.in_([c.value for c in FAVOURED]), 1),
        else_=2,
    )
    first = (
        (
            await session.execute(
                select(Ticket).where(mine).order_by(rank, Ticket.queued_at, Ticket.id).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return int(count or 0), oldest, first
