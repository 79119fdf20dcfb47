"""The window console's view (软件呼叫器): everything a clerk's screen shows of a window.

Crosses windows (the window, who is signed in, its services), tickets (the ticket in
hand and its log, the held list, the queues, the day's counts) and evaluations
(whether the last citizen rated; never the level). Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.evaluations import service as evaluations
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets.models import Ticket, TicketEvent
from services.engine.tickets.numbering import business_date
from services.engine.windows import repository as windows_repo
from services.engine.windows.models import Window

# How many of a service's next numbers the console lists.
PREVIEW = 5
# How far back the ticket in hand's history follows a transfer chain.
MAX_CHAIN = 10


@dataclass(frozen=True)
class QueueLine:
    service: Service
    role: str
    weight: float
    waiting: int
    oldest_since: datetime | None
    next_tickets: list[Ticket]


@dataclass(frozen=True)
class ConsoleView:
    window: Window
    staff: str | None
    in_hand: Ticket | None
    in_hand_service: Service | None
    # The ticket in hand's log (through the tickets it was transferred from), oldest first.
    history: list[TicketEvent]
    held: list[Ticket]
    queues: list[QueueLine]
    # Steps at this window today, by ticket action (call, finish, hold, ...).
    today: dict[str, int]
    # Cases finished here today, by outcome ("" when none was recorded).
    outcomes: dict[str, int]
    last_finished: Ticket | None
    last_rated: bool | None
    services: dict[int, Service]
    outcome_required: bool
    max_recalls: int


async def window_console(
    *, session: AsyncSession, hall: Hall, number: int, now: datetime | None = None
) -> ConsoleView:
    now = now or utcnow()
    window = await windows_repo.get_window(session, hall.id, number)
    if window is None or not window.active:
        raise NotFound(f"no window {number} in this hall")
    services = {s.id: s for s in await halls_repo.services_of(session, hall.id)}
    names = (
        await auth_service.usernames(session=session, user_ids=[window.staff_user_id])
        if window.staff_user_id
        else {}
    )
    in_hand = (
        await tickets_repo.get_ticket(session, hall.id, window.current_ticket_id)
        if window.current_ticket_id
        else None
    )
    history = await _history(session, hall, in_hand) if in_hand is not None else []
    queues = []
    for link in await windows_repo.service_roles(session, window.id):
        service = services.get(link.service_id)
        if service is None or not service.active:
            continue
        waiting, oldest, first = await tickets_repo.queue_preview(
            session, hall.id, service.id, window.id, limit=PREVIEW
        )
        queues.append(QueueLine(service, link.role, link.weight, waiting, oldest, list(first)))
    midnight = datetime.combine(
        business_date(now, hall.timezone), time(0), tzinfo=ZoneInfo(hall.timezone)
    )
    last = await tickets_repo.last_finished_at_window(session, window.id, midnight)
    rated = (
        await evaluations.is_rated(session=session, ticket_id=last.id) if last is not None else None
    )
    rules = rules_of(hall)
    return ConsoleView(
        window=window,
        staff=names.get(window.staff_user_id) if window.staff_user_id else None,
        in_hand=in_hand,
        in_hand_service=services.get(in_hand.service_id) if in_hand is not None else None,
        history=history,
        held=list(await tickets_repo.held_at_window(session, window.id)),
        queues=queues,
        today=await tickets_repo.window_actions_since(session, window.id, midnight),
        outcomes=await tickets_repo.outcomes_since(session, window.id, midnight),
        last_finished=last,
        last_rated=rated,
        services=services,
        outcome_required=rules.outcome_required,
        max_recalls=rules.max_recalls,
    )


async def _history(session: AsyncSession, hall: Hall, ticket: Ticket) -> list[TicketEvent]:
    """The ticket's log, with the logs of the tickets a transfer carried it on from."""
    chain = [ticket]
    while chain[-1].transferred_from_id is not None and len(chain) < MAX_CHAIN:
        earlier = await tickets_repo.get_ticket(session, hall.id, chain[-1].transferred_from_id)
        if earlier is None:
            break
        chain.append(earlier)
    events: list[TicketEvent] = []
    for t in reversed(chain):
        events.extend(await tickets_repo.events_of(session, t.id))
    return events
