"""Tickets: issue into the queue (取号), the one state transition, the one "ahead".

Everything here works inside the caller's transaction and commits nothing: the
use cases that commit are in ``flows`` (issue, cancel, call, transfer) and
``windows.service`` (the steps at a window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.cache import AccessCache
from services.engine.core.db import utcnow
from services.engine.core.errors import (
    DuplicateOpenTicket,
    NotFound,
    OutsideServiceHours,
    QuotaExhausted,
    Refusal,
    ServiceInactive,
)
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import hours_of, rules_of
from services.engine.halls.settings import PeriodQuotaSpec, quota_period_at, service_schedule
from services.engine.tickets import repository
from services.engine.tickets.ahead import ahead_of, classes, effective_class
from services.engine.tickets.models import Ticket
from services.engine.tickets.numbering import (
    business_date,
    format_number,
    parse_number,
)
from services.engine.tickets.states import (
    PriorityClass,
    TicketAction,
    TicketSource,
    TicketStatus,
    held_seconds,
    next_status,
)


@dataclass(frozen=True)
class IssuedTicket:
    ticket: Ticket
    service: Service
    # 前方还有N人 (tickets/ahead.py), counted in the issuing transaction.
    ahead: int


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


@dataclass(frozen=True)
class IssueRequest:
    """One 取号, as it waits to be written with the others of its batch."""

    service_code: str
    priority: PriorityClass
    source: TicketSource
    actor: str
    person_hash: str | None = None
    phone_hash: str | None = None
    phone_tail: str | None = None
    # The moment it is issued at; the batch's own moment when not given.
    now: datetime | None = None
    # A place held in advance (a booking checked in within its arrival window):
    # the service's hours and quotas were applied when it was booked.
    reserved: bool = False
    # An appointment's booked slot (start, end): favoured only within it.
    slot: tuple[datetime, datetime] | None = None


async def issue_ticket_uncommitted(
    *, session: AsyncSession, hall: Hall, request: IssueRequest
) -> IssuedTicket:
    """One ticket in the session's transaction, left uncommitted, for callers that
    change more in it (a booking checked in becomes a ticket)."""
    (outcome,) = await issue_batch_uncommitted(session=session, hall=hall, requests=[request])
    if isinstance(outcome, Refusal):
        raise outcome
    return outcome


async def issue_batch_uncommitted(
    *,
    session: AsyncSession,
    hall: Hall,
    requests: Sequence[IssueRequest],
    cache: AccessCache | None = None,
) -> list[IssuedTicket | Refusal]:
    """Issue tickets of one hall in the session's transaction, in the order given.

    Each request gets its ticket or the refusal that concerns it alone; numbers
    stay gap-free because a refused request gives its number back before any
    ticket is written. Nothing is committed here.
    """
    batch_now = utcnow()
    services = {s.code: s for s in await _services_of(session, hall, cache)}
    outcomes: list[IssuedTicket | Refusal | None] = [None] * len(requests)
    # Refusals that need no lock: unknown or retired service, closed hours.
    groups: dict[tuple[int, date], list[int]] = {}
    for i, request in enumerate(requests):
        now = request.now or batch_now
        try:
            service = _open_service(hall, services.get(request.service_code), request, now)
        except Refusal as refused:
            outcomes[i] = refused
            continue
        groups.setdefault((service.id, business_date(now, hall.timezone)), []).append(i)
    if not groups:
        return _answered(outcomes)
    by_id = {s.id: s for s in services.values()}

    # The counter upsert locks each service's day: the quota and duplicate
    # checks below are safe against concurrent issuers, in any engine process.
    order = sorted(groups)
    last = await repository.take_sequences(
        session,
        hall.id,
        [(service_id, day, len(groups[service_id, day])) for service_id, day in order],
    )
    people = {
        (service_id, p)
        for service_id, day in order
        for i in groups[service_id, day]
        if (p := requests[i].person_hash)
    }
    # One open ticket per person and service (when the hall's rules ask for it).
    one_per_person = rules_of(hall).one_open_ticket_per_person
    held = (
        await repository.open_tickets_of_people(session, hall.id, people)
        if people and one_per_person
        else {}
    )
    taken_in_periods: dict[tuple[int, str], int] = {}
    # Tickets to write: (request index, service, sequence).
    accepted: list[tuple[int, Service, int]] = []
    # A person asking twice in one batch: the request that took the ticket, by person.
    first_of_person: dict[tuple[int, str], int] = {}
    twice: list[tuple[int, int]] = []
    for service_id, day in order:
        service = by_id[service_id]
        wanted = groups[service_id, day]
        first = last[service_id, day] - len(wanted) + 1
        taken = 0
        for i in wanted:
            request = requests[i]
            quota_refusal, period = await _quota_refusal(
                session,
                hall,
                service,
                request,
                request.now or batch_now,
                first + taken,
                taken_in_periods,
            )
            refusal: Refusal | None = quota_refusal
            person = (service.id, request.person_hash) if request.person_hash else None
            if refusal is None and person is not None and person in held:
                ticket_id, number = held[person]
                refusal = DuplicateOpenTicket(
                    f"this person already holds ticket {number} for {service.name}",
                    ticket_id=ticket_id,
                )
            if refusal is None and person is not None and person in first_of_person:
                twice.append((i, first_of_person[person]))
                continue
            if refusal is not None:
                outcomes[i] = refusal
                continue
            if person is not None and one_per_person:
                first_of_person[person] = i
            if period is not None:
                taken_in_periods[period] += 1
            accepted.append((i, service, first + taken))
            taken += 1
        if taken < len(wanted):
            await repository.set_last_sequence(
                session, hall.id, service_id, day, last[service_id, day] - len(wanted) + taken
            )
    accepted.sort(key=lambda a: a[0])
    if accepted:
        for i, issued in zip(
            (i for i, _, _ in accepted),
            await _write_tickets(session, hall, requests, accepted, batch_now),
            strict=True,
        ):
            outcomes[i] = issued
    for i, taker in twice:
        taken_by = outcomes[taker]
        assert isinstance(taken_by, IssuedTicket)
        outcomes[i] = DuplicateOpenTicket(
            f"this person already holds ticket {taken_by.ticket.number} "
            f"for {taken_by.service.name}",
            ticket_id=taken_by.ticket.id,
        )
    return _answered(outcomes)


async def _services_of(
    session: AsyncSession, hall: Hall, cache: AccessCache | None
) -> Sequence[Service]:
    """The hall's services, retired ones too: from the access cache while it holds them."""

    async def read() -> Sequence[Service]:
        return await halls_repo.services_of(session, hall.id)

    return await cache.services_or(hall.id, read) if cache is not None else await read()


