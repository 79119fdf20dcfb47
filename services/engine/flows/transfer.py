"""转移: pass the ticket in hand to another service or window, keeping its place.

The ticket at the window ends as transferred; a successor ticket with the same
number waits in the other service's queue (or for the other window) from the
moment the first was queued. One commit. A closed window takes no transfer; a
window that closes sends the tickets waiting for it back to their service's queue
(windows/service.py close_window).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, ValidationFailed, WindowClosed
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets.models import Ticket
from services.engine.tickets.service import stage_queue_changed
from services.engine.tickets.states import TicketAction, TicketStatus
from services.engine.windows import repository as windows_repo
from services.engine.windows import service as windows
from services.engine.windows.models import Window
from services.engine.windows.states import WindowState


async def transfer(
    *,
    session: AsyncSession,
    hall: Hall,
    number: int,
    principal: Principal,
    service_code: str | None = None,
    window_number: int | None = None,
) -> windows.WindowResult:
    """转移: pass the ticket in hand to another service or window, keeping its place."""
    if (service_code is None) == (window_number is None):
        raise ValidationFailed("give exactly one of service or window")
    now = utcnow()
    # Both windows are locked, in the order of their numbers: the target cannot close
    # meanwhile (closing returns the tickets sent to it), and two windows passing
    # tickets to each other at once never wait on each other.
    target_window: Window | None = None
    if window_number is not None and window_number < number:
        target_window = await windows_repo.get_window_for_update(session, hall.id, window_number)
    window = await windows.load_to_act(session, hall, number, principal)
    if window_number is not None and window_number > number:
        target_window = await windows_repo.get_window_for_update(session, hall.id, window_number)
    ticket, service = await windows.held(session, window)
    target_service = service
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
        if target_window is None or not target_window.active:
            raise NotFound(f"no window {window_number} in this hall")
        if target_window.state == WindowState.CLOSED.value:
            # Nobody would ever call it there (a closed window calls no one).
            raise WindowClosed(
                f"window {window_number} is closed: open it first, or transfer to its service"
            )
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
    windows.close_held(
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
    outbox.stage(session, hall.id, "window.state", windows.window_payload(window))
    await stage_queue_changed(session, hall.id, target_service)
    if target_service.id != service.id:
        await stage_queue_changed(session, hall.id, service)
    await outbox.commit(session)
    return windows.WindowResult(
        window,
        successor,
        target_service,
        TicketStatus.TRANSFERRED.value,
        target_window.number if target_window else None,
    )
