"""Ticket endpoints: issue, look up, cancel, queues."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.engine.deps import CancelAccess, IssueAccess, ReadAccess, SessionDep, SettingsDep
from services.engine.tickets import service
from services.engine.tickets.schemas import CancelIn, IssueTicketIn, QueueOut, QueuesOut, TicketOut
from services.engine.tickets.states import TicketSource

router = APIRouter(prefix="/api/v1/halls/{hall}", tags=["tickets"])

_SOURCE = {
    "kiosk": TicketSource.KIOSK,
    "staff": TicketSource.STAFF,
    "manager": TicketSource.STAFF,
    "admin": TicketSource.STAFF,
}


def to_out(view: service.TicketView) -> TicketOut:
    t = view.ticket
    return TicketOut(
        id=t.id,
        number=t.number,
        service=view.service.code,
        service_name=view.service.name,
        status=t.status,
        priority=t.priority,
        source=t.source,
        waiting_ahead=view.waiting_ahead,
        estimated_wait_minutes=view.wait.minutes if view.wait else None,
        wait_text=view.wait.text if view.wait else None,
        issued_at=t.issued_at,
        business_date=t.business_date,
        called_at=t.called_at,
        started_at=t.started_at,
        finished_at=t.finished_at,
        recall_count=t.recall_count,
        window=view.window_number,
        target_window=view.target_window_number,
        transferred_to=t.transferred_to_id,
        transferred_from=t.transferred_from_id,
        phone_tail=t.phone_tail,
    )


@router.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def issue_ticket(
    body: IssueTicketIn, access: IssueAccess, session: SessionDep, settings: SettingsDep
) -> TicketOut:
    """取号: take the next number of a service."""
    issued = await service.issue_ticket(
        session=session,
        hall=access.hall,
        service_code=body.service,
        priority=body.priority,
        source=_SOURCE.get(access.principal.role, TicketSource.API),
        principal=access.principal,
        pii_key=settings.pii_key,
        id_number=body.id_number,
        phone=body.phone,
    )
    return to_out(
        service.TicketView(
            issued.ticket, issued.service, issued.waiting_ahead, None, None, issued.wait
        )
    )


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: int, access: ReadAccess, session: SessionDep) -> TicketOut:
    return to_out(await service.get_ticket(session=session, hall=access.hall, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/cancel", response_model=TicketOut)
async def cancel_ticket(
    ticket_id: int, access: CancelAccess, session: SessionDep, body: CancelIn | None = None
) -> TicketOut:
    view = await service.cancel_ticket(
        session=session,
        hall=access.hall,
        ticket_id=ticket_id,
        principal=access.principal,
        reason=body.reason if body else None,
    )
    return to_out(view)


@router.get("/queues", response_model=QueuesOut)
async def queues(access: ReadAccess, session: SessionDep) -> QueuesOut:
    """Per service: waiting count, windows serving it, hours and quota."""
    views = await service.queues(session=session, hall=access.hall)
    return QueuesOut(
        hall=access.hall.code,
        queues=[
            QueueOut(
                service=v.service.code,
                name=v.service.name,
                prefix=v.service.prefix,
                waiting=v.waiting,
                windows=v.windows,
                open_windows=v.open_windows,
                open_now=v.open_now,
                next_opening=v.next_opening,
                issued_today=v.issued_today,
                quota_left=v.quota_left,
                target_wait_minutes=v.service.target_wait_minutes,
                estimated_wait_minutes=v.wait.minutes if v.wait else None,
                wait_text=v.wait.text if v.wait else None,
            )
            for v in views
        ],
    )
