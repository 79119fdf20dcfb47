"""Window endpoints: the clerk's (or keypad's) actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.engine.auth import service as auth_service
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden
from services.engine.core.inputs import WINDOW_NUMBER_MAX
from services.engine.deps import ManageAccess, ReadAccess, SessionDep, WindowAccess, WindowNumber
from services.engine.flows import calling
from services.engine.flows import console as console_flow
from services.engine.flows import transfer as transferring
from services.engine.flows.tickets import TicketView
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Service
from services.engine.tickets.models import Ticket
from services.engine.tickets.router import to_out
from services.engine.windows import repository as windows_repo
from services.engine.windows import service
from services.engine.windows.models import Window
from services.engine.windows.schemas import (
    CallBackIn,
    CallTicketIn,
    ConsoleOut,
    FinishIn,
    HeldOut,
    HistoryLineOut,
    HoldIn,
    InHandOut,
    LastFinishedOut,
    PauseIn,
    QueueLineOut,
    QueueNextOut,
    TransferIn,
    WindowActionOut,
    WindowLogOut,
    WindowOut,
)

router = APIRouter(prefix="/api/v1/halls/{hall}/windows", tags=["windows"])


def window_out(
    window: Window,
    current: str | None,
    services: dict[str, float] | None = None,
    names: dict[int, str] | None = None,
) -> WindowOut:
    return WindowOut(
        number=window.number,
        name=window.name,
        kind=window.kind,
        state=window.state,
        pause_reason=window.pause_reason,
        staff_user_id=window.staff_user_id,
        staff=(names or {}).get(window.staff_user_id) if window.staff_user_id else None,
        staff_since=window.staff_since,
        current_ticket=current,
        current_ticket_id=window.current_ticket_id,
        services=services or {},
        state_changed_at=window.state_changed_at,
        active=window.active,
    )


async def _out(session: SessionDep, result: service.WindowResult) -> WindowActionOut:
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
    staff = result.window.staff_user_id
    names = await auth_service.usernames(session=session, user_ids=[staff]) if staff else {}
    return WindowActionOut(
        window=window_out(result.window, held, names=names),
        ticket=ticket_out,
        outcome=result.outcome,
    )


@router.get("", response_model=list[WindowOut])
async def list_windows(access: ReadAccess, session: SessionDep) -> list[WindowOut]:
    codes = {s.id: s.code for s in await halls_repo.services_of(session, access.hall.id)}
    listed = await service.list_windows(session=session, hall=access.hall)
    names = await auth_service.usernames(
        session=session, user_ids=[w.staff_user_id for w, _, _ in listed if w.staff_user_id]
    )
    return [
        window_out(
            w,
            t.number if t else None,
            {codes[s]: weight for s, weight in weights.items()},
            names,
        )
        for w, t, weights in listed
    ]


@router.post("/{number}/call-next", response_model=WindowActionOut)
async def call_next(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """顺呼: call the next ticket for this window (finishing the one in hand)."""
    return await _out(
        session,
        await calling.call_next(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/call", response_model=WindowActionOut)
async def call_ticket(
    number: WindowNumber, body: CallTicketIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """指呼 / 指定呼叫: call a given waiting ticket (by id or printed number), with a reason."""
    return await _out(
        session,
        await calling.call_ticket(
            session=session,
            hall=access.hall,
            number=number,
            ticket_id=body.ticket_id,
            ticket_number=body.number,
            reason=body.reason,
            principal=access.principal,
        ),
    )


@router.post("/{number}/recall", response_model=WindowActionOut)
async def recall(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """重呼: call the ticket in hand again (past the limit it becomes 过号)."""
    return await _out(
        session,
        await service.recall(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/start", response_model=WindowActionOut)
async def start(number: WindowNumber, access: WindowAccess, session: SessionDep) -> WindowActionOut:
    return await _out(
        session,
        await service.start(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/finish", response_model=WindowActionOut)
async def finish(
    number: WindowNumber,
    access: WindowAccess,
    session: SessionDep,
    body: FinishIn | None = None,
) -> WindowActionOut:
    """办结: finish the ticket in hand, with the case's outcome (办理结果) when given."""
    return await _out(
        session,
        await service.finish(
            session=session,
            hall=access.hall,
            number=number,
            principal=access.principal,
            outcome=body.outcome if body is not None else None,
        ),
    )


