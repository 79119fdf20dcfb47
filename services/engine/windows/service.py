"""Use cases at a window (窗口操作): call, recall, start, finish, no-show, transfer, pause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.balancing import policy as balancing_policy
from services.engine.balancing import service as balancing
from services.engine.core.db import utcnow
from services.engine.core.errors import (
    NotFound,
    QueueEmpty,
    ServiceNotServed,
    TicketNotWaiting,
    ValidationFailed,
)
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets.models import Ticket
from services.engine.tickets.service import stage_queue_changed, ticket_payload
from services.engine.tickets.states import (
    TicketAction,
    TicketStatus,
    next_status,
    recall_outcome,
)
from services.engine.windows import call_policy, repository
from services.engine.windows.models import Window
from services.engine.windows.states import (
    HOLDING_TICKET,
    WindowState,
    ensure_can_call,
    ensure_holding,
    next_state_for_close,
    next_state_for_open,
    next_state_for_pause,
    next_state_for_resume,
)


@dataclass(frozen=True)
class WindowResult:
    """A window after an action, with the ticket the action concerned (if any)."""

    window: Window
    ticket: Ticket | None = None
    service: Service | None = None
    # e.g. "no_show" when a recall past the limit voided the ticket.
    outcome: str | None = None
    target_window: int | None = None


def window_payload(window: Window, ticket: Ticket | None = None) -> dict[str, Any]:
    return {
        "window": window.number,
        "name": window.name,
        "state": window.state,
        "pause_reason": window.pause_reason,
        "ticket_id": window.current_ticket_id,
        "number": ticket.number if ticket is not None else None,
    }


async def _window(session: AsyncSession, hall: Hall, number: int) -> Window:
    window = await repository.get_window_for_update(session, hall.id, number)
    if window is None or not window.active:
        raise NotFound(f"no window {number} in this hall")
    return window


async def _held(session: AsyncSession, window: Window) -> tuple[Ticket, Service]:
    ensure_holding(WindowState(window.state))
    assert window.current_ticket_id is not None
    ticket = await tickets_repo.get_ticket_for_update(
        session, window.hall_id, window.current_ticket_id
    )
    if ticket is None:  # pragma: no cover - tickets are never deleted
        raise NotFound("the window's ticket is gone")
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    return ticket, service


def _set_state(window: Window, state: WindowState, now: datetime, ticket_id: int | None) -> None:
    window.state = state.value
    window.current_ticket_id = ticket_id
    window.state_changed_at = now
    if state is not WindowState.PAUSED:
        window.pause_reason = None


def _close_held(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    ticket: Ticket,
    service: Service,
    *,
    action: TicketAction,
    principal: Principal,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move the ticket in hand to its end state and free the window."""
    before = ticket.status
    ticket.status = next_status(TicketStatus(before), action).value
    if action is TicketAction.FINISH:
        ticket.finished_at = now
        ticket.started_at = ticket.started_at or ticket.called_at
    ticket.closed_at = now
    tickets_repo.log_event(
        session,
        ticket,
        action=action,
        from_status=before,
        actor=principal.actor,
        at=now,
        detail=detail,
    )
    _set_state(window, WindowState.IDLE, now, None)
    event = {
        TicketAction.FINISH: "ticket.finished",
        TicketAction.NO_SHOW: "ticket.no_show",
        TicketAction.TRANSFER: "ticket.transferred",
    }[action]
    payload = {**ticket_payload(ticket, service, window.number), **(detail or {})}
    if action is TicketAction.FINISH:
        # The evaluation pad (评价器) at this window offers a rating for this ticket.
        payload["staff_user_id"] = ticket.staff_user_id
    outbox.stage(session, hall.id, event, payload)


async def _take(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    ticket_ids: Sequence[int],
    *,
    wait: bool,
    principal: Principal,
    now: datetime,
    detail: dict[str, Any],
) -> Ticket | None:
    """Call the first of these tickets still waiting (``wait``: see claim_first_waiting)."""
    values = {"window_id": window.id, "staff_user_id": window.staff_user_id, "called_at": now}
    claimed = await tickets_repo.claim_first_waiting(session, ticket_ids, values, wait=wait)
    if claimed is None:
        return None
    ticket = await tickets_repo.get_ticket_for_update(session, hall.id, claimed)
    assert ticket is not None
    tickets_repo.log_event(
        session,
        ticket,
        action=TicketAction.CALL,
        from_status=TicketStatus.WAITING.value,
        actor=principal.actor,
        at=now,
        detail=detail,
    )
    return ticket


