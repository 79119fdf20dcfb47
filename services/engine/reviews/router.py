"""The 好差评 loop's API: bad-review cases, settings, indicators, export.

Managers work cases (工单); a staff member sees the ratings and cases of their own
service (never the citizen's contact) and may appeal one. Nobody here rates: a rating
is the citizen's own (不得代评).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Role
from services.engine.bookings import repository as bookings_repo
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, NotFound, ValidationFailed
from services.engine.deps import (
    ROW_ID_END,
    DecideAccess,
    ManageAccess,
    ReadAccess,
    ReportAccess,
    RowId,
    SessionDep,
    SettingsDep,
)
from services.engine.evaluations.models import Evaluation
from services.engine.halls.models import Hall, Service
from services.engine.partners.deps import PartnerAccess
from services.engine.reviews import export as export_rules
from services.engine.reviews import service, staff
from services.engine.reviews.calendar import provisional
from services.engine.reviews.models import ReviewCase
from services.engine.reviews.schemas import (
    CaseOut,
    MyRatingOut,
    MyRatingsOut,
    PartnerRatingOut,
    PhoneOut,
    PublicRatingIn,
    StaffCaseOut,
    StaffStepOut,
    StepIn,
    StepOut,
    SweepOut,
)
from services.engine.reviews.settings import ReviewSettings
from services.engine.reviews.states import (
    STATE_WORDS,
    CaseState,
    Step,
    counts_for_rectification,
    may_appeal,
)
from services.engine.tickets.models import Ticket
from services.engine.windows.repository import window_numbers

router = APIRouter(prefix="/api/v1/halls/{hall}/reviews", tags=["reviews"])
partner_router = APIRouter(prefix="/api/v1/partner/halls/{hall}", tags=["partner booking API"])


async def case_out(
    session: AsyncSession, hall: Hall, case: ReviewCase, *, with_steps: bool = False
) -> CaseOut:
    settings = await service.settings_of(session, hall.id)
    calendar = service.calendar_of(hall, settings)
    evaluation = await session.get(Evaluation, case.evaluation_id)
    ticket = await session.get(Ticket, case.ticket_id)
    svc = await session.get(Service, case.service_id)
    numbers = await window_numbers(session, hall.id)
    assert evaluation is not None and ticket is not None and svc is not None
    today = service.local_date(hall, utcnow())
    state = CaseState(case.state)
    left: int | None = None
    if state is CaseState.PENDING_CONTACT:
        left = calendar.working_days_left(today, case.contact_due)
    elif counts_for_rectification(state):
        left = calendar.working_days_left(today, case.rectify_due)
    steps = await service.steps_of(session, case.id) if with_steps else []
    return CaseOut(
        id=case.id,
        ticket_id=case.ticket_id,
        number=ticket.number,
        service=svc.name,
        window=numbers.get(case.window_id) if case.window_id else None,
        staff_user_id=case.staff_user_id,
        level=case.level,
        reasons=evaluation.reasons,
        comment=evaluation.comment,
        channel=evaluation.channel,
        state=case.state,
        state_text=STATE_WORDS[state],
        opened_at=case.opened_at,
        contact_due=case.contact_due,
        rectify_due=case.rectify_due,
        deadline_provisional=provisional(case.opened_at.date(), case.rectify_due),
        working_days_left=left,
        due_soon=left is not None and 0 <= left <= settings.due_soon_days,
        overdue=service.is_overdue(case, today),
        valid=case.valid,
        invalid_reason=case.invalid_reason,
        appeal=case.appeal,
        measure=case.measure,
        responsible=case.responsible,
        rectified_at=case.rectified_at,
        reply=case.reply,
        replied_at=case.replied_at,
        publish_comment=case.publish_comment,
        satisfaction=case.satisfaction,
        closed_at=case.closed_at,
        has_phone=case.callback_phone is not None,
        phone_erased_at=case.phone_erased_at,
        steps=[StepOut(at=s.at, step=s.step, actor=s.actor, detail=s.detail) for s in steps],
    )


@router.get("/settings", response_model=ReviewSettings)
async def get_settings(access: ManageAccess, session: SessionDep) -> ReviewSettings:
    """The hall's 好差评 settings (deadlines in working days, reasons, code table)."""
    return await service.settings_of(session, access.hall.id)


