"""Use cases at a window (窗口操作): recall, start, finish, no-show, hold and call back,
open, close, pause, sign in and out.

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

from services.engine.audit import repository as audit
from services.engine.auth import service as auth_service
from services.engine.auth.permissions import Principal, Role
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, ValidationFailed
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets import service as tickets
from services.engine.tickets.models import Ticket
from services.engine.tickets.numbering import business_date
from services.engine.tickets.service import stage_queue_changed, ticket_payload
from services.engine.tickets.states import (
    HoldKind,
    Outcome,
    TicketAction,
    TicketStatus,
    next_status,
    recall_outcome,
)
from services.engine.windows import repository
from services.engine.windows.models import Window, WindowLogEntry
from services.engine.windows.rules import (
    HeldTicket,
    WindowLogAction,
    check_links,
    ensure_can_call_back,
    ensure_may_act,
    ensure_may_sign_in,
    ensure_may_sign_out,
    held_to_call_back,
    outcome_of,
)
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
        "staff_user_id": window.staff_user_id,
    }


async def load_window(session: AsyncSession, hall: Hall, number: int) -> Window:
    window = await repository.get_window_for_update(session, hall.id, number)
    if window is None or not window.active:
        raise NotFound(f"no window {number} in this hall")
    return window


async def load_to_act(
    session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> Window:
    """The window, locked, if this caller may act there (rules.ensure_may_act)."""
    window = await load_window(session, hall, number)
    ensure_may_act(
        role=principal.role,
        user_id=principal.user_id,
        signed_in=window.staff_user_id,
        window=number,
    )
    return window


def attribute(window: Window, ticket: Ticket) -> None:
    """A step at a window is the work of the clerk signed in there (a keypad's press
    too); with nobody signed in, the ticket keeps the clerk who called it."""
    if window.staff_user_id is not None:
        ticket.staff_user_id = window.staff_user_id


async def held(session: AsyncSession, window: Window) -> tuple[Ticket, Service]:
    ensure_holding(WindowState(window.state))
    assert window.current_ticket_id is not None
    ticket = await tickets_repo.get_ticket_for_update(
        session, window.hall_id, window.current_ticket_id
    )
    if ticket is None:  # pragma: no cover - tickets are never deleted
        raise NotFound("the window's ticket is gone")
    attribute(window, ticket)
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
    """Move the ticket in hand on (finished, no-show, transferred, held) and free the
    window."""
    tickets.transition(session, ticket, action, actor=principal.actor, at=now, detail=detail)
    _set_state(window, WindowState.IDLE, now, None)
    event = {
        TicketAction.FINISH: "ticket.finished",
        TicketAction.NO_SHOW: "ticket.no_show",
        TicketAction.TRANSFER: "ticket.transferred",
        TicketAction.HOLD: "ticket.held",
    }[action]
    payload = {**ticket_payload(ticket, service, window.number), **(detail or {})}
    if action is TicketAction.FINISH:
        # The evaluation pad (评价器) at this window offers a rating for this ticket.
        payload["staff_user_id"] = ticket.staff_user_id
        payload["outcome"] = ticket.outcome
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
    session: AsyncSession,
    hall: Hall,
    window: Window,
    ticket: Ticket,
    now: datetime,
    *,
    called_back: bool = False,
) -> Service:
    """A call the hall display speaks and the window's LED board shows (a call back too)."""
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    _set_state(window, WindowState.CALLING, now, ticket.id)
    outbox.stage(
        session,
        hall.id,
        "ticket.called",
        {
            **ticket_payload(ticket, service, window.number),
            "recall_count": ticket.recall_count,
            "called_back": called_back,
        },
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
    # A hall that records outcomes has its clerks finish with one first (a keypad cannot).
    outcome_of(None, required=rules_of(hall).outcome_required, by_person=principal.kind == "user")
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
    window = await load_to_act(session, hall, number, principal)
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
    window = await load_to_act(session, hall, number, principal)
    ticket, service = await held(session, window)
    tickets.transition(session, ticket, TicketAction.START, actor=principal.actor, at=now)
    _set_state(window, WindowState.SERVING, now, ticket.id)
    outbox.stage(session, hall.id, "ticket.started", ticket_payload(ticket, service, window.number))
    outbox.stage(session, hall.id, "window.state", window_payload(window, ticket))
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def finish(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    principal: Principal,
    outcome: Outcome | None = None,
) -> WindowResult:
    """办结: the ticket in hand is done, with its outcome (办理结果) when given; the window
    is free and the rating pad may ask."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    ticket, service = await held(session, window)
    chosen = outcome_of(
        outcome, required=rules_of(hall).outcome_required, by_person=principal.kind == "user"
    )
    ticket.outcome = chosen.value if chosen is not None else None
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
    window = await load_to_act(session, hall, number, principal)
    ticket, service = await held(session, window)
    next_status(TicketStatus(ticket.status), TicketAction.NO_SHOW)  # refuses a ticket being served
    return await _no_show(session, hall, window, ticket, service, principal, now, by="window")


async def _change_state(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    state: WindowState,
    now: datetime,
    principal: Principal,
    *,
    reason: str | None = None,
    log: str | None = None,
) -> WindowResult:
    """Set the window's state; a real change is logged (``log``: the window log action)
    and announced."""
    changed = window.state != state.value or (
        state is WindowState.PAUSED and window.pause_reason != reason
    )
    window.state = state.value
    window.state_changed_at = now
    window.pause_reason = reason if state is WindowState.PAUSED else None
    if changed:
        if log is not None:
            repository.log_window(
                session,
                window,
                log,
                actor=principal.actor,
                at=now,
                staff_user_id=window.staff_user_id,
                detail={"reason": reason} if reason else None,
            )
        outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window)


def _sign_out(
    session: AsyncSession,
    hall: Hall,
    window: Window,
    principal: Principal,
    now: datetime,
    *,
    by: str,
) -> None:
    """签退: the clerk leaves the window (logged with how long they were signed in)."""
    if window.staff_user_id is None:
        return
    detail: dict[str, Any] = {"by": by}
    if window.staff_since is not None:
        detail["minutes"] = round((now - window.staff_since).total_seconds() / 60, 1)
    repository.log_window(
        session,
        window,
        WindowLogAction.SIGN_OUT,
        actor=principal.actor,
        at=now,
        staff_user_id=window.staff_user_id,
        detail=detail,
    )
    window.staff_user_id = None
    window.staff_since = None
    outbox.stage(session, hall.id, "window.staff", {"window": window.number, "staff_user_id": None})


async def _sign_in(
    session: AsyncSession, hall: Hall, window: Window, principal: Principal, now: datetime
) -> None:
    """签到: the caller works this window from now on; signed out of any other first,
    and whoever was signed in here is signed out (a shift handed over)."""
    ensure_may_sign_in(kind=principal.kind)
    user_id = principal.user_id
    assert user_id is not None
    if window.staff_user_id == user_id:
        return
    for other in await repository.window_signed_in_by(session, hall.id, user_id):
        if other.id != window.id:
            _sign_out(session, hall, other, principal, now, by="signed_in_elsewhere")
    _sign_out(session, hall, window, principal, now, by="taken_over")
    window.staff_user_id = user_id
    window.staff_since = now
    repository.log_window(
        session,
        window,
        WindowLogAction.SIGN_IN,
        actor=principal.actor,
        at=now,
        staff_user_id=user_id,
    )
    outbox.stage(
        session, hall.id, "window.staff", {"window": window.number, "staff_user_id": user_id}
    )


async def sign_in(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """签到 at a window (it need not be open: opening is the clerk's next step)."""
    now = utcnow()
    window = await load_window(session, hall, number)
    await _sign_in(session, hall, window, principal, now)
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window)


async def sign_out(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """签退: nobody works the window any more (its held tickets stay, for the next clerk)."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    ensure_may_sign_out(WindowState(window.state))
    if window.staff_user_id is not None:
        _sign_out(session, hall, window, principal, now, by="sign_out")
        outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window)


async def open_window(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """开窗: the window starts serving; a staff member opening it signs in there."""
    now = utcnow()
    window = await load_window(session, hall, number)
    if principal.role == Role.STAFF.value:
        await _sign_in(session, hall, window, principal, now)
    else:
        ensure_may_act(
            role=principal.role,
            user_id=principal.user_id,
            signed_in=window.staff_user_id,
            window=number,
        )
    return await _change_state(
        session,
        hall,
        window,
        next_state_for_open(WindowState(window.state)),
        now,
        principal,
        log=WindowLogAction.OPEN,
    )


async def close_window(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    """关窗: the window stops serving and its clerk signs out; tickets transferred to it
    go back to their queues (its held tickets stay held: they are called back here)."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    state = next_state_for_close(WindowState(window.state))
    await tickets.return_sent_to(
        session, hall, window.id, window_number=window.number, actor=principal.actor, at=now
    )
    _sign_out(session, hall, window, principal, now, by="window_closed")
    return await _change_state(
        session, hall, window, state, now, principal, log=WindowLogAction.CLOSE
    )


async def pause(
    *, session: AsyncSession, hall: Hall, number: int, reason: str, principal: Principal
) -> WindowResult:
    """暂停服务 with a reason (shown to managers; the board shows 暂停服务)."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    state = next_state_for_pause(WindowState(window.state))
    return await _change_state(
        session, hall, window, state, now, principal, reason=reason, log=WindowLogAction.PAUSE
    )


async def resume(
    *, session: AsyncSession, hall: Hall, number: int, principal: Principal
) -> WindowResult:
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    return await _change_state(
        session,
        hall,
        window,
        next_state_for_resume(WindowState(window.state)),
        now,
        principal,
        log=WindowLogAction.RESUME,
    )


async def hold(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    kind: HoldKind,
    reason: str | None,
    principal: Principal,
) -> WindowResult:
    """挂起: the case in hand waits (documents, approval, payment) and the window is free
    for the next citizen; the ticket stays this window's, to be called back here."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    ticket, service = await held(session, window)
    close_held(
        session,
        hall,
        window,
        ticket,
        service,
        action=TicketAction.HOLD,
        principal=principal,
        now=now,
        detail={"kind": kind.value, "reason": reason} if reason else {"kind": kind.value},
    )
    ticket.hold_kind = kind.value
    ticket.hold_reason = reason
    outbox.stage(session, hall.id, "window.state", window_payload(window))
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def held_list(*, session: AsyncSession, hall: Hall, number: int) -> list[Ticket]:
    """A window's held tickets, held longest first."""
    window = await repository.get_window(session, hall.id, number)
    if window is None or not window.active:
        raise NotFound(f"no window {number} in this hall")
    return list(await tickets_repo.held_at_window(session, window.id))


async def call_back(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    ticket_id: int | None,
    ticket_number: str | None,
    principal: Principal,
) -> WindowResult:
    """回呼: call a ticket held at this window again, ahead of the queue; the display and
    the LED board announce it as a call. Without a ticket named (a keypad's 回呼 key),
    the one held longest."""
    now = utcnow()
    window = await load_to_act(session, hall, number, principal)
    ensure_can_call_back(WindowState(window.state))
    if ticket_id is not None:
        named = await tickets_repo.get_ticket(session, hall.id, ticket_id)
        candidates = [named] if named is not None else []
    elif ticket_number is not None:
        candidates = await tickets.of_day_with_number(session, hall, ticket_number, now)
    else:
        candidates = list(await tickets_repo.held_at_window(session, window.id))
    # The rule chooses among held tickets only; a named one not held is refused there.
    candidates = [t for t in candidates if t.status == TicketStatus.HELD.value]
    chosen = held_to_call_back(
        [
            HeldTicket(t.id, t.number, t.window_id, t.held_at or t.called_at or now)
            for t in candidates
        ],
        window_id=window.id,
        ticket_id=ticket_id,
        number=ticket_number,
    )
    ticket = await tickets_repo.get_ticket_for_update(session, hall.id, chosen.ticket_id)
    assert ticket is not None
    attribute(window, ticket)
    tickets.transition(
        session,
        ticket,
        TicketAction.CALL_BACK,
        actor=principal.actor,
        at=now,
        detail={"kind": ticket.hold_kind},
    )
    service = await announce_call(session, hall, window, ticket, now, called_back=True)
    await outbox.commit(session)
    return WindowResult(window, ticket, service)


async def expire_held(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Held tickets still held when their business day is over close as held_expired
    (the hall's housekeeping runs this every minute; safe in several engine processes)."""
    now = now or utcnow()
    closed = 0
    for hall in await halls_repo.list_halls(session):
        day = business_date(now, hall.timezone)
        expired = await tickets_repo.held_before_for_update(session, hall.id, day)
        numbers = await repository.window_numbers(session, hall.id) if expired else {}
        for ticket in expired:
            service = await halls_repo.get_service(session, ticket.service_id)
            assert service is not None
            tickets.transition(
                session,
                ticket,
                TicketAction.EXPIRE,
                actor="system:held_expiry",
                at=now,
                detail={"kind": ticket.hold_kind},
            )
            window = numbers.get(ticket.window_id) if ticket.window_id else None
            outbox.stage(
                session,
                hall.id,
                "ticket.held_expired",
                {**ticket_payload(ticket, service, window), "kind": ticket.hold_kind},
            )
            closed += 1
        await outbox.commit(session)
    return closed


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


async def window_log(
    *,
    session: AsyncSession,
    hall: Hall,
    window: int | None,
    since: datetime,
    until: datetime | None,
    limit: int,
) -> tuple[list[WindowLogEntry], dict[int, int], dict[int, str]]:
    """The window log of a period (one window or all), with window numbers and the
    clerks' account names."""
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise ValidationFailed("give moments with their UTC offset, e.g. +08:00")
    window_id = None
    if window is not None:
        found = await repository.get_window(session, hall.id, window)
        if found is None:
            raise NotFound(f"no window {window} in this hall")
        window_id = found.id
    entries = list(
        await repository.window_log(
            session, hall.id, window_id=window_id, since=since, until=until or utcnow(), limit=limit
        )
    )
    numbers = await repository.window_numbers(session, hall.id)
    names = await auth_service.usernames(
        session=session, user_ids=[e.staff_user_id for e in entries if e.staff_user_id]
    )
    return entries, numbers, names


# -- on-the-spot changes of what a window serves (窗口动态调整) ------------------------


def links_payload(rows: Sequence[tuple[str, float, str]]) -> dict[str, list[Any]]:
    """{service code: [weight, role]}, as the audit log and ``planned_services`` keep it."""
    return {code: [weight, role] for code, weight, role in sorted(rows)}


async def window_links(
    session: AsyncSession, window: Window, codes: dict[int, str]
) -> dict[str, list[Any]]:
    return links_payload(
        [
            (codes.get(ws.service_id, str(ws.service_id)), float(ws.weight), ws.role)
            for ws in await repository.service_roles(session, window.id)
        ]
    )


async def set_services(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    links: dict[str, tuple[float, str]],
    principal: Principal,
) -> tuple[Window, dict[str, list[Any]], dict[str, list[Any]]]:
    """Change which services a window serves and their weights, at once: a
    ``window.services`` event, an audit entry (who, before, after). The window keeps
    what it served before the first such change (``planned_services``, the hall file's
    plan) so that ``hall apply`` can tell; a change back to the plan clears the mark.
    Returns the window, before and after."""
    now = utcnow()
    window = await load_window(session, hall, number)
    services = await halls_repo.services_of(session, hall.id, active_only=True)
    by_code = {s.code: s for s in services}
    check_links(links, list(by_code), window=number)
    codes = {s.id: s.code for s in await halls_repo.services_of(session, hall.id)}
    before = await window_links(session, window, codes)
    planned = {c: v for c, v in before.items() if v[1] != "tidal"}
    await repository.replace_links(
        session, window.id, {by_code[c].id: (float(w), r) for c, (w, r) in links.items()}
    )
    after = await window_links(session, window, codes)
    if window.services_adjusted_at is None:
        window.planned_services = planned
    if {c: v for c, v in after.items() if v[1] != "tidal"} == (window.planned_services or {}):
        window.services_adjusted_at, window.planned_services = None, None  # back to the plan
    else:
        window.services_adjusted_at = now
    audit.record(
        session,
        hall.id,
        "window.services",
        f"window {number}",
        actor=principal.actor,
        at=now,
        before=before,
        after=after,
    )
    outbox.stage(
        session,
        hall.id,
        "window.services",
        {"window": number, "services": after, "adjusted": window.services_adjusted_at is not None},
    )
    await outbox.commit(session)
    return window, before, after