def _answered(outcomes: list[IssuedTicket | Refusal | None]) -> list[IssuedTicket | Refusal]:
    assert all(o is not None for o in outcomes), "every request of a batch is answered"
    return outcomes  # type: ignore[return-value]


def _open_service(
    hall: Hall, service: Service | None, request: IssueRequest, now: datetime
) -> Service:
    """The requested service, if it takes tickets now (refusals that need no lock)."""
    if service is None:
        raise NotFound(f"no service {request.service_code!r} in this hall")
    if not service.active:
        raise ServiceInactive(f"service {service.name} is no longer offered here")
    if request.reserved:
        return service
    local = now.astimezone(ZoneInfo(hall.timezone))
    schedule = service_schedule(hours_of(hall), service.hours)
    if not schedule.is_open(local):
        opens = schedule.next_opening(local)
        when = opens.strftime("%Y-%m-%d %H:%M") if opens else None
        raise OutsideServiceHours(
            f"{service.name} is not open now"
            + (f"; it next opens at {when} (hall time)" if when else "; no opening is scheduled"),
            next_opening=opens.isoformat() if opens else None,
        )
    return service


async def _quota_refusal(
    session: AsyncSession,
    hall: Hall,
    service: Service,
    request: IssueRequest,
    now: datetime,
    sequence: int,
    taken_in_periods: dict[tuple[int, str], int],
) -> tuple[QuotaExhausted | None, tuple[int, str] | None]:
    """The daily quota (每日限号) and the quota of the time window ``now`` falls in.

    Returns the refusal, if any, and the time window the ticket counts against.
    ``taken_in_periods`` counts, per service and time window, the tickets issued
    so far: read once, then kept up to date through the batch by the caller as
    it accepts requests (a request refused later, as a duplicate, takes no place).
    """
    if request.reserved:
        return None, None
    if service.daily_quota is not None and sequence > service.daily_quota:
        refusal = QuotaExhausted(
            f"{service.name}: today's {service.daily_quota} tickets are all taken "
            "(号已取完, 可直接到窗口咨询)",
            service=service.code,
        )
        return refusal, None
    tz = ZoneInfo(hall.timezone)
    local = now.astimezone(tz)
    period = quota_period_at([PeriodQuotaSpec(**q).quota() for q in service.period_quotas], local)
    if period is None:
        return None, None
    key = (service.id, f"{local.date()} {period.session}")
    if key not in taken_in_periods:
        midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
        taken_in_periods[key] = await repository.count_issued_between(
            session,
            service.id,
            midnight + timedelta(minutes=period.session.start),
            midnight + timedelta(minutes=period.session.end),
        )
    if taken_in_periods[key] >= period.limit:
        refusal = QuotaExhausted(
            f"{service.name}: the {period.limit} tickets for {period.session} are all taken",
            service=service.code,
            period=str(period.session),
        )
        return refusal, None
    return None, key