@router.put("/settings", response_model=ReviewSettings)
async def put_settings(
    body: ReviewSettings, access: ManageAccess, session: SessionDep
) -> ReviewSettings:
    return await service.put_settings(
        session=session, hall=access.hall, settings=body, principal=access.principal
    )


@router.get("/reasons", response_model=list[str])
async def reasons(access: ReadAccess, session: SessionDep) -> list[str]:
    """The hall's list of reasons for a 差评 (for the rating pages)."""
    return list((await service.settings_of(session, access.hall.id)).reasons)


@router.get("/cases", response_model=list[CaseOut])
async def list_cases(
    access: ReportAccess,
    session: SessionDep,
    state: CaseState | None = None,
    window: Annotated[int | None, Query(ge=1, le=999)] = None,
    staff: Annotated[int | None, Query(ge=1, lt=ROW_ID_END)] = None,
    service_code: Annotated[str | None, Query(alias="service", max_length=64)] = None,
    overdue: bool | None = None,
) -> list[CaseOut]:
    """差评工单: the hall's cases, newest first; filters by state, window, staff,
    service and overdue."""
    hall = access.hall
    window_id = None
    if window is not None:
        numbers = await window_numbers(session, hall.id)
        window_id = next((i for i, n in numbers.items() if n == window), -1)
    service_id = None
    if service_code is not None:
        found = await session.execute(
            select(Service.id).where(Service.hall_id == hall.id, Service.code == service_code)
        )
        service_id = found.scalar_one_or_none() or -1
    cases = await service.list_cases(
        session=session,
        hall=hall,
        where=service.CaseFilter(
            state=state.value if state else None,
            window_id=window_id,
            staff_user_id=staff,
            service_id=service_id,
            overdue=overdue,
        ),
    )
    return [await case_out(session, hall, c) for c in cases]


# Timeline steps the rated clerk does not see: the reading and erasing of the citizen's
# phone are the citizen's business.
HIDDEN_FROM_STAFF = frozenset({"phone_read", "phone_erased"})
# What of a case the clerk reads as it is (StaffCaseOut adds the rest).
STAFF_FIELDS = set(StaffCaseOut.model_fields) & set(CaseOut.model_fields) - {"steps"}


def _staff_user(access: ReadAccess) -> int:
    user_id = access.principal.user_id
    if user_id is None:
        raise Forbidden("only a staff account has ratings and cases of its own")
    return user_id


def staff_case_out(full: CaseOut) -> StaffCaseOut:
    """A case as the rated clerk sees it (no phone, no contact notes)."""
    return StaffCaseOut(
        **full.model_dump(include=STAFF_FIELDS),
        appeal_reason=full.invalid_reason,
        may_appeal=may_appeal(CaseState(full.state), full.appeal is not None),
        steps=[
            StaffStepOut(at=s.at, step=s.step)
            for s in full.steps
            if s.step not in HIDDEN_FROM_STAFF
        ],
    )


@router.get("/mine", response_model=list[StaffCaseOut])
async def my_cases(access: ReadAccess, session: SessionDep) -> list[StaffCaseOut]:
    """我的评价: a staff member's own bad-review cases, without the citizen's contact,
    each shown only once the citizen has gone (reviews/visibility.py)."""
    cases = await staff.my_cases(session=session, hall=access.hall, user_id=_staff_user(access))
    return [staff_case_out(await case_out(session, access.hall, c, with_steps=True)) for c in cases]


