"""Reading and cancelling tickets: what a ticket's holder and the hall see of it.

A ticket's view brings together its queue (tickets), the window it is called to
(windows) and its estimated wait (balancing); so do the hall's queue overview
and the kiosk's reprint search.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.balancing import service as balancing
from services.engine.bookings import repository as bookings_repo
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import hours_of
from services.engine.halls.settings import service_schedule
from services.engine.tickets import repository
from services.engine.tickets import service as tickets
from services.engine.tickets.models import Ticket
from services.engine.tickets.numbering import business_date
from services.engine.tickets.states import TicketStatus
from services.engine.windows import repository as windows_repo
from services.engine.windows.states import WindowState

CLOSED = WindowState.CLOSED.value


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    service: Service
    # 前方还有N人 (tickets/ahead.py), waiting tickets only.
    ahead: int | None
    window_number: int | None
    target_window_number: int | None
    wait: balancing.TicketWait | None = None


async def get_ticket(*, session: AsyncSession, hall: Hall, ticket_id: int) -> TicketView:
    ticket = await repository.get_ticket(session, hall.id, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    service = await halls_repo.get_service(session, ticket.service_id)
    assert service is not None
    wait = (
        await balancing.ticket_wait(session, hall, ticket, utcnow())
        if ticket.status == TicketStatus.WAITING.value
        else None
    )
    numbers = await windows_repo.window_numbers(session, hall.id)
    return TicketView(
        ticket,
        service,
        wait.ahead if wait is not None else None,
        numbers.get(ticket.window_id) if ticket.window_id else None,
        numbers.get(ticket.target_window_id) if ticket.target_window_id else None,
        wait,
    )


async def cancel_ticket(
    *, session: AsyncSession, hall: Hall, ticket_id: int, principal: Principal, reason: str | None
) -> TicketView:
    """Cancel a waiting or called ticket (the citizen left); frees a calling window."""
    ticket = await repository.get_ticket_for_update(session, hall.id, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    before, _ = await tickets.cancel(session, hall, ticket, actor=principal.actor, reason=reason)
    if before is TicketStatus.CALLED and ticket.window_id is not None:
        await windows_repo.release_window_holding(
            session, ticket.window_id, ticket.id, ticket.closed_at or utcnow()
        )
    await outbox.commit(session)
    return await get_ticket(session=session, hall=hall, ticket_id=ticket_id)


@dataclass(frozen=True)
class QueueView:
    service: Service
    waiting: int
    windows: list[int]
    open_windows: list[int]
    open_now: bool
    next_opening: datetime | None
    issued_today: int
    quota_left: int | None
    # For a normal ticket taken now: how many are ahead and the estimated wait.
    wait: balancing.TicketWait | None = None


async def queues(
    *, session: AsyncSession, hall: Hall, now: datetime | None = None
) -> list[QueueView]:
    """Per service: who waits, which windows serve it, whether it is open."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(hall.timezone))
    day: date = business_date(now, hall.timezone)
    counts = await repository.waiting_counts(session, hall.id)
    issued = await repository.issued_counts(session, hall.id, day)
    serving = await windows_repo.windows_by_service(session, hall.id)
    hours = hours_of(hall)
    board = await balancing.wait_board(session, hall, now)
    views: list[QueueView] = []
    for service in await halls_repo.services_of(session, hall.id, active_only=True):
        schedule = service_schedule(hours, service.hours)
        is_open = schedule.is_open(local)
        windows = serving.get(service.id, [])
        views.append(
            QueueView(
                service=service,
                waiting=counts.get(service.id, 0),
                windows=sorted(w.number for w in windows),
                open_windows=sorted(
                    w.number for w in windows if w.state != WindowState.CLOSED.value
                ),
                open_now=is_open,
                next_opening=None if is_open else schedule.next_opening(local),
                issued_today=issued.get(service.id, 0),
                quota_left=(
                    max(service.daily_quota - issued.get(service.id, 0), 0)
                    if service.daily_quota is not None
                    else None
                ),
                wait=balancing.TicketWait(
                    board.new_ticket_position(service.id),
                    board.estimate(service.id, board.new_ticket_position(service.id)),
                ),
            )
        )
    return views


async def find_by_number(
    *, session: AsyncSession, hall: Hall, number: str, now: datetime | None = None
) -> list[TicketView]:
    """Today's tickets with a number (补打 at the kiosk): ``A23`` finds ``A023``.

    A transfer carries the number on to a new ticket, so a number may name a
    chain; it is returned oldest first. Unknown or malformed numbers give none.
    """
    found = await tickets.of_day_with_number(session, hall, number, now or utcnow())
    return [await get_ticket(session=session, hall=hall, ticket_id=t.id) for t in found]


@dataclass(frozen=True)
class Position:
    ticket_id: int
    number: str
    service: Service
    status: str
    waiting_ahead: int | None
    estimated_wait_minutes: int | None
    window: int | None

    @property
    def message(self) -> str:
        """What the citizen's phone shows (前方还有N人 / 请到3号窗口)."""
        if self.status == TicketStatus.CALLED.value and self.window is not None:
            return f"请{self.number}号到{self.window}号窗口办理"
        if self.status == TicketStatus.WAITING.value and self.waiting_ahead is not None:
            return f"前方还有{self.waiting_ahead}人"
        return {
            TicketStatus.SERVING.value: "正在办理",
            TicketStatus.DONE.value: "已办结",
            TicketStatus.NO_SHOW.value: "已过号, 请重新取号",
            TicketStatus.CANCELLED.value: "已取消",
            TicketStatus.TRANSFERRED.value: "已转移",
            TicketStatus.HELD.value: "已挂起, 请等候回呼",
            TicketStatus.HELD_EXPIRED.value: "挂起已过期, 请重新取号",
        }.get(self.status, self.status)


async def position_of(*, session: AsyncSession, hall: Hall, ticket_id: int) -> Position:
    """The same place and estimate as the ticket's own view (kiosk slip, status page)."""
    view = await get_ticket(session=session, hall=hall, ticket_id=ticket_id)
    ticket = view.ticket
    return Position(
        ticket.id,
        ticket.number,
        view.service,
        ticket.status,
        view.ahead,
        view.wait.minutes if view.wait is not None else None,
        view.window_number,
    )


async def partner_ticket_position(
    *, session: AsyncSession, hall: Hall, ticket_id: int, partner_id: int
) -> Position:
    """A partner sees the tickets of its own bookings only."""
    booking = await bookings_repo.booking_of_ticket(session, ticket_id)
    if booking is None or booking.hall_id != hall.id or booking.partner_id != partner_id:
        raise NotFound(f"no ticket {ticket_id} among this partner's bookings")
    return await position_of(session=session, hall=hall, ticket_id=ticket_id)
