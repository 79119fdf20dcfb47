"""Ticket endpoints: issue, look up, cancel, queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.engine.config import Settings
from services.engine.deps import (
    AccessCacheDep,
    CancelAccess,
    IssueAccess,
    PublicBase,
    ReadAccess,
    RowId,
    SessionDep,
    SettingsDep,
)
from services.engine.flows import issue as issuing
from services.engine.flows import tickets as flows
from services.engine.halls.models import Hall
from services.engine.public.signing import status_url as signed_status_url
from services.engine.tickets.schemas import (
    CancelIn,
    IssueTicketIn,
    QueueOut,
    QueuesOut,
    TicketOut,
    TicketsOut,
)
from services.engine.tickets.states import TicketSource

router = APIRouter(prefix="/api/v1/halls/{hall}", tags=["tickets"])

_SOURCE = {
    "kiosk": TicketSource.KIOSK,
    "staff": TicketSource.STAFF,
    "manager": TicketSource.STAFF,
    "admin": TicketSource.STAFF,
}


def status_url(settings: Settings, base: str, hall: Hall, ticket_id: int) -> str:
    """The ticket's signed public status page (printed as its QR code) at ``base``."""
    return signed_status_url(base, settings.secret_key, hall.code, ticket_id)


def to_out(view: flows.TicketView, status_url: str | None = None) -> TicketOut:
    t = view.ticket
    return TicketOut(
        id=t.id,
        number=t.number,
        service=view.service.code,
        service_name=view.service.name,
        status=t.status,
        priority=t.priority,
        source=t.source,
        waiting_ahead=view.ahead,
        estimated_wait_minutes=view.wait.minutes if view.wait else None,
        wait_text=view.wait.text if view.wait else None,
        issued_at=t.issued_at,
        business_date=t.business_date,
        called_at=t.called_at,
        started_at=t.started_at,
        finished_at=t.finished_at,
        recall_count=t.recall_count,
        held_at=t.held_at,
        hold_kind=t.hold_kind,
        hold_reason=t.hold_reason,
        held_seconds=t.held_seconds or 0,
        outcome=t.outcome,
        window=view.window_number,
        target_window=view.target_window_number,
        transferred_to=t.transferred_to_id,
        transferred_from=t.transferred_from_id,
        phone_tail=t.phone_tail,
        status_url=status_url,
    )


@router.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def issue_ticket(
    body: IssueTicketIn,
    access: IssueAccess,
    session: SessionDep,
    settings: SettingsDep,
    cache: AccessCacheDep,
    base: PublicBase,
) -> TicketOut:
    """取号: take the next number of a service."""
    view = await issuing.issue_ticket(
        session=session,
        hall=access.hall,
        service_code=body.service,
        priority=body.priority,
        source=_SOURCE.get(access.principal.role, TicketSource.API),
        principal=access.principal,
        pii_key=settings.pii_key,
        id_number=body.id_number,
        phone=body.phone,
        cache=cache,
    )
    return to_out(view, status_url(settings, base, access.hall, view.ticket.id))


@router.get("/tickets", response_model=TicketsOut)
async def find_tickets(
    access: ReadAccess,
    session: SessionDep,
    settings: SettingsDep,
    base: PublicBase,
    number: Annotated[
        str, Query(min_length=2, max_length=16, description="a number of today, e.g. A023 or a23")
    ],
) -> TicketsOut:
    """Today's tickets with a number (补打: reprinting at the kiosk). A transfer carries a
    number on to a new ticket, so the answer lists the chain, oldest first; empty if none."""
    views = await flows.find_by_number(session=session, hall=access.hall, number=number)
    return TicketsOut(
        tickets=[to_out(v, status_url(settings, base, access.hall, v.ticket.id)) for v in views]
    )


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(
    ticket_id: RowId,
    access: ReadAccess,
    session: SessionDep,
    settings: SettingsDep,
    base: PublicBase,
) -> TicketOut:
    return to_out(
        await flows.get_ticket(session=session, hall=access.hall, ticket_id=ticket_id),
        status_url(settings, base, access.hall, ticket_id),
    )


@router.post("/tickets/{ticket_id}/cancel", response_model=TicketOut)
async def cancel_ticket(
    ticket_id: RowId, access: CancelAccess, session: SessionDep, body: CancelIn | None = None
) -> TicketOut:
    view = await flows.cancel_ticket(
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
    views = await flows.queues(session=session, hall=access.hall)
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