async def _write_tickets(
    session: AsyncSession,
    hall: Hall,
    requests: Sequence[IssueRequest],
    accepted: Sequence[tuple[int, Service, int]],
    batch_now: datetime,
) -> list[IssuedTicket]:
    """Write the accepted tickets, their log rows and events; their places in the queue."""
    nows = {requests[i].now or batch_now for i, _, _ in accepted}
    service_ids = sorted({service.id for _, service, _ in accepted})
    # Counted before the batch's tickets are written: each of them comes after
    # every ticket already waiting, and after those before it in the batch.
    counts = {
        now: await repository.class_counts_at(session, hall.id, service_ids, now)
        for now in sorted(nows)
    }
    in_batch: dict[int, dict[str, int]] = {s: {} for s in service_ids}
    rows: list[dict[str, Any]] = []
    log_rows: list[dict[str, Any]] = []
    aheads: list[int] = []
    for i, service, sequence in accepted:
        request = requests[i]
        now = request.now or batch_now
        waiting, earlier = counts[now][service.id]
        ours = in_batch[service.id]
        # The class it competes in now (an appointment checked in early: normal).
        slot_start, slot_end = request.slot or (None, None)
        own = effective_class(request.priority, now, slot_start, slot_end, now)
        before_it = classes(_added(earlier, ours))
        aheads.append(ahead_of(own, classes(_added(waiting, ours)), before_it))
        ours[own.value] = ours.get(own.value, 0) + 1
        rows.append(
            {
                "hall_id": hall.id,
                "service_id": service.id,
                "origin_service_id": service.id,
                "business_date": business_date(now, hall.timezone),
                "sequence": sequence,
                "number": format_number(service.prefix, sequence, service.number_width),
                "priority": request.priority.value,
                "source": request.source.value,
                "status": TicketStatus.WAITING.value,
                "recall_count": 0,
                "requeue_count": 0,
                "queued_at": now,
                "issued_at": now,
                "slot_starts_at": slot_start,
                "slot_ends_at": slot_end,
                "person_hash": request.person_hash,
                "phone_hash": request.phone_hash,
                "phone_tail": request.phone_tail,
            }
        )
        log_rows.append(
            {
                "hall_id": hall.id,
                "at": now,
                "action": TicketAction.ISSUE.value,
                "from_status": None,
                "to_status": TicketStatus.WAITING.value,
                "actor": request.actor,
                "window_id": None,
                "detail": {"source": request.source.value},
            }
        )
    ids = await repository.insert_tickets(session, rows, log_rows)
    issued: list[IssuedTicket] = []
    for (_, service, _), row, ticket_id, ahead in zip(accepted, rows, ids, aheads, strict=True):
        ticket = Ticket(id=ticket_id, **row)
        outbox.stage(
            session,
            hall.id,
            "ticket.issued",
            {**ticket_payload(ticket, service), "waiting_ahead": ahead},
        )
        issued.append(IssuedTicket(ticket, service, ahead))
    # One queue.changed per service, with its count after the batch (the waiting
    # totals are the same whatever moment they were counted at).
    for service in {service.id: service for _, service, _ in accepted}.values():
        waiting, _ = next(iter(counts.values()))[service.id]
        outbox.stage(
            session,
            hall.id,
            "queue.changed",
            {
                "service": service.code,
                "waiting": sum(waiting.values()) + sum(in_batch[service.id].values()),
            },
        )
    return issued


async def of_day_with_number(
    session: AsyncSession, hall: Hall, number: str, now: datetime
) -> list[Ticket]:
    """Today's tickets with a printed number (``A23`` finds ``A023``), oldest first: a
    transfer carries the number on, so it may name a chain. None for a malformed one."""
    wanted = parse_number(number)
    if wanted is None:
        return []
    day = business_date(now, hall.timezone)
    found = await repository.tickets_of_day_with_sequence(session, hall.id, day, wanted[1])
    return [t for t in found if parse_number(t.number) == wanted]


