"""我的评价: a staff member's own ratings and bad-review cases, as they may see them.

Read-only, for the clerk rated. Each rating and case is shown only once the rule of
:mod:`.visibility` allows it (never while the citizen may still be there); nothing of
the citizen's own is given (no callback phone, no record of it being read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.evaluations.models import Evaluation
from services.engine.halls.models import Hall, Service
from services.engine.reviews.indicators import Indicators, RatingFact, compute
from services.engine.reviews.models import ReviewCase
from services.engine.reviews.service import CaseFilter, list_cases, settings_of
from services.engine.reviews.visibility import visible_to_staff
from services.engine.tickets.models import Ticket
from services.engine.windows.repository import window_numbers

# The most ratings one page lists (newest first); the counts cover them all.
MAX_LISTED = 500


@dataclass(frozen=True)
class MyRating:
    ticket_id: int
    number: str
    service: str
    window: int | None
    level: int
    channel: str
    reasons: list[str]
    comment: str | None
    rated_at: datetime
    case_id: int | None


@dataclass(frozen=True)
class MyRatings:
    ratings: list[MyRating]  # visible ones, newest first (at most MAX_LISTED)
    # The indicators of the visible ratings (counts per level, 好评率...), computed as
    # everywhere else (indicators.compute); no tickets counted, so no 参评率 here.
    summary: Indicators
    held_back: int  # ratings given but not shown yet (visibility rule)
    delay_minutes: int


async def _delay(session: AsyncSession, hall: Hall) -> timedelta:
    return timedelta(minutes=(await settings_of(session, hall.id)).staff_view_delay_minutes)


async def my_ratings(
    *,
    session: AsyncSession,
    hall: Hall,
    user_id: int,
    start: date,
    end: date,
    now: datetime | None = None,
) -> MyRatings:
    """The ratings of the tickets this staff member finished, given in ``start``..``end``
    (the hall's dates), as far as the visibility rule shows them at ``now``."""
    now = now or utcnow()
    delay = await _delay(session, hall)
    tz = ZoneInfo(hall.timezone)
    lo = datetime.combine(start, datetime.min.time(), tz)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), tz)
    numbers = await window_numbers(session, hall.id)
    rows = await session.execute(
        select(
            Evaluation,
            Ticket.number,
            Ticket.finished_at,
            Service.name,
            ReviewCase.id,
            ReviewCase.appeal,
        )
        .join(Ticket, Ticket.id == Evaluation.ticket_id)
        .join(Service, Service.id == Evaluation.service_id)
        .outerjoin(ReviewCase, ReviewCase.evaluation_id == Evaluation.id)
        .where(
            Evaluation.hall_id == hall.id,
            Evaluation.staff_user_id == user_id,
            Evaluation.created_at >= lo,
            Evaluation.created_at < hi,
        )
        .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
    )
    shown: list[MyRating] = []
    facts: list[RatingFact] = []
    held_back = 0
    for evaluation, number, finished_at, service_name, case_id, appeal in rows.all():
        if not visible_to_staff(finished_at, evaluation.created_at, now, delay):
            held_back += 1
            continue
        facts.append(RatingFact(evaluation.level, evaluation.channel, appeal == "upheld"))
        if len(shown) < MAX_LISTED:
            shown.append(
                MyRating(
                    ticket_id=evaluation.ticket_id,
                    number=number,
                    service=service_name,
                    window=numbers.get(evaluation.window_id) if evaluation.window_id else None,
                    level=evaluation.level,
                    channel=evaluation.channel,
                    reasons=list(evaluation.reasons or []),
                    comment=evaluation.comment,
                    rated_at=evaluation.created_at,
                    case_id=case_id,
                )
            )
    summary = compute(0, facts, [])
    return MyRatings(shown, summary, held_back, int(delay.total_seconds() // 60))


async def my_cases(
    *, session: AsyncSession, hall: Hall, user_id: int, now: datetime | None = None
) -> list[ReviewCase]:
    """This staff member's bad-review cases that the visibility rule shows, newest first."""
    now = now or utcnow()
    delay = await _delay(session, hall)
    cases = await list_cases(session=session, hall=hall, where=CaseFilter(staff_user_id=user_id))
    if not cases:
        return []
    finished = dict(
        (
            await session.execute(
                select(Ticket.id, Ticket.finished_at).where(
                    Ticket.id.in_([c.ticket_id for c in cases])
                )
            )
        ).all()
    )
    # A case opens with its rating: opened_at is when the citizen rated.
    return [
        c for c in cases if visible_to_staff(finished.get(c.ticket_id), c.opened_at, now, delay)
    ]


async def check_visible(
    *, session: AsyncSession, hall: Hall, case: ReviewCase, now: datetime | None = None
) -> None:
    """Refuse, as unknown, a case the clerk may not see yet (an appeal of it)."""
    ticket = await session.get(Ticket, case.ticket_id)
    delay = await _delay(session, hall)
    finished_at = ticket.finished_at if ticket else None
    if not visible_to_staff(finished_at, case.opened_at, now or utcnow(), delay):
        raise NotFound(f"no bad-review case {case.id} in this hall")