@router.post("/{number}/no-show", response_model=WindowActionOut)
async def no_show(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """过号: the called citizen did not come."""
    return await _out(
        session,
        await service.no_show(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/transfer", response_model=WindowActionOut)
async def transfer(
    number: WindowNumber, body: TransferIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """转移: pass the ticket in hand to another service or window."""
    return await _out(
        session,
        await transferring.transfer(
            session=session,
            hall=access.hall,
            number=number,
            principal=access.principal,
            service_code=body.service,
            window_number=body.window,
        ),
    )


@router.post("/{number}/pause", response_model=WindowActionOut)
async def pause(
    number: WindowNumber, body: PauseIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return await _out(
        session,
        await service.pause(
            session=session,
            hall=access.hall,
            number=number,
            reason=body.reason,
            principal=access.principal,
        ),
    )


@router.post("/{number}/resume", response_model=WindowActionOut)
async def resume(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return await _out(
        session,
        await service.resume(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/open", response_model=WindowActionOut)
async def open_window(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return await _out(
        session,
        await service.open_window(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/close", response_model=WindowActionOut)
async def close_window(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    return await _out(
        session,
        await service.close_window(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/hold", response_model=WindowActionOut)
async def hold(
    number: WindowNumber, body: HoldIn, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """挂起: the case in hand waits (补材料, 材料留窗口, 等待审批/刻章/缴费); the window is
    free for the next citizen and calls the held ticket back later."""
    return await _out(
        session,
        await service.hold(
            session=session,
            hall=access.hall,
            number=number,
            kind=body.kind,
            reason=body.reason,
            principal=access.principal,
        ),
    )


def held_out(t: Ticket, services: dict[int, Service]) -> HeldOut:
    return HeldOut(
        ticket_id=t.id,
        number=t.number,
        service=services[t.service_id].code,
        service_name=services[t.service_id].name,
        priority=t.priority,
        kind=t.hold_kind,
        reason=t.hold_reason,
        held_since=t.held_at or t.called_at or t.issued_at,
        staff_user_id=t.staff_user_id,
    )


@router.get("/{number}/held", response_model=list[HeldOut])
async def held(number: WindowNumber, access: ReadAccess, session: SessionDep) -> list[HeldOut]:
    """The window's held tickets, held longest first."""
    found = await service.held_list(session=session, hall=access.hall, number=number)
    services = {s.id: s for s in await halls_repo.services_of(session, access.hall.id)}
    return [held_out(t, services) for t in found]


@router.get("/{number}/console", response_model=ConsoleOut)
async def console(number: WindowNumber, access: ReadAccess, session: SessionDep) -> ConsoleOut:
    """Everything the window console shows of this window (staff and managers)."""
    if access.principal.kind != "user":
        raise Forbidden("the window console is for staff accounts")
    view = await console_flow.window_console(session=session, hall=access.hall, number=number)
    numbers = await windows_repo.window_numbers(session, access.hall.id)
    services = view.services
    await session.commit()
    t = view.in_hand
    in_hand = None
    if t is not None:
        in_hand = InHandOut(
            ticket_id=t.id,
            number=t.number,
            service=services[t.service_id].code,
            service_name=services[t.service_id].name,
            status=t.status,
            priority=t.priority,
            source=t.source,
            issued_at=t.issued_at,
            called_at=t.called_at,
            started_at=t.started_at,
            recall_count=t.recall_count,
            held_seconds=t.held_seconds or 0,
            transferred_from=t.transferred_from_id,
            history=[
                HistoryLineOut(
                    at=e.at,
                    action=e.action,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    window=numbers.get(e.window_id) if e.window_id else None,
                    detail=e.detail or {},
                )
                for e in view.history
            ],
        )
    last = view.last_finished
    window = view.window
    return ConsoleOut(
        now=utcnow(),
        window=window_out(
            window,
            t.number if t is not None else None,
            {q.service.code: q.weight for q in view.queues},
            {window.staff_user_id: view.staff} if window.staff_user_id and view.staff else {},
        ),
        in_hand=in_hand,
        held=[held_out(h, services) for h in view.held],
        queues=[
            QueueLineOut(
                service=q.service.code,
                service_name=q.service.name,
                role=q.role,
                weight=q.weight,
                waiting=q.waiting,
                oldest_since=q.oldest_since,
                target_wait_minutes=q.service.target_wait_minutes,
                next=[
                    QueueNextOut(
                        ticket_id=n.id,
                        number=n.number,
                        priority=n.priority,
                        queued_at=n.queued_at,
                        sent_here=n.target_window_id == window.id,
                    )
                    for n in q.next_tickets
                ],
            )
            for q in view.queues
        ],
        today=view.today,
        outcomes=view.outcomes,
        last_finished=(
            LastFinishedOut(
                ticket_id=last.id,
                number=last.number,
                finished_at=last.finished_at,
                outcome=last.outcome,
                rated=bool(view.last_rated),
            )
            if last is not None
            else None
        ),
        outcome_required=view.outcome_required,
        max_recalls=view.max_recalls,
    )


@router.get("/log", response_model=list[WindowLogOut])
async def window_log(
    access: ManageAccess,
    session: SessionDep,
    since: Annotated[datetime, Query(description="from this moment (with its UTC offset)")],
    until: Annotated[
        datetime | None, Query(description="up to this moment; now when not given")
    ] = None,
    window: Annotated[int | None, Query(ge=1, le=WINDOW_NUMBER_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[WindowLogOut]:
    """The window log (窗口日志): sign-in, sign-out, open, close, pause and resume, with
    who and when, oldest first (managers; kept for good, for statistics and 考勤)."""
    entries, numbers, names = await service.window_log(
        session=session,
        hall=access.hall,
        window=window,
        since=since,
        until=until,
        limit=limit,
    )
    return [
        WindowLogOut(
            at=e.at,
            window=numbers[e.window_id],
            action=e.action,
            actor=e.actor,
            staff_user_id=e.staff_user_id,
            staff=names.get(e.staff_user_id) if e.staff_user_id else None,
            detail=e.detail or {},
        )
        for e in entries
    ]


@router.post("/{number}/call-back", response_model=WindowActionOut)
async def call_back(
    number: WindowNumber,
    access: WindowAccess,
    session: SessionDep,
    body: CallBackIn | None = None,
) -> WindowActionOut:
    """回呼: call a ticket held at this window again, ahead of the queue (announced like a
    call). Without a ticket named, the one held longest."""
    return await _out(
        session,
        await service.call_back(
            session=session,
            hall=access.hall,
            number=number,
            ticket_id=body.ticket_id if body is not None else None,
            ticket_number=body.number if body is not None else None,
            principal=access.principal,
        ),
    )


@router.post("/{number}/sign-in", response_model=WindowActionOut)
async def sign_in(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """签到: the caller works this window (signed out of any other first)."""
    return await _out(
        session,
        await service.sign_in(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )


@router.post("/{number}/sign-out", response_model=WindowActionOut)
async def sign_out(
    number: WindowNumber, access: WindowAccess, session: SessionDep
) -> WindowActionOut:
    """签退: nobody works this window any more."""
    return await _out(
        session,
        await service.sign_out(
            session=session, hall=access.hall, number=number, principal=access.principal
        ),
    )