def _added(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Counts per class, plus more of them."""
    return {c: counts.get(c, 0) + more.get(c, 0) for c in counts.keys() | more.keys()}


async def ahead(session: AsyncSession, ticket: Ticket, now: datetime | None = None) -> int:
    """前方还有N人 for a waiting ticket: its service's waiting tickets called before it."""
    now = now or utcnow()
    waiting, earlier = await repository.class_counts(session, ticket, now)
    own = effective_class(
        PriorityClass(ticket.priority),
        ticket.queued_at,
        ticket.slot_starts_at,
        ticket.slot_ends_at,
        now,
    )
    return ahead_of(own, classes(waiting), classes(earlier))


def transition(
    session: AsyncSession,
    ticket: Ticket,
    action: TicketAction,
    *,
    actor: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
    queued_at: datetime | None = None,
) -> TicketStatus:
    """The one way a ticket changes state: the state machine's next status, the step's
    timestamps and counters, and its log row. Returns the status it left.

    ``queued_at``: where a re-queued ticket goes back in (requeue only).
    """
    before = TicketStatus(ticket.status)
    ticket.status = next_status(before, action).value
    match action:
        case TicketAction.CALL:
            ticket.called_at = at
        case TicketAction.RECALL:
            ticket.recall_count += 1
            ticket.called_at = at
        case TicketAction.START:
            ticket.started_at = at
        case TicketAction.FINISH:
            ticket.finished_at = at
            # Keypads often have no start key: the service started when it was called.
            ticket.started_at = ticket.started_at or ticket.called_at
            ticket.closed_at = at
        case TicketAction.REQUEUE:
            ticket.requeue_count += 1
            ticket.recall_count = 0
            ticket.queued_at = queued_at or at
            ticket.window_id = None
            ticket.called_at = None
        case TicketAction.NO_SHOW | TicketAction.TRANSFER:
            ticket.closed_at = at
        case TicketAction.CANCEL | TicketAction.EXPIRE:
            _end_hold(ticket, at)
            ticket.closed_at = at
        case TicketAction.HOLD:
            # Kind and reason are the caller's; the window keeps the ticket (window_id).
            ticket.held_at = at
        case TicketAction.CALL_BACK:
            _end_hold(ticket, at)
            ticket.called_at = at
            ticket.recall_count = 0
        case TicketAction.RETURN:
            # Its queued_at is kept: back at the place it had in its service's queue.
            ticket.target_window_id = None
    repository.log_event(
        session, ticket, action=action, from_status=before.value, actor=actor, at=at, detail=detail
    )
    return before


def _end_hold(ticket: Ticket, at: datetime) -> None:
    """Time on hold is counted apart: it is not handling time (统计: 办理时长)."""
    if ticket.held_at is not None:
        ticket.held_seconds = (ticket.held_seconds or 0) + held_seconds(ticket.held_at, at)
        ticket.held_at = None


def claim_values(window_id: int, staff_user_id: int | None, at: datetime) -> dict[str, Any]:
    """What the claim statement writes besides the status (the call step's stamps)."""
    return {"window_id": window_id, "staff_user_id": staff_user_id, "called_at": at}


def log_claimed(
    session: AsyncSession, ticket: Ticket, *, actor: str, at: datetime, detail: dict[str, Any]
) -> None:
    """The log row of a call made by the claim statement (status and stamps set in SQL)."""
    repository.log_event(
        session,
        ticket,
        action=TicketAction.CALL,
        from_status=TicketStatus.WAITING.value,
        actor=actor,
        at=at,
        detail=detail,
    )


async def return_sent_to(
    session: AsyncSession,
    hall: Hall,
    window_id: int,
    *,
    window_number: int,
    actor: str,
    at: datetime,
) -> list[Ticket]:
    """退回: the waiting tickets transferred to a window that closes go back to their
    service's queue, each at the place it had (nobody else would ever call them)."""
    returned = list(await repository.waiting_sent_to_for_update(session, hall.id, window_id))
    services: dict[int, Service] = {}
    for ticket in returned:
        transition(
            session,
            ticket,
            TicketAction.RETURN,
            actor=actor,
            at=at,
            detail={"from_window": window_number, "by": "window_closed"},
        )
        service = services.get(ticket.service_id) or await halls_repo.get_service(
            session, ticket.service_id
        )
        assert service is not None
        services[service.id] = service
        outbox.stage(
            session,
            hall.id,
            "ticket.returned",
            {**ticket_payload(ticket, service), "from_window": window_number},
        )
    for service in services.values():
        await stage_queue_changed(session, hall.id, service)
    return returned


async def cancel(
    session: AsyncSession, hall: Hall, ticket: Ticket, *, actor: str, reason: str | None
) -> tuple[TicketStatus, Service]:
    """Cancel a waiting or called ticket (the citizen left); the status it had and its
    service. The window that was calling it is the caller's to free."""
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    before = transition(
        session,
        ticket,
        TicketAction.CANCEL,
        actor=actor,
        at=utcnow(),
        detail={"reason": reason} if reason else {},
    )
    outbox.stage(session, hall.id, "ticket.cancelled", ticket_payload(ticket, service))
    await stage_queue_changed(session, hall.id, service)
    return before, service