@router.get("/mine/ratings", response_model=MyRatingsOut)
async def my_ratings(
    access: ReadAccess,
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> MyRatingsOut:
    """我的评价: the ratings of the tickets this staff member finished, rated in the
    period (default: the last 30 days), each shown only once the citizen has gone."""
    today = service.local_date(access.hall, utcnow())
    last = end or today
    first = start or last - timedelta(days=29)
    service.check_period(first, last)
    found = await staff.my_ratings(
        session=session, hall=access.hall, user_id=_staff_user(access), start=first, end=last
    )
    good = found.summary.rates["good"].percent
    return MyRatingsOut(
        first=first,
        last=last,
        delay_minutes=found.delay_minutes,
        held_back=found.held_back,
        levels={str(k): v for k, v in sorted(found.summary.levels.items(), reverse=True)},
        defaults=found.summary.defaults,
        excluded=found.summary.excluded,
        good_percent=None if good is None else str(good),
        ratings=[MyRatingOut(**vars(r)) for r in found.ratings],
    )


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: RowId, access: ReportAccess, session: SessionDep) -> CaseOut:
    """A case with its timeline."""
    case = await service.get_case(session, access.hall, case_id)
    return await case_out(session, access.hall, case, with_steps=True)


@router.post("/cases/{case_id}/appeal", response_model=CaseOut)
async def appeal(case_id: RowId, body: StepIn, access: ReadAccess, session: SessionDep) -> CaseOut:
    """申诉: the rated staff member says the review is mistaken or malicious."""
    if access.principal.role not in (Role.STAFF.value, Role.MANAGER.value, Role.ADMIN.value):
        raise Forbidden("only staff accounts appeal")
    if access.principal.role == Role.STAFF.value:
        # A clerk appeals only what their page shows (never before the citizen is gone).
        shown = await service.get_case(session, access.hall, case_id)
        await staff.check_visible(session=session, hall=access.hall, case=shown)
    case = await service.act(
        session=session,
        hall=access.hall,
        case_id=case_id,
        step=Step.APPEAL,
        principal=access.principal,
        detail=body.model_dump(exclude_none=True),
    )
    # A clerk gets the case without its timeline (the managers' notes stay theirs).
    manager = access.principal.role != Role.STAFF.value
    return await case_out(session, access.hall, case, with_steps=manager)


@router.post("/cases/{case_id}/steps/{step}", response_model=CaseOut)
async def take_step(
    case_id: RowId, step: Step, body: StepIn, access: ManageAccess, session: SessionDep
) -> CaseOut:
    """Take the case's next step: contact, verify, decide, plan, rectified, reply,
    satisfaction, close. A step out of order is refused (case_step_out_of_order)."""
    if step is Step.APPEAL:
        raise ValidationFailed("an appeal is filed through /appeal")
    case = await service.act(
        session=session,
        hall=access.hall,
        case_id=case_id,
        step=step,
        principal=access.principal,
        detail=body.model_dump(exclude_none=True),
    )
    return await case_out(session, access.hall, case, with_steps=True)


@router.post("/cases/{case_id}/decide", response_model=CaseOut)
async def decide(
    case_id: RowId, body: StepIn, access: DecideAccess, session: SessionDep
) -> CaseOut:
    """申诉复核: decide an appeal (``upheld``: the review was mistaken or malicious).

    The region admin above the hall decides when there is one, else the hall's manager
    (``appeal_decided_by_region`` refuses the manager then; docs/reviews.md)."""
    case = await service.act(
        session=session,
        hall=access.hall,
        case_id=case_id,
        step=Step.DECIDE,
        principal=access.principal,
        detail=body.model_dump(exclude_none=True),
    )
    return await case_out(session, access.hall, case, with_steps=True)


