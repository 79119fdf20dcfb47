"""The public ticket status page behind the printed QR code: ``/t/{hall}/{ticket_id}?s=<sig>``.

No account: the signature in the link is the key (see :mod:`.signing`). It shows the
number, its status, 前方还有 N 人, the estimated wait and the window it is called to,
and never personal data. Browsers get a small page that refreshes itself; callers
asking for JSON (``Accept: application/json`` or ``?format=json``) get the same as data.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.deps import RowId, SessionDep, SettingsDep
from services.engine.flows import tickets
from services.engine.halls import repository as halls_repo
from services.engine.public.signing import signature_valid
from services.engine.tickets.states import TicketStatus

router = APIRouter(tags=["public"])

TEMPLATES = Path(__file__).resolve().parent / "templates"
# A ticket moved on by a transfer is followed this many steps at most.
MAX_TRANSFERS = 8
REFRESH_SECONDS = 15
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_PAGE_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
}
_NOT_FOUND = "no such ticket, or the link is not valid"


class PublicTicketOut(BaseModel):
    """What anyone holding the ticket's link may see: no personal data."""

    hall: str
    hall_name: str
    number: str
    service_name: str
    status: TicketStatus
    status_text: str = Field(description="the status in the hall's words (zh-CN)")
    waiting_ahead: int | None = Field(description="前方还有N人 (waiting tickets only)")
    estimated_wait_minutes: int | None
    window: int | None = Field(description="the window it is called to or served at")
    business_date: date
    issued_at: datetime
    updated_at: datetime
    final: bool = Field(description="no further change will come (done, no-show, cancelled)")


def status_text(status: TicketStatus, window: int | None) -> str:
    if status is TicketStatus.WAITING:
        return "等候中"
    if status is TicketStatus.CALLED:
        return f"请到 {window} 号窗口办理" if window is not None else "正在呼叫"
    if status is TicketStatus.SERVING:
        return f"正在 {window} 号窗口办理" if window is not None else "办理中"
    return {
        TicketStatus.DONE: "已办结",
        TicketStatus.NO_SHOW: "已过号，请重新取号",
        TicketStatus.CANCELLED: "已取消",
        TicketStatus.TRANSFERRED: "已转办",
        TicketStatus.HELD: "已挂起，请按窗口要求准备后等候回呼",
        TicketStatus.HELD_EXPIRED: "挂起已过期，请重新取号",
    }[status]


async def _public_view(
    session: SessionDep, settings: SettingsDep, hall: str, ticket_id: int, s: str | None
) -> PublicTicketOut:
    # The signature is checked before the database is asked anything.
    if not signature_valid(settings.secret_key, hall, ticket_id, s):
        raise NotFound(_NOT_FOUND)
    found = await halls_repo.get_hall_by_code(session, hall)
    if found is None:
        raise NotFound(_NOT_FOUND)
    view = await tickets.get_ticket(session=session, hall=found, ticket_id=ticket_id)
    # A transferred ticket lives on as a new ticket with the same number: follow it.
    for _ in range(MAX_TRANSFERS):
        onward = view.ticket.transferred_to_id
        if view.ticket.status != TicketStatus.TRANSFERRED.value or onward is None:
            break
        view = await tickets.get_ticket(session=session, hall=found, ticket_id=onward)
    await session.commit()
    t = view.ticket
    status = TicketStatus(t.status)
    window = view.window_number if status in (TicketStatus.CALLED, TicketStatus.SERVING) else None
    return PublicTicketOut(
        hall=found.code,
        hall_name=found.name,
        number=t.number,
        service_name=view.service.name,
        status=status,
        status_text=status_text(status, window),
        waiting_ahead=view.ahead,
        estimated_wait_minutes=view.wait.minutes if view.wait else None,
        window=window,
        business_date=t.business_date,
        issued_at=t.issued_at.astimezone(ZoneInfo(found.timezone)),
        updated_at=utcnow().astimezone(ZoneInfo(found.timezone)),
        final=status
        in (
            TicketStatus.DONE,
            TicketStatus.NO_SHOW,
            TicketStatus.CANCELLED,
            TicketStatus.HELD_EXPIRED,
        ),
    )


@lru_cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _wants_json(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render_page(view: PublicTicketOut) -> str:
    """The status page: server-rendered, no script; it reloads itself while the ticket is open."""
    lines: list[str] = []
    if view.waiting_ahead is not None:
        lines.append(f"前方还有 <b>{view.waiting_ahead}</b> 人")
    if view.estimated_wait_minutes is not None:
        lines.append(f"预计等候约 <b>{view.estimated_wait_minutes}</b> 分钟")
    refresh = "" if view.final else f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    values = {
        "refresh": refresh,
        "hall_name": html.escape(view.hall_name),
        "service_name": html.escape(view.service_name),
        "number": html.escape(view.number),
        "status": html.escape(view.status.value),
        "status_text": html.escape(view.status_text),
        "details": "".join(f'<p class="detail">{line}</p>' for line in lines),
        "issued_at": view.issued_at.strftime("%Y-%m-%d %H:%M"),
        "updated_at": view.updated_at.strftime("%H:%M:%S"),
    }
    page = _template("status.html")
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", value)
    return page


@router.get(
    "/t/{hall}/{ticket_id}",
    response_model=PublicTicketOut,
    responses={200: {"content": {"text/html": {}}}},
)
async def ticket_status(
    hall: str,
    ticket_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    s: Annotated[str | None, Query(max_length=64, description="the link's signature")] = None,
    fmt: Annotated[Literal["html", "json"] | None, Query(alias="format")] = None,
) -> Response:
    """排队进度: the ticket's status for whoever holds its printed link (no account)."""
    wants_json = _wants_json(request, fmt)
    try:
        view = await _public_view(session, settings, hall, ticket_id, s)
    except NotFound:
        if wants_json:
            raise
        return HTMLResponse(_template("not_found.html"), status_code=404, headers=_PAGE_HEADERS)
    if wants_json:
        return JSONResponse(view.model_dump(mode="json"), headers=_HEADERS)
    return HTMLResponse(render_page(view), headers=_PAGE_HEADERS)
