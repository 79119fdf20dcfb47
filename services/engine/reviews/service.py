"""Use cases of the 好差评 loop: ratings from every channel, bad-review cases worked
through 回访-核实-整改-反馈 to working-day deadlines, the appeal, the indicators.

Every step is written with who and when (``review_steps``); nothing is deleted. The
callback phone is sealed at rest (``core.pii.seal``), opened only for a manager
working the case (each opening is a step of the timeline) and erased after the
hall's retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import scope
from services.engine.auth.permissions import Principal, Role
from services.engine.core import pii
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, NotFound, ValidationFailed
from services.engine.evaluations import service as evaluations
from services.engine.evaluations.models import Evaluation
from services.engine.evaluations.rules import is_bad
from services.engine.events import outbox
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import hours_of
from services.engine.reviews import export as export_rules
from services.engine.reviews.calendar import WorkCalendar
from services.engine.reviews.codes import table_for
from services.engine.reviews.indicators import CaseFact, Indicators, RatingFact, compute
from services.engine.reviews.models import ReviewCase, ReviewSettingsRow, ReviewStep
from services.engine.reviews.settings import ReviewSettings
from services.engine.reviews.states import (
    SATISFACTION,
    CaseState,
    Step,
    check_decider,
    counts_for_rectification,
    next_state,
)
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import TicketStatus
from services.engine.windows.repository import window_numbers

log = logging.getLogger(__name__)
PHONE_CONTEXT = "review-case-phone:{hall}:{evaluation}"
# What each step must say.
REQUIRED: dict[Step, tuple[str, ...]] = {
    Step.CONTACT: ("channel", "result"),
    Step.VERIFY: ("valid",),
    Step.APPEAL: ("reason",),
    Step.DECIDE: ("upheld",),
    Step.PLAN: ("measure", "responsible"),
    Step.REPLY: ("reply",),
    Step.SATISFACTION: ("satisfaction",),
}


# --- settings and calendar -------------------------------------------------------


async def settings_of(session: AsyncSession, hall_id: int) -> ReviewSettings:
    row = await session.get(ReviewSettingsRow, hall_id)
    return ReviewSettings.model_validate(row.settings) if row else ReviewSettings()


async def put_settings(
    *, session: AsyncSession, hall: Hall, settings: ReviewSettings, principal: Principal
) -> ReviewSettings:
    row = await session.get(ReviewSettingsRow, hall.id)
    data = settings.model_dump(mode="json")
    if row is None:
        session.add(ReviewSettingsRow(hall_id=hall.id, settings=data, updated_at=utcnow()))
    else:
        row.settings = data
        row.updated_at = utcnow()
    outbox.stage(session, hall.id, "review.settings_changed", {"by": principal.actor})
    await outbox.commit(session)
    return settings


def calendar_of(hall: Hall, settings: ReviewSettings) -> WorkCalendar:
    """The national calendar with the hall's closed and 调休 dates (its hours and its
    好差评 settings)."""
    hours = hours_of(hall)
    return WorkCalendar.of(
        closed=[*hours.closed_dates, *settings.closed_dates],
        extra=[*hours.working_dates, *settings.working_dates],
    )


def local_date(hall: Hall, at: datetime) -> date:
    return at.astimezone(ZoneInfo(hall.timezone)).date()


# --- ratings -----------------------------------------------------------------------


async def rate(
    *,
    session: AsyncSession,
    hall: Hall,
    ticket_id: int,
    level: int,
    reasons: list[str],
    comment: str | None,
    channel: str,
    pii_key: str,
    from_pad: bool = False,
    items: dict[str, int] | None = None,
    content_version: str | None = None,
    callback_phone: str | None = None,
    by_link: bool = False,
    now: datetime | None = None,
) -> tuple[Evaluation, ReviewCase | None]:
    """Record a citizen's rating; a 差评 opens its case in the same transaction.

    ``by_link``: rated from the ticket's QR code or a sent link, allowed for the
    hall's ``rating_days`` after the ticket was finished.
    """
    settings = await settings_of(session, hall.id)
    phone = pii.normalise_phone(callback_phone) if callback_phone else None
    if phone is not None and not (is_bad(level) and len(phone) == 11):
        raise ValidationFailed(
            "a callback phone is taken only with a rating of 1 or 2, as 11 digits"
        )
    evaluation, ticket = await evaluations.record_rating(
        session=session,
        hall=hall,
        ticket_id=ticket_id,
        level=level,
        reasons=reasons,
        comment=comment,
        channel=channel,
        from_pad=from_pad,
        items=items,
        content_version=content_version,
        finished_after=(now or utcnow()) - timedelta(days=settings.rating_days)
        if by_link
        else None,
        now=now,
    )
    case = None
    if is_bad(level):
        case = await _open_case(session, hall, settings, evaluation, ticket, phone, pii_key)
    await outbox.commit(session)
    return evaluation, case


async def _open_case(
    session: AsyncSession,
    hall: Hall,
    settings: ReviewSettings,
    evaluation: Evaluation,
    ticket: Ticket,
    phone: str | None,
    pii_key: str,
) -> ReviewCase:
    calendar = calendar_of(hall, settings)
    day = local_date(hall, evaluation.created_at)
    now = evaluation.created_at
    case = ReviewCase(
        hall_id=hall.id,
        evaluation_id=evaluation.id,
        ticket_id=ticket.id,
        service_id=ticket.service_id,
        window_id=ticket.window_id,
        staff_user_id=ticket.staff_user_id,
        level=evaluation.level,
        state=CaseState.PENDING_CONTACT.value,
        opened_at=now,
        contact_due=calendar.add_working_days(day, settings.contact_days),
        rectify_due=calendar.add_working_days(day, settings.rectify_days),
        callback_phone=(
            pii.seal(pii_key, PHONE_CONTEXT.format(hall=hall.id, evaluation=evaluation.id), phone)
            if phone
            else None
        ),
        publish_comment=False,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    session.add(
        ReviewStep(
            case_id=case.id,
            hall_id=hall.id,
            at=now,
            step="opened",
            actor=f"citizen:{evaluation.channel}",
            detail={"level": evaluation.level, "callback_phone": phone is not None},
        )
    )
    outbox.stage(session, hall.id, "review.case_opened", _event(case, ticket.number))
    return case


def _event(case: ReviewCase, number: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "case_id": case.id,
        "ticket_id": case.ticket_id,
        "level": case.level,
        "state": case.state,
        "window_id": case.window_id,
        "staff_user_id": case.staff_user_id,
        "contact_due": case.contact_due.isoformat(),
        "rectify_due": case.rectify_due.isoformat(),
    }
    if number is not None:
        out["number"] = number
    return out


# --- the case workflow -----------------------------------------------------------


async def get_case(session: AsyncSession, hall: Hall, case_id: int) -> ReviewCase:
    case = await session.get(ReviewCase, case_id)
    if case is None or case.hall_id != hall.id:
        raise NotFound(f"no bad-review case {case_id} in this hall")
    return case


def _may_work(principal: Principal) -> None:
    if principal.role not in (Role.MANAGER.value, Role.ADMIN.value):
        raise Forbidden("only a manager works bad-review cases")


async def act(
    *,
    session: AsyncSession,
    hall: Hall,
    case_id: int,
    step: Step,
    principal: Principal,
    detail: dict[str, Any],
) -> ReviewCase:
    """Take one step of a case (see :mod:`.states`), recorded with who and when."""
    missing = [name for name in REQUIRED.get(step, ()) if detail.get(name) in (None, "")]
    if step is Step.VERIFY and detail.get("valid") is False and not detail.get("reason"):
        missing.append("reason")
    if missing:
        raise ValidationFailed(f"'{step.value}' needs {', '.join(missing)}", fields=missing)
    case = await get_case(session, hall, case_id)
    if step is Step.APPEAL:
        # The rated staff member appeals their own case; a manager may file it for them.
        if principal.role == Role.STAFF.value and principal.user_id != case.staff_user_id:
            raise Forbidden("a staff member appeals only a review of their own service")
    elif step is Step.DECIDE:
        # 申诉复核: the region admin above the hall where there is one (states.py).
        above = await scope.region_admins_above(session, hall) > 0
        check_decider(principal.role, region_admin_above=above)
    else:
        _may_work(principal)
    state = CaseState(case.state)
    now = utcnow()
    valid = detail.get("valid")
    upheld = detail.get("upheld")
    new = next_state(
        state,
        step,
        valid=valid,
        upheld=upheld,
        appealed_before=case.appeal is not None,
    )
    if step is Step.CONTACT:
        case.contacted_at = now
    elif step is Step.VERIFY:
        case.valid = bool(valid)
        if not valid:
            case.invalid_reason = detail.get("reason")
            case.appeal = "filed"
    elif step is Step.APPEAL:
        case.appeal = "filed"
        case.invalid_reason = detail.get("reason")
    elif step is Step.DECIDE:
        case.appeal = "upheld" if upheld else "rejected"
        case.valid = not upheld
        if upheld:
            case.closed_at = now
    elif step is Step.PLAN:
        case.measure = detail.get("measure")
        case.responsible = detail.get("responsible")
    elif step is Step.RECTIFIED:
        case.rectified_at = now
    elif step is Step.REPLY:
        case.reply = detail.get("reply")
        case.replied_at = now
        case.publish_comment = bool(detail.get("publish_comment"))
    elif step is Step.SATISFACTION:
        if detail.get("satisfaction") not in SATISFACTION:
            raise ValidationFailed(f"satisfaction is one of {', '.join(SATISFACTION)}")
        case.satisfaction = detail["satisfaction"]
    elif step is Step.CLOSE:
        case.closed_at = now
    case.state = new.value
    case.updated_at = now
    session.add(
        ReviewStep(
            case_id=case.id,
            hall_id=hall.id,
            at=now,
            step=step.value,
            actor=principal.actor,
            user_id=principal.user_id,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )
    kind = "review.case_appealed" if step is Step.APPEAL else "review.case_changed"
    outbox.stage(session, hall.id, kind, {**_event(case), "step": step.value})
    await outbox.commit(session)
    return case


async def read_phone(
    *, session: AsyncSession, hall: Hall, case_id: int, principal: Principal, pii_key: str
) -> str:
    """The callback phone, for a manager working the case; each reading is logged."""
    _may_work(principal)
    case = await get_case(session, hall, case_id)
    if case.callback_phone is None:
        raise NotFound("this case has no callback phone (none given, or erased)")
    if case.state == CaseState.CLOSED.value:
        raise Forbidden("the case is closed: its callback phone is no longer read")
    phone = pii.unseal(
        pii_key,
        PHONE_CONTEXT.format(hall=hall.id, evaluation=case.evaluation_id),
        case.callback_phone,
    )
    session.add(
        ReviewStep(
            case_id=case.id,
            hall_id=hall.id,
            at=utcnow(),
            step="phone_read",
            actor=principal.actor,
            user_id=principal.user_id,
            detail={},
        )
    )
    await session.commit()
    return phone


async def steps_of(session: AsyncSession, case_id: int) -> list[ReviewStep]:
    rows = await session.execute(
        select(ReviewStep).where(ReviewStep.case_id == case_id).order_by(ReviewStep.id)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    window_id: int | None = None
    staff_user_id: int | None = None
    service_id: int | None = None
    overdue: bool | None = None


def is_overdue(case: ReviewCase, today: date) -> bool:
    state = CaseState(case.state)
    if state is CaseState.PENDING_CONTACT and today > case.contact_due:
        return True
    return counts_for_rectification(state) and today > case.rectify_due


async def list_cases(
    *, session: AsyncSession, hall: Hall, where: CaseFilter, limit: int = 200
) -> list[ReviewCase]:
    query = select(ReviewCase).where(ReviewCase.hall_id == hall.id)
    if where.state:
        query = query.where(ReviewCase.state == where.state)
    if where.window_id is not None:
        query = query.where(ReviewCase.window_id == where.window_id)
    if where.staff_user_id is not None:
        query = query.where(ReviewCase.staff_user_id == where.staff_user_id)
    if where.service_id is not None:
        query = query.where(ReviewCase.service_id == where.service_id)
    rows = list(
        (await session.execute(query.order_by(ReviewCase.id.desc()).limit(limit))).scalars()
    )
    if where.overdue is not None:
        today = local_date(hall, utcnow())
        rows = [c for c in rows if is_overdue(c, today) == where.overdue]
    return rows


# --- the daily sweep: overdue cases, phone retention, system-default ratings -----


@dataclass(frozen=True)
class SweepResult:
    overdue: list[int]
    phones_erased: int
    defaults: int
    notified: int = 0


async def sweep(*, session: AsyncSession, hall: Hall, now: datetime | None = None) -> SweepResult:
    """Raise ``review.case_overdue`` once per case past a deadline, erase callback
    phones past retention, and give unrated tickets their system-default rating where
    the hall's platform wants one."""
    now = now or utcnow()
    settings = await settings_of(session, hall.id)
    today = local_date(hall, now)
    open_cases = list(
        (
            await session.execute(
                select(ReviewCase)
                .where(
                    ReviewCase.hall_id == hall.id,
                    ReviewCase.state != CaseState.CLOSED.value,
                    ReviewCase.overdue_at.is_(None),
                )
                # Several engine processes sweep: each case is raised once.
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    overdue: list[int] = []
    for case in open_cases:
        if is_overdue(case, today):
            case.overdue_at = now
            overdue.append(case.id)
            outbox.stage(session, hall.id, "review.case_overdue", _event(case))
    erase_before = now - timedelta(days=settings.phone_retention_days)
    to_erase = list(
        (
            await session.execute(
                select(ReviewCase).where(
                    ReviewCase.hall_id == hall.id,
                    ReviewCase.callback_phone.is_not(None),
                    ReviewCase.closed_at.is_not(None),
                    ReviewCase.closed_at <= erase_before,
                )
            )
        ).scalars()
    )
    erased = 0
    for case in to_erase:
        case.callback_phone = None
        case.phone_erased_at = now
        erased += 1
        session.add(
            ReviewStep(
                case_id=case.id,
                hall_id=hall.id,
                at=now,
                step="phone_erased",
                actor="system:retention",
                detail={"retention_days": settings.phone_retention_days},
            )
        )
    defaults = 0
    if settings.unrated == "default":
        defaults = await _default_ratings(session, hall, settings, now)
    payloads = [_event(c) for c in open_cases if c.id in overdue]
    await outbox.commit(session)
    notified = 0
    if settings.alert_webhook and payloads:
        notified = await _notify(settings.alert_webhook, hall.code, payloads)
    return SweepResult(overdue=overdue, phones_erased=erased, defaults=defaults, notified=notified)


async def _notify(url: str, hall_code: str, payloads: list[dict[str, Any]]) -> int:
    """Post each overdue case to the hall's alert address (a manager's WeChat/SMS
    gateway). No personal data; a failure is logged, the bus event stays."""
    sent = 0
    async with httpx.AsyncClient(timeout=5.0) as client:
        for payload in payloads:
            body = {"type": "review.case_overdue", "hall": hall_code, **payload}
            try:
                response = await client.post(url, json=body)
                response.raise_for_status()
                sent += 1
            except httpx.HTTPError as err:
                log.warning("overdue alert to the hall's webhook failed: %s", type(err).__name__)
    return sent


async def _default_ratings(
    session: AsyncSession, hall: Hall, settings: ReviewSettings, now: datetime
) -> int:
    """系统默认评价: a finished ticket left unrated past ``rating_days``."""
    cutoff = now - timedelta(days=settings.rating_days)
    rows = await session.execute(
        select(Ticket)
        .outerjoin(Evaluation, Evaluation.ticket_id == Ticket.id)
        .where(
            Ticket.hall_id == hall.id,
            Ticket.status == TicketStatus.DONE.value,
            Ticket.finished_at.is_not(None),
            Ticket.finished_at <= cutoff,
            Evaluation.id.is_(None),
        )
        .limit(5000)
    )
    count = 0
    for ticket in rows.scalars():
        session.add(
            Evaluation(
                ticket_id=ticket.id,
                hall_id=hall.id,
                service_id=ticket.service_id,
                window_id=ticket.window_id,
                staff_user_id=ticket.staff_user_id,
                level=settings.default_level,
                reasons=[],
                comment=None,
                channel="system_default",
                created_at=now,
            )
        )
        count += 1
    return count


# --- indicators ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which ratings an indicator set covers: a period and optionally one window,
    staff member or service."""

    start: date
    end: date  # inclusive
    window_id: int | None = None
    staff_user_id: int | None = None
    service_id: int | None = None
    priority: str | None = None  # one priority class of the tickets (statistics' filter)


FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def check_period(start: date, end: date) -> None:
    """A period runs from ``start`` to ``end`` (inclusive), at most a year, this century."""
    if not (FIRST_DAY <= start <= end <= LAST_DAY) or (end - start).days > 366:
        raise ValidationFailed(
            "the period runs from 'from' to 'to' (inclusive), at most 366 days, "
            "between 2000-01-01 and 2099-12-31"
        )


def _bounds(hall: Hall, scope: Scope) -> tuple[datetime, datetime]:
    tz = ZoneInfo(hall.timezone)
    start = datetime.combine(scope.start, datetime.min.time(), tz)
    end = datetime.combine(scope.end + timedelta(days=1), datetime.min.time(), tz)
    return start, end


# What an indicator set may be broken down by (统计: per window, staff member, service).
By = Literal["window", "staff", "service"]


@dataclass(frozen=True)
class _Keys:
    """The window, staff member and service a finished ticket or a rating belongs to."""

    window_id: int | None
    staff_user_id: int | None
    service_id: int | None

    def of(self, by: By | None) -> int | None:
        if by is None:
            return None
        return {"window": self.window_id, "staff": self.staff_user_id, "service": self.service_id}[
            by
        ]


async def _facts(
    session: AsyncSession, hall: Hall, scope: Scope
) -> tuple[list[tuple[_Keys, int]], list[tuple[_Keys, RatingFact, CaseFact | None]]]:
    """The scope's finished tickets (counted per window, staff member and service) and
    its ratings with their cases: tickets by business date, ratings by their day."""
    start, end = _bounds(hall, scope)
    finished_q = (
        select(Ticket.window_id, Ticket.staff_user_id, Ticket.service_id, func.count(Ticket.id))
        .where(
            Ticket.hall_id == hall.id,
            Ticket.status == TicketStatus.DONE.value,
            Ticket.business_date >= scope.start,
            Ticket.business_date <= scope.end,
        )
        .group_by(Ticket.window_id, Ticket.staff_user_id, Ticket.service_id)
    )
    rated_q = (
        select(Evaluation, ReviewCase)
        .outerjoin(ReviewCase, ReviewCase.evaluation_id == Evaluation.id)
        .where(
            Evaluation.hall_id == hall.id,
            Evaluation.created_at >= start,
            Evaluation.created_at < end,
        )
    )
    for column, ev_column, value in (
        (Ticket.window_id, Evaluation.window_id, scope.window_id),
        (Ticket.staff_user_id, Evaluation.staff_user_id, scope.staff_user_id),
        (Ticket.service_id, Evaluation.service_id, scope.service_id),
    ):
        if value is not None:
            finished_q = finished_q.where(column == value)
            rated_q = rated_q.where(ev_column == value)
    if scope.priority is not None:
        finished_q = finished_q.where(Ticket.priority == scope.priority)
        rated_q = rated_q.join(Ticket, Ticket.id == Evaluation.ticket_id).where(
            Ticket.priority == scope.priority
        )
    finished = [
        (_Keys(window_id, staff_id, service_id), int(count))
        for window_id, staff_id, service_id, count in (await session.execute(finished_q)).all()
    ]
    rated: list[tuple[_Keys, RatingFact, CaseFact | None]] = []
    for evaluation, case in (await session.execute(rated_q)).all():
        excluded = case is not None and case.appeal == "upheld"
        keys = _Keys(evaluation.window_id, evaluation.staff_user_id, evaluation.service_id)
        fact = None
        if case is not None:
            fact = CaseFact(
                rectify_due=case.rectify_due,
                excluded=excluded,
                contacted=case.contacted_at is not None,
                rectified_on=local_date(hall, case.rectified_at) if case.rectified_at else None,
                replied=case.replied_at is not None,
                satisfaction=case.satisfaction,
            )
        rated.append((keys, RatingFact(evaluation.level, evaluation.channel, excluded), fact))
    return finished, rated


async def indicators(*, session: AsyncSession, hall: Hall, scope: Scope) -> Indicators:
    """The indicators of a period: tickets by business date, ratings by their day."""
    return (await indicators_by(session=session, hall=hall, scope=scope, by=None))[None]


async def indicators_by(
    *, session: AsyncSession, hall: Hall, scope: Scope, by: By | None
) -> dict[int | None, Indicators]:
    """The indicators of a period for each window, staff member or service (by their
    row id; None: tickets without one), read once and computed by ``indicators.compute``
    per group. ``by=None`` gives the whole scope under the key None (even when empty)."""
    finished, rated = await _facts(session, hall, scope)
    return _grouped(finished, rated, by)


@dataclass(frozen=True)
class Breakdown:
    """A period's indicators in all, and per window, staff member and service (row ids)."""

    total: Indicators
    by_window: dict[int | None, Indicators]
    by_staff: dict[int | None, Indicators]
    by_service: dict[int | None, Indicators]


async def indicators_breakdown(*, session: AsyncSession, hall: Hall, scope: Scope) -> Breakdown:
    """The statistics' satisfaction report: every grouping from one reading of the rows."""
    finished, rated = await _facts(session, hall, scope)
    return Breakdown(
        total=_grouped(finished, rated, None)[None],
        by_window=_grouped(finished, rated, "window"),
        by_staff=_grouped(finished, rated, "staff"),
        by_service=_grouped(finished, rated, "service"),
    )


def _grouped(
    finished: list[tuple[_Keys, int]],
    rated: list[tuple[_Keys, RatingFact, CaseFact | None]],
    by: By | None,
) -> dict[int | None, Indicators]:
    counts: dict[int | None, int] = {}
    for keys, count in finished:
        key = keys.of(by)
        counts[key] = counts.get(key, 0) + count
    ratings: dict[int | None, list[RatingFact]] = {}
    cases: dict[int | None, list[CaseFact]] = {}
    for keys, rating, case in rated:
        key = keys.of(by)
        ratings.setdefault(key, []).append(rating)
        if case is not None:
            cases.setdefault(key, []).append(case)
    groups = set(counts) | set(ratings) | ({None} if by is None else set())
    return {
        key: compute(counts.get(key, 0), ratings.get(key, []), cases.get(key, [])) for key in groups
    }


# --- export and disclosure -------------------------------------------------------


def case_number(hall: Hall, ticket: Ticket) -> str:
    """办件编号 of a ticket: hall code, business date and ticket number."""
    return f"{hall.code}-{ticket.business_date:%Y%m%d}-{ticket.number}"


async def export(
    *, session: AsyncSession, hall: Hall, start: date, end: date, preset: str | None = None
) -> export_rules.Export:
    """The period's rating records and cases, coded by the hall's table or ``preset``."""
    check_period(start, end)
    settings = await settings_of(session, hall.id)
    table = table_for(preset) if preset is not None else table_for(settings.preset, settings.codes)
    lo, hi = _bounds(hall, Scope(start, end))
    tz = ZoneInfo(hall.timezone)

    def local(at: datetime | None) -> datetime | None:
        return at.astimezone(tz) if at else None

    rows = await session.execute(
        select(Evaluation, Ticket, ReviewCase)
        .join(Ticket, Ticket.id == Evaluation.ticket_id)
        .outerjoin(ReviewCase, ReviewCase.evaluation_id == Evaluation.id)
        .where(
            Evaluation.hall_id == hall.id,
            Evaluation.created_at >= lo,
            Evaluation.created_at < hi,
        )
        .order_by(Evaluation.created_at, Evaluation.id)
    )
    ratings: list[export_rules.RatingRecord] = []
    cases: list[export_rules.CaseRecord] = []
    for evaluation, ticket, case in rows.all():
        number = case_number(hall, ticket)
        ratings.append(
            export_rules.RatingRecord(
                case_number=number,
                channel=evaluation.channel,
                at=evaluation.created_at.astimezone(tz),
                level=evaluation.level,
                reasons=tuple(evaluation.reasons),
                comment=evaluation.comment,
            )
        )
        if case is not None:
            cases.append(
                export_rules.CaseRecord(
                    case_number=number,
                    opened_at=case.opened_at.astimezone(tz),
                    level=case.level,
                    state=case.state,
                    contact_due=case.contact_due,
                    rectify_due=case.rectify_due,
                    contacted_at=local(case.contacted_at),
                    valid=case.valid,
                    appeal=case.appeal,
                    measure=case.measure,
                    responsible=case.responsible,
                    rectified_at=local(case.rectified_at),
                    reply=case.reply,
                    replied_at=local(case.replied_at),
                    satisfaction=case.satisfaction,
                    closed_at=local(case.closed_at),
                )
            )
    return export_rules.build(table, settings.region_code, ratings, cases)


@dataclass(frozen=True)
class PublishedReview:
    """A bad review as the public disclosure shows it: no personal data."""

    day: date
    level: int
    service: str
    window: int | None
    comment: str | None  # only when a manager approved it for publication
    reply: str
    replied_on: date


async def published(
    *, session: AsyncSession, hall: Hall, start: date, end: date
) -> tuple[list[PublishedReview], dict[int | None, Indicators]]:
    """The replied bad reviews of a period and 好评率 per window, for the public page."""
    lo, hi = _bounds(hall, Scope(start, end))
    numbers = await window_numbers(session, hall.id)
    rows = await session.execute(
        select(ReviewCase, Evaluation, Service.name)
        .join(Evaluation, Evaluation.id == ReviewCase.evaluation_id)
        .join(Service, Service.id == ReviewCase.service_id)
        .where(
            ReviewCase.hall_id == hall.id,
            ReviewCase.opened_at >= lo,
            ReviewCase.opened_at < hi,
            ReviewCase.replied_at.is_not(None),
        )
        .order_by(ReviewCase.opened_at)
    )
    reviews = [
        PublishedReview(
            day=local_date(hall, case.opened_at),
            level=case.level,
            service=name,
            window=numbers.get(case.window_id) if case.window_id else None,
            comment=evaluation.comment if case.publish_comment else None,
            reply=case.reply or "",
            replied_on=local_date(hall, case.replied_at or case.opened_at),
        )
        for case, evaluation, name in rows.all()
    ]
    per_window: dict[int | None, Indicators] = {}
    for window_id in sorted(numbers, key=lambda w: numbers[w]):
        per_window[numbers[window_id]] = await indicators(
            session=session, hall=hall, scope=Scope(start, end, window_id=window_id)
        )
    return reviews, per_window
