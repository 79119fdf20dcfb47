"""Use cases at a window (窗口操作): recall, start, finish, no-show, open, close, pause.

Each loads the window (locked), decides through the window's and the ticket's
state machines, changes the ticket only through ``tickets.service.transition``,
stages its events and commits once. Calling (which asks the balancing policy)
and transferring are in ``flows``; they use the helpers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.core.db import utcnow
from services.engine.core.errors import (
    NotFound,
)
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets import service as tickets
from services.engine.tickets.models import Ticket
from services.engine.tickets.service import stage_queue_changed, ticket_payload
from services.engine.tickets.states import (
    TicketAction,
    TicketStatus,
    next_status,
    recall_outcome,
)
from services.engine.windows import repository
from services.engine.windows.models import Window
from services.engine.windows.states import (
    HOLDING_TICKET,
    WindowState,
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


async def load_window(session: AsyncSession, hall: Hall, number: int) -> Window:
    window = await repository.get_window_for_update(session, hall.id, number)
    if window is None or not window.active:
        raise NotFound(f"no window {number} in this hall")
    return window


async def held(session: AsyncSession, window: Window) -> tuple[Ticket, Service]:
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


def close_held(
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
    tickets.transition(session, ticket, action, actor=principal.actor, at=now, detail=detail)
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


async def take(
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
    values = tickets.claim_values(window.id, window.staff_user_id, now)
    claimed = await tickets_repo.claim_first_waiting(session, ticket_ids, values, wait=wait)
    if claimed is None:
        return None
    ticket = await tickets_repo.get_ticket_for_update(session, hall.id, claimed)
    assert ticket is not None
    tickets.log_claimed(session, ticket, actor=principal.actor, at=now, detail=detail)
    return ticket


async def announce_call(
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


async def finish_in_hand(
    session: AsyncSession, hall: Hall, window: Window, principal: Principal, now: datetime
) -> bool:
    """顺呼: calling the next citizen finishes the one in hand."""
    if WindowState(window.state) not in HOLDING_TICKET:
        return False
    ticket, service = await held(session, window)
    close_held(
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


async def recall(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """重呼: call the ticket in hand again; past the hall's limit it becomes a no-show."""
    now = utcnow()
    window = await load_window(session, hall, number)
    ticket, service = await held(session, window)
    next_status(TicketStatus(ticket.status), TicketAction.RECALL)  # refuses a ticket being served
    rules = rules_of(hall)
    if recall_outcome(ticket.recall_count, rules.max_recalls) is TicketAction.NO_SHOW:
        return await _no_show(
            session, hall, window, ticket, service, principal, now, by="recall_limit"
        )
    tickets.transition(
        session,
        ticket,
        TicketAction.RECALL,
        actor=principal.actor,
        at=now,
        detail={"recall_count": ticket.recall_count + 1},
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
    window = await load_window(session, hall, number)
    ticket, service = await held(session, window)
    tickets.transition(session, ticket, TicketAction.START, actor=principal.actor, at=now)
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
    window = await load_window(session, hall, number)
    ticket, service = await held(session, window)
    close_held(
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
        tickets.transition(
            session,
            ticket,
            TicketAction.REQUEUE,
            actor=principal.actor,
            at=now,
            detail={"by": by, "places": rules.requeue_places},
            queued_at=(anchor + timedelta(microseconds=1)) if anchor else now,
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
        close_held(
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
        outcome = TicketStatus.NO_SHOW.value
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await stage_queue_changed(session, hall.id, service)
    await outbox.commit(session)
    return WindowResult(window, ticket, service, outcome)


async def no_show(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """过号: the called citizen did not come."""
    now = utcnow()
    window = await load_window(session, hall, number)
    ticket, service = await held(session, window)
    next_status(TicketStatus(ticket.status), TicketAction.NO_SHOW)  # refuses a ticket being served
    return await _no_show(session, hall, window, ticket, service, principal, now, by="window")


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
    window = await load_window(session, hall, number)
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
    """关窗: the window stops serving; tickets transferred to it go back to their queues."""
    now = utcnow()
    window = await load_window(session, hall, number)
    state = next_state_for_close(WindowState(window.state))
    window.staff_user_id = None
    await tickets.return_sent_to(
        session, hall, window.id, window_number=window.number, actor=principal.actor, at=now
    )
    return await _change_state(session, hall, window, state, now)


async def pause(
    *, session: AsyncSession, hall: Hall, number: int, reason: str, principal: Principal
) -> WindowResult:
    """暂停服务 with a reason (shown to managers; the board shows 暂停服务)."""
    now = utcnow()
    window = await load_window(session, hall, number)
    state = next_state_for_pause(WindowState(window.state))
    return await _change_state(session, hall, window, state, now, reason=reason)


async def resume(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    now = utcnow()
    window = await load_window(session, hall, number)
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
