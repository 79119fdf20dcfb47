"""Use cases for ratings (好差评): one voluntary rating per finished ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import DeviceKind, Principal
from services.engine.core.db import utcnow
from services.engine.core.errors import (
    AlreadyRated,
    Forbidden,
    InvalidTicketState,
    NotFound,
    RatingClosed,
)
from services.engine.evaluations.models import Evaluation
from services.engine.evaluations.rules import check_rating, reason_missing
from services.engine.events import outbox
from services.engine.halls.models import Hall
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import TicketStatus
from services.engine.windows import repository as windows_repo


async def rate_ticket(
    *,
    session: AsyncSession,
    hall: Hall,
    ticket_id: int,
    level: int,
    reasons: list[str],
    comment: str | None,
    principal: Principal,
    from_pad: bool = False,
) -> Evaluation:
    """Record the citizen's rating of a finished ticket (一次一评) and commit.

    ``from_pad``: a gateway relays a key press on an evaluation pad, which cannot carry
    a reason (see :func:`rules.check_rating`).
    """
    if from_pad and principal.role != DeviceKind.GATEWAY.value:
        raise Forbidden("only a hall gateway relays evaluation pad presses")
    evaluation, _ = await record_rating(
        session=session,
        hall=hall,
        ticket_id=ticket_id,
        level=level,
        reasons=reasons,
        comment=comment,
        channel=principal.role,
        from_pad=from_pad,
    )
    await outbox.commit(session)
    return evaluation


async def record_rating(
    *,
    session: AsyncSession,
    hall: Hall,
    ticket_id: int,
    level: int,
    reasons: list[str],
    comment: str | None,
    channel: str,
    from_pad: bool = False,
    items: dict[str, int] | None = None,
    content_version: str | None = None,
    finished_after: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Evaluation, Ticket]:
    """Record a rating in the session, its event staged; the caller commits.

    ``channel`` says where the citizen rated (gateway, kiosk, qr, partner, sms,
    system_default). ``finished_after``: a rating by link is refused once the ticket
    was finished before this moment (``rating_closed``).
    """
    ticket = await tickets_repo.get_ticket_for_update(session, hall.id, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id} in this hall")
    if ticket.status != TicketStatus.DONE.value:
        raise InvalidTicketState(
            f"ticket {ticket.number} is {ticket.status}; only a finished ticket is rated"
        )
    check_rating(level, reasons, comment, from_pad=from_pad)
    if finished_after is not None and (ticket.finished_at or ticket.issued_at) < finished_after:
        raise RatingClosed(f"ticket {ticket.number} was finished too long ago to be rated")
    existing = (
        await session.execute(select(Evaluation.id).where(Evaluation.ticket_id == ticket.id))
    ).scalar_one_or_none()
    if existing is not None:
        raise AlreadyRated(f"ticket {ticket.number} has already been rated")
    evaluation = Evaluation(
        ticket_id=ticket.id,
        hall_id=hall.id,
        service_id=ticket.service_id,
        window_id=ticket.window_id,
        staff_user_id=ticket.staff_user_id,
        level=level,
        reasons=reasons,
        comment=comment,
        channel=channel,
        items=items,
        content_version=content_version,
        created_at=now or utcnow(),
    )
    session.add(evaluation)
    try:
        await session.flush()
    except IntegrityError as err:
        raise AlreadyRated(f"ticket {ticket.number} has already been rated") from err
    numbers = await windows_repo.window_numbers(session, hall.id)
    outbox.stage(
        session,
        hall.id,
        "rating.recorded",
        {
            "ticket_id": ticket.id,
            "number": ticket.number,
            "level": level,
            "window": numbers.get(ticket.window_id) if ticket.window_id else None,
            "reason_missing": reason_missing(level, reasons, comment),
            "channel": channel,
        },
    )
    return evaluation, ticket


async def get_evaluation(*, session: AsyncSession, hall: Hall, ticket_id: int) -> Evaluation:
    """The rating of one ticket; a finished ticket without one is 未评价."""
    evaluation = (
        await session.execute(
            select(Evaluation).where(
                Evaluation.hall_id == hall.id, Evaluation.ticket_id == ticket_id
            )
        )
    ).scalar_one_or_none()
    if evaluation is None:
        raise NotFound(f"ticket {ticket_id} of this hall has no rating (未评价)")
    return evaluation


async def is_rated(*, session: AsyncSession, ticket_id: int) -> bool:
    """Whether the citizen rated this ticket (已评价); the level stays the citizen's."""
    found = await session.execute(select(Evaluation.id).where(Evaluation.ticket_id == ticket_id))
    return found.scalar_one_or_none() is not None
