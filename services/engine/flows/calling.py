"""Calling (叫号): a window calls the best waiting ticket for it, or a given one.

Crosses windows (the window row, locked for the action), tickets (the claim,
one guarded statement, SKIP LOCKED on PostgreSQL) and balancing (the hall's
calling policy ranks the queue heads; the tidal rules look at the queue after
the call). One commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.balancing import interleave
from services.engine.balancing import policy as balancing_policy
from services.engine.balancing import service as balancing
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, QueueEmpty, ServiceNotServed, TicketNotWaiting
from services.engine.events import outbox
from services.engine.halls.models import Hall
from services.engine.halls.service import rules_of
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets import service as tickets_service
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import TicketStatus
from services.engine.windows import repository as windows_repo
from services.engine.windows import service as windows
from services.engine.windows.states import WindowState, ensure_can_call

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
) -> windows.WindowResult:
    """Call the best waiting ticket for this window (two windows never get the same one)."""
    now = now or utcnow()
    window = await windows.load_to_act(session, hall, number, principal)
    ensure_can_call(WindowState(window.state))
    finished = await windows.finish_in_hand(session, hall, window, principal, now)
    # The hall's calling policy (balancing.policy; replaceable through POLICIES).
    view = await balancing.window_view(session, hall, window.id, now=now)
    ratio = rules_of(hall).ratio()
    state = interleave.InterleaveState(window.favoured_run, window.normal_run)
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
        candidates = balancing.candidates(rows, now)
        ranked = balancing.policy_of(hall)(view, candidates, state, ratio, now)
        favoured_waiting, normal_waiting = balancing_policy.classes_waiting(ranked, now)
        if not ranked:
            break  # nothing here for this window (the policy passed every head over)
        ticket = await windows.take(
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
        advanced = interleave.advance(
            state,
            ratio,
            balancing_policy.taken_class(candidate, now),
            favoured_waiting=favoured_waiting,
            normal_waiting=normal_waiting,
        )
        window.favoured_run, window.normal_run = advanced.favoured_run, advanced.normal_run
        service = await windows.announce_call(session, hall, window, ticket, now)
        await balancing.evaluate_tidal(session, hall, now)
        await outbox.commit(session)
        return windows.WindowResult(window, ticket, service)
    if finished:
        # The ticket in hand is finished even though nobody else waits.
        outbox.stage(session, hall.id, "window.state", windows.window_payload(window))
        await outbox.commit(session)
    raise QueueEmpty("nobody is waiting for this window")


async def call_ticket(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    ticket_id: int | None,
    ticket_number: str | None = None,
    reason: str,
    principal: Principal,
) -> windows.WindowResult:
    """Call one given waiting ticket out of turn (指呼 / 指定呼叫), with a reason: by its
    id, or by the number printed on the slip the clerk reads (today's ticket)."""
    now = utcnow()
    window = await windows.load_to_act(session, hall, number, principal)
    ensure_can_call(WindowState(window.state))
    target = (
        await tickets_repo.get_ticket(session, hall.id, ticket_id)
        if ticket_id is not None
        else _open_or_last(
            await tickets_service.of_day_with_number(session, hall, ticket_number or "", now)
        )
    )
    if target is None:
        raise NotFound(f"no ticket {ticket_id or ticket_number} in this hall today")
    ticket_id = target.id
    if target.status != TicketStatus.WAITING.value:
        raise TicketNotWaiting(f"ticket {target.number} is {target.status}, not waiting")
    weights = await windows_repo.service_weights(session, window.id)
    if target.target_window_id not in (None, window.id) or (
        target.target_window_id is None and target.service_id not in weights
    ):
        raise ServiceNotServed(f"window {number} does not serve ticket {target.number}'s service")
    await windows.finish_in_hand(session, hall, window, principal, now)
    ticket = await windows.take(
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
    service = await windows.announce_call(session, hall, window, ticket, now)
    await outbox.commit(session)
    return windows.WindowResult(window, ticket, service)


def _open_or_last(found: list[Ticket]) -> Ticket | None:
    """Of a number's chain, the ticket still waiting, else the last (to say its state)."""
    waiting = [t for t in found if t.status == TicketStatus.WAITING.value]
    return waiting[0] if waiting else (found[-1] if found else None)
