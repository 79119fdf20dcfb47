"""Use cases for tickets: issue (取号), look up, cancel, queue overview."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.balancing import service as balancing
from services.engine.core import pii
from services.engine.core.db import utcnow
from services.engine.core.errors import (
    DuplicateOpenTicket,
    NotFound,
    OutsideServiceHours,
    QuotaExhausted,
    ServiceInactive,
)
from services.engine.core.gates import hall_gate
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.config import PeriodQuotaSpec, service_schedule
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import hours_of, rules_of
from services.engine.tickets import repository
from services.engine.tickets.models import Ticket
from services.engine.tickets.numbering import (
    business_date,
    format_number,
    parse_number,
    quota_period_at,
)
from services.engine.tickets.states import (
    PriorityClass,
    TicketAction,
    TicketSource,
    TicketStatus,
    next_status,
)
from services.engine.windows import repository as windows_repo


@dataclass(frozen=True)
class IssuedTicket:
    ticket: Ticket
    service: Service
    waiting_ahead: int
    # 前方还有N人: tickets called before it (green and favoured first).
    position: int
    # 前方还有N人，预计等待M分钟 (calling order and estimate).
    wait: balancing.TicketWait | None = None


def ticket_payload(
    ticket: Ticket, service: Service, window_number: int | None = None
) -> dict[str, Any]:
    """What an event says about a ticket: never personal data."""
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "service": service.code,
        "service_name": service.name,
        "status": ticket.status,
        "priority": ticket.priority,
        "window": window_number,
    }


async def stage_queue_changed(
    session: AsyncSession, hall_id: int, service: Service, waiting: int | None = None
) -> None:
    """queue.changed for a service; ``waiting`` when the caller has just counted it."""
    if waiting is None:
        waiting = await repository.waiting_count(session, hall_id, service.id)
    outbox.stage(session, hall_id, "queue.changed", {"service": service.code, "waiting": waiting})


async def issue_ticket(
    *,
    session: AsyncSession,
    hall: Hall,
    service_code: str,
    priority: PriorityClass,
    source: TicketSource,
    principal: Principal,
    pii_key: str,
    id_number: str | None = None,
    phone: str | None = None,
    now: datetime | None = None,
) -> IssuedTicket:
    """Issue the next number of a service, inside its hours and quotas."""
    phone_digits = pii.normalise_phone(phone) if phone else None
    person_hash = (
        pii.keyed_hash(pii_key, "id", pii.normalise_id_number(id_number)) if id_number else None
    )
    # Issuers of one hall queue here rather than on the counter row in the database.
    async with hall_gate("issue", hall.id):
        try:
            issued = await issue_ticket_uncommitted(
                session=session,
                hall=hall,
                service_code=service_code,
                priority=priority,
                source=source,
                principal=principal,
                person_hash=person_hash,
                phone_hash=pii.keyed_hash(pii_key, "phone", phone_digits) if phone_digits else None,
                phone_tail=pii.tail(phone_digits) if phone_digits else None,
                now=now,
            )
            await outbox.commit(session)
        except Exception:
            # A refusal: let go of the counter row before the next issuer comes in.
            outbox.discard(session)
            await session.rollback()
            raise
    # After the commit, so the counter lock is not held while estimating.
    wait = await balancing.after_issue(
        session, hall, issued.service, now or issued.ticket.issued_at, issued.position
    )
    return replace(issued, wait=wait)


async def issue_ticket_uncommitted(
    *,
    session: AsyncSession,
    hall: Hall,
    service_code: str,
    priority: PriorityClass,
    source: TicketSource,
    principal: Principal,
    person_hash: str | None = None,
    phone_hash: str | None = None,
    phone_tail: str | None = None,
    now: datetime | None = None,
    reserved: bool = False,
) -> IssuedTicket:
    """Everything :func:`issue_ticket` does except the commit, for callers that
    change more in the same transaction (a booking checked in becomes a ticket).

    ``reserved`` marks a place held in advance (a booking checked in within its
    arrival window): the service's hours and quotas were applied when it was
    booked, so they are not applied again.
    """
    now = now or utcnow()
    service = await halls_repo.get_service_by_code(session, hall.id, service_code)
    if service is None:
        raise NotFound(f"no service {service_code!r} in this hall")
    if not service.active:
        raise ServiceInactive(f"service {service.name} is no longer offered here")
    tz = ZoneInfo(hall.timezone)
    local = now.astimezone(tz)
    schedule = service_schedule(hours_of(hall), service.hours)
    if not reserved and not schedule.is_open(local):
        opens = schedule.next_opening(local)
        when = opens.strftime("%Y-%m-%d %H:%M") if opens else None
        raise OutsideServiceHours(
            f"{service.name} is not open now"
            + (f"; it next opens at {when} (hall time)" if when else "; no opening is scheduled"),
            next_opening=opens.isoformat() if opens else None,
        )
    day = business_date(now, hall.timezone)

    # The counter upsert locks this service's day: quota and duplicate checks
    # below are safe against concurrent issuers, in any engine process.
    sequence = await repository.next_sequence(session, hall.id, service.id, day)
    if not reserved and service.daily_quota is not None and sequence > service.daily_quota:
        raise QuotaExhausted(
            f"{service.name}: today's {service.daily_quota} tickets are all taken "
            "(号已取完, 可直接到窗口咨询)",
            service=service.code,
        )
    period = quota_period_at([PeriodQuotaSpec(**q).quota() for q in service.period_quotas], local)
    if period is not None and not reserved:
        start = datetime.combine(local.date(), time(0), tzinfo=tz) + timedelta(
            minutes=period.session.start
        )
        end = datetime.combine(local.date(), time(0), tzinfo=tz) + timedelta(
            minutes=period.session.end
        )
        issued = await repository.count_issued_between(session, service.id, start, end)
        if issued >= period.limit:
            raise QuotaExhausted(
                f"{service.name}: the {period.limit} tickets for {period.session} are all taken",
                service=service.code,
                period=str(period.session),
            )
    if person_hash and rules_of(hall).one_open_ticket_per_person:
        held = await repository.open_ticket_of_person(session, hall.id, service.id, person_hash)
        if held is not None:
            raise DuplicateOpenTicket(
                f"this person already holds ticket {held.number} for {service.name}",
                ticket_id=held.id,
            )
    ticket = Ticket(
        hall_id=hall.id,
        service_id=service.id,
        origin_service_id=service.id,
        business_date=day,
        sequence=sequence,
        number=format_number(service.prefix, sequence, service.number_width),
        priority=priority.value,
        source=source.value,
        status=TicketStatus.WAITING.value,
        recall_count=0,
        requeue_count=0,
        queued_at=now,
        issued_at=now,
        person_hash=person_hash,
        phone_hash=phone_hash,
        phone_tail=phone_tail,
    )
    session.add(ticket)
    await session.flush()
    repository.log_event(
        session,
        ticket,
        action=TicketAction.ISSUE,
        from_status=None,
        actor=principal.actor,
        at=now,
        detail={"source": source.value},
    )
    place = await balancing.queue_place(session, ticket)
    outbox.stage(
        session,
        hall.id,
        "ticket.issued",
        {**ticket_payload(ticket, service), "waiting_ahead": place.queued_before},
    )
    await stage_queue_changed(session, hall.id, service, waiting=place.waiting_others + 1)
    return IssuedTicket(ticket, service, place.queued_before, place.position)


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    service: Service
    waiting_ahead: int | None
    window_number: int | None
    target_window_number: int | None
    wait: balancing.TicketWait | None = None


async def get_ticket(*, session: AsyncSession, hall: Hall, ticket_id: int) -> TicketView:
    ticket = await repository.get_ticket(session, hall.id, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    ahead = (
        await repository.waiting_ahead(session, ticket)
        if ticket.status == TicketStatus.WAITING.value
        else None
    )
    numbers = await windows_repo.window_numbers(session, hall.id)
    wait = (
        await balancing.ticket_wait(session, hall, ticket, utcnow())
        if ticket.status == TicketStatus.WAITING.value
        else None
    )
    return TicketView(
        ticket,
        service,
        ahead,
        numbers.get(ticket.window_id) if ticket.window_id else None,
        numbers.get(ticket.target_window_id) if ticket.target_window_id else None,
        wait,
    )


async def cancel_ticket(
    *, session: AsyncSession, hall: Hall, ticket_id: int, principal: Principal, reason: str | None
) -> TicketView:
    """Cancel a waiting or called ticket (the citizen left); frees a calling window."""
    now = utcnow()
    ticket = await repository.get_ticket_for_update(session, hall.id, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    before = ticket.status
    ticket.status = next_status(TicketStatus(before), TicketAction.CANCEL).value
    ticket.closed_at = now
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    if before == TicketStatus.CALLED.value and ticket.window_id is not None:
        await windows_repo.release_window_holding(session, ticket.window_id, ticket.id, now)
    repository.log_event(
        session,
        ticket,
        action=TicketAction.CANCEL,
        from_status=before,
        actor=principal.actor,
        at=now,
        detail={"reason": reason} if reason else {},
    )
    outbox.stage(session, hall.id, "ticket.cancelled", ticket_payload(ticket, service))
    await stage_queue_changed(session, hall.id, service)
    await outbox.commit(session)
    return await get_ticket(session=session, hall=hall, ticket_id=ticket_id)


@dataclass(frozen=True)
class QueueView:
    service: Service
    waiting: int
    windows: list[int]
    open_windows: list[int]
    open_now: bool
    next_opening: datetime | None
    issued_today: int
    quota_left: int | None
    # For a normal ticket taken now: how many are ahead and the estimated wait.
    wait: balancing.TicketWait | None = None


async def queues(
    *, session: AsyncSession, hall: Hall, now: datetime | None = None
) -> list[QueueView]:
    """Per service: who waits, which windows serve it, whether it is open."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(hall.timezone))
    day: date = business_date(now, hall.timezone)
    counts = await repository.waiting_counts(session, hall.id)
    issued = await repository.issued_counts(session, hall.id, day)
    serving = await windows_repo.windows_by_service(session, hall.id)
    hours = hours_of(hall)
    board = await balancing.wait_board(session, hall, now)
    views: list[QueueView] = []
    for service in await halls_repo.services_of(session, hall.id, active_only=True):
        schedule = service_schedule(hours, service.hours)
        is_open = schedule.is_open(local)
        windows = serving.get(service.id, [])
        views.append(
            QueueView(
                service=service,
                waiting=counts.get(service.id, 0),
                windows=sorted(w.number for w in windows),
                open_windows=sorted(w.number for w in windows if w.state != "closed"),
                open_now=is_open,
                next_opening=None if is_open else schedule.next_opening(local),
                issued_today=issued.get(service.id, 0),
                quota_left=(
                    max(service.daily_quota - issued.get(service.id, 0), 0)
                    if service.daily_quota is not None
                    else None
                ),
                wait=balancing.TicketWait(
                    board.new_ticket_position(service.id),
                    board.estimate(service.id, board.new_ticket_position(service.id)),
                ),
            )
        )
    return views


async def find_by_number(
    *, session: AsyncSession, hall: Hall, number: str, now: datetime | None = None
) -> list[TicketView]:
    """Today's tickets with a number (补打 at the kiosk): ``A23`` finds ``A023``.

    A transfer carries the number on to a new ticket, so a number may name a
    chain; it is returned oldest first. Unknown or malformed numbers give none.
    """
    wanted = parse_number(number)
    if wanted is None:
        return []
    day = business_date(now or utcnow(), hall.timezone)
    found = await repository.tickets_of_day_with_sequence(session, hall.id, day, wanted[1])
    return [
        await get_ticket(session=session, hall=hall, ticket_id=t.id)
        for t in found
        if parse_number(t.number) == wanted
    ]
