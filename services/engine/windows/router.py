"""Window endpoints: the clerk's (or keypad's) actions."""

from __future__ import annotations

from fastapi import APIRouter

from services.engine.deps import ReadAccess, SessionDep, WindowAccess, WindowNumber
from services.engine.flows import calling
from services.engine.flows import transfer as transferring
from services.engine.flows.tickets import TicketView
from services.engine.halls import repository as halls_repo
from services.engine.tickets.router import to_out
from services.engine.windows import service
from services.engine.windows.models import Window
from services.engine.windows.schemas import (
    CallTicketIn,
    PauseIn,
    TransferIn,
    WindowActionOut,
    WindowOut,
)

router = APIRouter(prefix="/api/v1/halls/{hall}/windows", tags=["windows"])


def window_out(
    window: Window, current: str | None, services: dict[str, float] | None = None
) -> WindowOut:
    return WindowOut(
        number=window.number,
        name=window.name,
        kind=window.kind,
        state=window.state,
        pause_reason=window.pause_reason,
        staff_user_id=window.staff_user_id,
        current_ticket=current,
        current_ticket_id=window.current_ticket_id,
        services=services or {},
        state_changed_at=window.state_changed_at,
        active=window.active,
    )


def _out(result: service.WindowResult) -> WindowActionOut:
    ticket = result.ticket
    held = (
        ticket.number
        if ticket is not None and result.window.current_ticket_id == ticket.id
        else None
    )
    ticket_out = None
    if ticket is not None and result.service is not None:
        ticket_out = to_out(
            TicketView(
                ticket,
                result.service,
                None,
                result.window.number if ticket.window_id == result.window.id else None,
                result.target_window,
            )
        )
    return WindowActionOut(
        window=window_out(result.window, held), ticket=ticket_out, outcome=result.outcome
    )


@router.get("", response_model=list[WindowOut])
async def list_windows(access: ReadAccess, session: SessionDep) -> list[WindowOut]:
    codes = {s.id: s.code for s in await halls_repo.services_of(session, access.hall.id)}
    return [
        window_out(w, t.number if t else None, {codes[s]: weight for s, weight in weights.items()})
        for w, t, weights in await service.list_windows(session=session, hall=access.hall)
    ]


@router.post("/{number}/call-next", response_model=WindowActionOut)
async def call_next(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """顺呼: call the next ticket for this window (finishing the one in hand)."""
    return _out(
        await calling.call_next(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/call", response_model=WindowActionOut)
async def call_ticket(
    number: WindowNumber, body: CallTicketIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """指定呼叫: call a given waiting ticket, with a reason."""
    return _out(
        await calling.call_ticket(
            session=session,
            hall=access.hall,
            number=number,
            ticket_id=body.ticket_id,
            reason=body.reason,
            principal=access.principal,
        )
    )


@router.post("/{number}/recall", response_model=WindowActionOut)
async def recall(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """重呼: call the ticket in hand again (past the limit it becomes 过号)."""
    return _out(
        await service.recall(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/start", response_model=WindowActionOut)
async def start(number: WindowNumber, access: WindowAccess, session: SessionDep) -> WindowActionOut:
    return _out(
        await service.start(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/finish", response_model=WindowActionOut)
async def finish(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """办结: finish the ticket in hand."""
    return _out(
        await service.finish(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/no-show", response_model=WindowActionOut)
async def no_show(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """过号: the called citizen did not come."""
    return _out(
        await service.no_show(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/transfer", response_model=WindowActionOut)
async def transfer(
    number: WindowNumber, body: TransferIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """转移: pass the ticket in hand to another service or window."""
    return _out(
        await transferring.transfer(
            session=session,
            hall=access.hall,
            number=number,
            principal=access.principal,
            service_code=body.service,
            window_number=body.window,
        )
    )


@router.post("/{number}/pause", response_model=WindowActionOut)
async def pause(
    number: WindowNumber, body: PauseIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return _out(
        await service.pause(
            session=session,
            hall=access.hall,
            number=number,
            reason=body.reason,
            principal=access.principal,
        )
    )


@router.post("/{number}/resume", response_model=WindowActionOut)
async def resume(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return _out(
        await service.resume(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/open", response_model=WindowActionOut)
async def open_window(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return _out(
        await service.open_window(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )


@router.post("/{number}/close", response_model=WindowActionOut)
async def close_window(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return _out(
        await service.close_window(
            session=session, hall=access.hall, number=number, principal=access.principal
        )
    )