async def _announce_call(
    session: AsyncSession, hall: Hall, window: Window, ticket: Ticket, now: datetime
) -> Service:
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    _set_state(window, WindowState.CALLING, now, ticket.id)
    outbox.stage(
        session,
        hall.id,
        "ticket.called",
        {**ticket_payload(ticket, service, window.number), "recall_count": ticket.recall_count},
    )
    outbox.stage(session, hall.id, "window.state", window_payload(window, ticket))
    await stage_queue_changed(session, hall.id, service)
    return service


async def _finish_in_hand(
    session: AsyncSession, hall: Hall, window: Window, principal: Principal, now: datetime
) -> bool:
    """顺呼: calling the next citizen finishes the one in hand."""
    if WindowState(window.state) not in HOLDING_TICKET:
        return False
    ticket, service = await _held(session, window)
    _close_held(
        session,
        hall,
        window,
        ticket,
        service,
        action=TicketAction.FINISH,
        principal=principal,
        now=now,
        detail={"by": "call_next"},
    )
    return True


# How many tickets of each service and class call-next reads from the head of the
# queue, round after round: when windows calling at the same moment took all it saw,
# it looks further down. The last round waits for tickets other windows are taking
# (their call may still fail), so "nobody is waiting" is only said when true.
HEADS_PER_GROUP = (5, 20, 80, 320, 1280)


async def call_next(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    principal: Principal,
    now: datetime | None = None,
) -> WindowResult:
    """Call the best waiting ticket for this window (two windows never get the same one)."""
    now = now or utcnow()
    window = await _window(session, hall, number)
    ensure_can_call(WindowState(window.state))
    finished = await _finish_in_hand(session, hall, window, principal, now)
    # The hall's calling policy (balancing.policy; replaceable through POLICIES).
    view = await balancing.window_view(session, hall, window.id)
    ratio = rules_of(hall).ratio()
    state = call_policy.InterleaveState(window.favoured_run, window.normal_run)
    for round_number, per_group in enumerate(HEADS_PER_GROUP, start=1):
        rows = await tickets_repo.queue_heads(
            session,
            hall_id=hall.id,
            service_ids=view.links.keys(),
            window_id=window.id,
            per_group=per_group,
        )
        if not rows:
            break
        candidates = await balancing.candidates_with_slots(session, rows, now)
        ranked = balancing.policy_of(hall)(view, candidates, state, ratio, now)
        favoured_waiting, normal_waiting = balancing_policy.classes_waiting(ranked, now)
        if not ranked:
            break  # nothing here for this window (the policy passed every head over)
        ticket = await _take(
            session,
            hall,
            window,
            [c.ticket_id for c in ranked],
            wait=round_number == len(HEADS_PER_GROUP),
            principal=principal,
            now=now,
            detail={"by": "call_next"},
        )
        if ticket is None:
            # Every head we saw was taken by other windows meanwhile: look at the queue
            # again, further down, rather than tell this window nobody waits.
            continue
        candidate = next(c for c in ranked if c.ticket_id == ticket.id)
        advanced = call_policy.advance(
            state,
            ratio,
            balancing_policy.taken_class(candidate, now),
            favoured_waiting=favoured_waiting,
            normal_waiting=normal_waiting,
        )
        window.favoured_run, window.normal_run = advanced.favoured_run, advanced.normal_run
        service = await _announce_call(session, hall, window, ticket, now)
        await balancing.evaluate_tidal(session, hall, now)
        await outbox.commit(session)
        return WindowResult(window, ticket, service)
    if finished:
        # The ticket in hand is finished even though nobody else waits.
        outbox.stage(session, hall.id, "window.state", window_payload(window))
        await outbox.commit(session)
    raise QueueEmpty("nobody is waiting for this window")