@router.get("/cases/{case_id}/phone", response_model=PhoneOut)
async def read_phone(
    case_id: RowId, access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> PhoneOut:
    """The callback phone, for the manager calling back; each reading is logged."""
    phone = await service.read_phone(
        session=session,
        hall=access.hall,
        case_id=case_id,
        principal=access.principal,
        pii_key=settings.pii_key,
    )
    return PhoneOut(phone=phone)


@router.post("/sweep", response_model=SweepOut)
async def sweep(access: ManageAccess, session: SessionDep) -> SweepOut:
    """Overdue cases (one event each), phone retention, system-default ratings."""
    result = await service.sweep(session=session, hall=access.hall)
    return SweepOut(
        overdue=result.overdue,
        phones_erased=result.phones_erased,
        defaults=result.defaults,
        notified=result.notified,
    )


@router.get("/indicators")
async def indicators(
    access: ReportAccess,
    session: SessionDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    window: Annotated[int | None, Query(ge=1, le=999)] = None,
    staff: Annotated[int | None, Query(ge=1, lt=ROW_ID_END)] = None,
    service_code: Annotated[str | None, Query(alias="service", max_length=64)] = None,
) -> dict[str, object]:
    """The indicators of a period (docs/reviews.md), for the hall or one window, staff
    member or service."""
    service.check_period(start, end)
    hall = access.hall
    window_id = service_id = None
    if window is not None:
        numbers = await window_numbers(session, hall.id)
        window_id = next((i for i, n in numbers.items() if n == window), -1)
    if service_code is not None:
        found = await session.execute(
            select(Service.id).where(Service.hall_id == hall.id, Service.code == service_code)
        )
        service_id = found.scalar_one_or_none() or -1
    result = await service.indicators(
        session=session,
        hall=hall,
        scope=service.Scope(start, end, window_id, staff, service_id),
    )
    return {"from": start.isoformat(), "to": end.isoformat(), **result.as_dict()}


MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/export", responses={200: {"content": {m: {} for m in MEDIA.values()}}})
async def export(
    access: ManageAccess,
    session: SessionDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    fmt: Annotated[Literal["csv", "json", "xlsx"], Query(alias="format")] = "csv",
    what: Literal["ratings", "cases"] = "ratings",
    preset: Literal["national", "provincial_reverse"] | None = None,
) -> Response:
    """Rating records (GB/T 39046 fields) and cases for the provincial platform."""
    service.check_period(start, end)
    data = await service.export(
        session=session, hall=access.hall, start=start, end=end, preset=preset
    )
    kind = what if fmt == "csv" else "reviews"
    name = f"{access.hall.code}-{kind}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    if fmt == "csv":
        rows, fields = (
            (data.ratings, export_rules.RATING_FIELDS)
            if what == "ratings"
            else (data.cases, export_rules.CASE_FIELDS)
        )
        body = export_rules.to_csv(rows, fields)
    elif fmt == "json":
        body = export_rules.to_json(data)
    else:
        body = export_rules.to_xlsx(data)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Skipped-Ratings": str(data.skipped),
        },
    )


@partner_router.post(
    "/tickets/{ticket_id}/evaluation", status_code=201, response_model=PartnerRatingOut
)
async def partner_rating(
    ticket_id: RowId,
    body: PublicRatingIn,
    caller: PartnerAccess,
    session: SessionDep,
    settings: SettingsDep,
) -> PartnerRatingOut:
    """一事一评 from the mini-program: the citizen rates the ticket of their own booking
    once it is finished, within the hall's rating days (channel ``partner``)."""
    booking = await bookings_repo.booking_of_ticket(session, ticket_id)
    if (
        booking is None
        or booking.hall_id != caller.hall.id
        or booking.partner_id != caller.partner.id
    ):
        raise NotFound(f"no ticket {ticket_id} among this partner's bookings")
    evaluation, case = await service.rate(
        session=session,
        hall=caller.hall,
        ticket_id=ticket_id,
        level=body.level,
        reasons=body.reasons,
        comment=body.comment,
        channel="partner",
        pii_key=settings.pii_key,
        items={str(k): v for k, v in body.items.items()} if body.items else None,
        callback_phone=body.callback_phone,
        by_link=True,
    )
    return PartnerRatingOut(
        ticket_id=evaluation.ticket_id,
        level=evaluation.level,
        channel=evaluation.channel,
        case_opened=case is not None,
    )