async def call_ticket(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    ticket_id: int,
    reason: str,
    principal: Principal,
) -> WindowResult:
    """Call one given waiting ticket out of turn (指定呼叫), with a reason."""
    now = utcnow()
    window = await _window(session, hall, number)
    ensure_can_call(WindowState(window.state))
    target = await tickets_repo.get_ticket(session, hall.id, ticket_id)
    if target is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    if target.status != TicketStatus.WAITING.value:
        raise TicketNotWaiting(f"ticket {target.number} is {target.status}, not waiting")
    weights = await repository.service_weights(session, window.id)
    if target.target_window_id not in (None, window.id) or (
        target.target_window_id is None and target.service_id not in weights
    ):
        raise ServiceNotServed(f"window {number} does not serve ticket {target.number}'s service")
    await _finish_in_hand(session, hall, window, principal, now)
    ticket = await _take(
        session,
        hall,
        window,
        [ticket_id],
        wait=True,
        principal=principal,
        now=now,
        detail={"by": "call", "reason": reason},
    )
    if ticket is None:
        raise TicketNotWaiting(f"ticket {target.number} was just called elsewhere")
    service = await _announce_call(session, hall, window, ticket, now)
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def recall(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """重呼: call the ticket in hand again; past the hall's limit it becomes a no-show."""
    now = utcnow()
    window = await _window(session, hall, number)
    ticket, service = await _held(session, window)
    next_status(TicketStatus(ticket.status), TicketAction.RECALL)  # refuses a ticket being served
    rules = rules_of(hall)
    if recall_outcome(ticket.recall_count, rules.max_recalls) is TicketAction.NO_SHOW:
        return await _no_show(
            session, hall, window, ticket, service, principal, now, by="recall_limit"
        )
    before = ticket.status
    ticket.recall_count += 1
    ticket.called_at = now
    tickets_repo.log_event(
        session,
        ticket,
        action=TicketAction.RECALL,
        from_status=before,
        actor=principal.actor,
        at=now,
        detail={"recall_count": ticket.recall_count},
    )
    outbox.stage(
        session,
        hall.id,
        "ticket.recalled",
        {**ticket_payload(ticket, service, window.number), "recall_count": ticket.recall_count},
    )
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def start(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """The citizen arrived at the window: service starts (开始办理)."""
    now = utcnow()
    window = await _window(session, hall, number)
    ticket, service = await _held(session, window)
    before = ticket.status
    ticket.status = next_status(TicketStatus(before), TicketAction.START).value
    ticket.started_at = now
    tickets_repo.log_event(
        session,
        ticket,
        action=TicketAction.START,
        from_status=before,
        actor=principal.actor,
        at=now,
    )
    _set_state(window, WindowState.SERVING, now, ticket.id)
    outbox.stage(session, hall.id, "ticket.started", ticket_payload(ticket, service, window.number))
    outbox.stage(session, hall.id, "window.state", window_payload(window, ticket))
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def finish(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """办结: the ticket in hand is done; the window is free and the rating pad may ask."""
    now = utcnow()
    window = await _window(session, hall, number)
    ticket, service = await _held(session, window)
    _close_held(
        session,
        hall,
        window,
        ticket,
        service,
        action=TicketAction.FINISH,
        principal=principal,
        now=now,
    )
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def _no_show(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    ticket: Ticket,
    service: Service,
    principal: Principal,
    now: datetime,
    *,
    by: str,
) -> WindowResult:
    rules = rules_of(hall)
    if rules.no_show == "requeue" and ticket.requeue_count == 0:
        # Put back a few places behind the head of its queue, once.
        anchor = await tickets_repo.nth_waiting_queued_at(session, ticket, rules.requeue_places)
        before = ticket.status
        ticket.status = next_status(TicketStatus(before), TicketAction.REQUEUE).value
        ticket.requeue_count += 1
        ticket.recall_count = 0
        ticket.queued_at = (anchor + timedelta(microseconds=1)) if anchor else now
        ticket.window_id = None
        ticket.called_at = None
        tickets_repo.log_event(
            session,
            ticket,
            action=TicketAction.REQUEUE,
            from_status=before,
            actor=principal.actor,
            at=now,
            detail={"by": by, "places": rules.requeue_places},
        )
        _set_state(window, WindowState.IDLE, now, None)
        outbox.stage(
            session,
            hall.id,
            "ticket.no_show",
            {**ticket_payload(ticket, service, window.number), "requeued": True},
        )
        outcome = "requeued"
    else:
        _close_held(
            session,
            hall,
            window,
            ticket,
            service,
            action=TicketAction.NO_SHOW,
            principal=principal,
            now=now,
            detail={"by": by, "requeued": False},
        )
        outcome = "no_show"
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await stage_queue_changed(session, hall.id, service)
    await outbox.commit(session)
    return WindowResult(window, ticket, service, outcome)


async def no_show(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """过号: the called citizen did not come."""
    now = utcnow()
    window = await _window(session, hall, number)
    ticket, service = await _held(session, window)
    next_status(TicketStatus(ticket.status), TicketAction.NO_SHOW)  # refuses a ticket being served
    return await _no_show(session, hall, window, ticket, service, principal, now, by="window")


async def transfer(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    principal: Principal,
    service_code: str | None = None,
    window_number: int | None = None,
) -> WindowResult:
    """转移: pass the ticket in hand to another service or window, keeping its place."""
    if (service_code is None) == (window_number is None):
        raise ValidationFailed("give exactly one of service or window")
    now = utcnow()
    window = await _window(session, hall, number)
    ticket, service = await _held(session, window)
    target_service = service
    target_window: Window | None = None
    if service_code is not None:
        found = await halls_repo.get_service_by_code(session, hall.id, service_code)
        if found is None or not found.active:
            raise NotFound(f"no service {service_code!r} in this hall")
        if found.id == service.id:
            raise ValidationFailed("the ticket already belongs to that service")
        target_service = found
    else:
        assert window_number is not None
        if window_number == number:
            raise ValidationFailed("cannot transfer a ticket to the window that holds it")
        target_window = await repository.get_window(session, hall.id, window_number)
        if target_window is None or not target_window.active:
            raise NotFound(f"no window {window_number} in this hall")
    successor = Ticket(
        hall_id=hall.id,
        service_id=target_service.id,
        origin_service_id=ticket.origin_service_id,
        business_date=ticket.business_date,
        sequence=ticket.sequence,
        number=ticket.number,
        priority=ticket.priority,
        source=ticket.source,
        status=TicketStatus.WAITING.value,
        recall_count=0,
        requeue_count=ticket.requeue_count,
        # Keeps its place by issue time in the new queue.
        queued_at=ticket.queued_at,
        issued_at=ticket.issued_at,
        target_window_id=target_window.id if target_window else None,
        transferred_from_id=ticket.id,
        person_hash=ticket.person_hash,
        phone_hash=ticket.phone_hash,
        phone_tail=ticket.phone_tail,
    )
    session.add(successor)
    await session.flush()
    ticket.transferred_to_id = successor.id
    detail = {
        "to_service": target_service.code,
        "to_window": target_window.number if target_window else None,
        "successor_id": successor.id,
    }
    _close_held(
        session,
        hall,
        window,
        ticket,
        service,
        action=TicketAction.TRANSFER,
        principal=principal,
        now=now,
        detail=detail,
    )
    tickets_repo.log_event(
        session,
        successor,
        action=TicketAction.TRANSFER,
        from_status=None,
        actor=principal.actor,
        at=now,
        detail={"from_ticket": ticket.id, "from_window": window.number},
    )
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await stage_queue_changed(session, hall.id, target_service)
    if target_service.id != service.id:
        await stage_queue_changed(session, hall.id, service)
    await outbox.commit(session)
    return WindowResult(
        window,
        successor,
        target_service,
        "transferred",
        target_window.number if target_window else None,
    )


async def _change_state(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    state: WindowState,
    now: datetime,
    *,
    reason: str | None = None,
) -> WindowResult:
    changed = window.state != state.value or (
        state is WindowState.PAUSED and window.pause_reason != reason
    )
    window.state = state.value
    window.state_changed_at = now
    window.pause_reason = reason if state is WindowState.PAUSED else None
    if changed:
        outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window)


async def open_window(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """开窗: the window starts serving; a staff member opening it is recorded on it."""
    now = utcnow()
    window = await _window(session, hall, number)
    if principal.user_id is not None and window.staff_user_id != principal.user_id:
        window.staff_user_id = principal.user_id
        outbox.stage(
            session, hall.id, "window.staff", {"window": number, "staff_user_id": principal.user_id}
        )
    return await _change_state(
        session, hall, window, next_state_for_open(WindowState(window.state)), now
    )


async def close_window(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    now = utcnow()
    window = await _window(session, hall, number)
    state = next_state_for_close(WindowState(window.state))
    window.staff_user_id = None
    return await _change_state(session, hall, window, state, now)


async def pause(
    *, session: AsyncSession, hall: Hall, number: int, reason: str, principal: Principal
) -> WindowResult:
    """暂停服务 with a reason (shown to managers; the board shows 暂停服务)."""
    now = utcnow()
    window = await _window(session, hall, number)
    state = next_state_for_pause(WindowState(window.state))
    return await _change_state(session, hall, window, state, now, reason=reason)


async def resume(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    now = utcnow()
    window = await _window(session, hall, number)
    return await _change_state(
        session, hall, window, next_state_for_resume(WindowState(window.state)), now
    )


async def list_windows(
    *, session: AsyncSession, hall: Hall
) -> list[tuple[Window, Ticket | None, dict[int, float]]]:
    out = []
    for window in await repository.list_windows(session, hall.id):
        ticket = (
            await tickets_repo.get_ticket(session, hall.id, window.current_ticket_id)
            if window.current_ticket_id
            else None
        )
        out.append((window, ticket, await repository.service_weights(session, window.id)))
    return out
