"""The hall settings page (大厅设置) and its API: services, opening hours and calendar,
calling rules, the hall file export.

For managers and admins of the hall (``ManageAccess``). Every change is checked with
the hall file's rules (``setup.edit``), takes effect at once and is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.balancing.policy import POLICIES
from services.engine.core.db import utcnow
from services.engine.core.problems import problem_responses
from services.engine.deps import ManageAccess, SessionDep
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.national import national_calendar
from services.engine.halls.service import get_hall, hours_of, rules_of
from services.engine.manage.settings_schemas import (
    CalendarOut,
    CalendarYearOut,
    ChangeOut,
    HoursIn,
    NationalDayOut,
    NewServiceIn,
    RulesIn,
    ServiceIn,
    ServiceOut,
    SettingsOut,
)
from services.engine.pages import CSS, JS, hall_page, page_file
from services.engine.setup import edit
from services.engine.setup.export import export_text
from services.engine.tickets.numbering import business_date
from services.engine.windows import repository as windows_repo

api = APIRouter(prefix="/api/v1/halls/{hall}/settings", tags=["hall settings"])
pages = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"settings.js": JS, "settings.css": CSS}
ServiceCode = Annotated[str, PathParam(max_length=64, description="the service's code")]


def calendar_of(hall: Hall) -> CalendarOut:
    """This year's and next year's national days, whether the hall opens on each, and
    a warning for a year the installed calendar does not know (never guessed)."""
    national = national_calendar()
    hours = hours_of(hall)
    schedule = hours.schedule()
    this_year = business_date(utcnow(), hall.timezone).year
    years = [this_year, this_year + 1]
    unknown = national.unknown_years(years)
    warning = None
    if unknown and hours.national_calendar:
        listed = "、".join(str(y) for y in unknown)
        warning = (
            f"已安装的国家节假日日历（chinese-calendar）尚无 {listed} 年的安排："
            f"这些年份只按每周办公时间和本厅自定日期开放，法定节假日和调休不会自动生效。"
            f"请在国务院公布安排后升级 chinese-calendar，或暂将节假日填为本厅闭厅日期。"
        )
    return CalendarOut(
        follows_national=hours.national_calendar,
        first_year=national.first_year,
        last_year=national.last_year,
        unknown_years=unknown,
        warning=warning,
        years=[
            CalendarYearOut(
                year=y,
                known=national.knows(y),
                days=[
                    NationalDayOut(
                        date=d.day,
                        holiday=d.holiday,
                        working=d.working,
                        open=bool(schedule.sessions_on(d.day)),
                    )
                    for d in national.days_of(y)
                ],
            )
            for y in years
        ],
    )


async def settings_of(session: AsyncSession, hall: Hall) -> SettingsOut:
    services = await halls_repo.services_of(session, hall.id)
    windows = {w.id: w for w in await windows_repo.windows_of(session, hall.id, active_only=True)}
    serving: dict[int, list[int]] = {}
    for link in await windows_repo.window_services_of(session, hall.id):
        if link.role != "tidal" and link.window_id in windows:
            serving.setdefault(link.service_id, []).append(windows[link.window_id].number)
    return SettingsOut(
        hall=hall.code,
        name=hall.name,
        timezone=hall.timezone,
        hours=hours_of(hall).model_dump(mode="json"),
        rules=rules_of(hall).model_dump(mode="json"),
        services=[
            ServiceOut(
                code=s.code,
                name=s.name,
                prefix=s.prefix,
                width=s.number_width,
                daily_quota=s.daily_quota,
                period_quotas=list(s.period_quotas or []),
                hours=s.hours,
                target_wait_minutes=s.target_wait_minutes,
                average_handle_minutes=s.average_handle_minutes,
                active=s.active,
                windows=sorted(serving.get(s.id, [])),
            )
            for s in sorted(services, key=lambda s: (not s.active, s.sort_order, s.id))
        ],
        calendar=calendar_of(hall),
        policies=list(POLICIES),
    )


async def _answer(session: AsyncSession, code: str, change: edit.Change) -> ChangeOut:
    hall = await get_hall(session=session, code=code)
    out = ChangeOut(
        target=change.target,
        changed=change.changed,
        before=change.before,
        after=change.after,
        settings=await settings_of(session, hall),
    )
    await session.rollback()
    return out


@api.get("", response_model=SettingsOut)
async def read_settings(access: ManageAccess, session: SessionDep) -> SettingsOut:
    """The hall's services, opening hours and calendar, calling rules, as in force now."""
    hall = await get_hall(session=session, code=access.hall.code)
    out = await settings_of(session, hall)
    await session.rollback()  # a read: end it (SQLite holds its lock)
    return out


@api.put("/hours", response_model=ChangeOut, responses=problem_responses(422))
async def put_hours(body: HoursIn, access: ManageAccess, session: SessionDep) -> ChangeOut:
    """Opening sessions, extra sessions, closed dates, 调休 working dates, whether the
    national calendar applies: the fields sent replace the hall's, at once."""
    values: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
    change = await edit.change_hall_settings(
        session=session,
        hall=access.hall,
        section="hours",
        values=values,
        actor=access.principal.actor,
    )
    return await _answer(session, access.hall.code, change)


@api.put("/rules", response_model=ChangeOut, responses=problem_responses(422))
async def put_rules(body: RulesIn, access: ManageAccess, session: SessionDep) -> ChangeOut:
    """Calling rules (recalls, 过号, interleave, policy...): the fields sent, at once."""
    change = await edit.change_hall_settings(
        session=session,
        hall=access.hall,
        section="rules",
        values=body.model_dump(mode="json", exclude_none=True),
        actor=access.principal.actor,
    )
    return await _answer(session, access.hall.code, change)


@api.put("/services/{code}", response_model=ChangeOut, responses=problem_responses(404, 422))
async def put_service(
    code: ServiceCode, body: ServiceIn, access: ManageAccess, session: SessionDep
) -> ChangeOut:
    """A service's name, prefix, quotas, hours, target wait, active: the fields sent
    (``null`` for ``daily_quota`` or ``hours``: none, the hall's), at once."""
    change = await edit.change_service(
        session=session,
        hall=access.hall,
        code=code,
        values=body.model_dump(mode="json", exclude_unset=True),
        actor=access.principal.actor,
    )
    return await _answer(session, access.hall.code, change)


@api.post("/services", response_model=ChangeOut, status_code=201, responses=problem_responses(422))
async def post_service(body: NewServiceIn, access: ManageAccess, session: SessionDep) -> ChangeOut:
    """A new service, issued at once; no window serves it until one is given it."""
    values = body.model_dump(mode="json", exclude_unset=True)
    code = values.pop("code")
    change, _ = await edit.add_service(
        session=session, hall=access.hall, code=code, values=values, actor=access.principal.actor
    )
    return await _answer(session, access.hall.code, change)


@api.get(
    "/export",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "the hall file (TOML)"}},
)
async def export(access: ManageAccess, session: SessionDep) -> PlainTextResponse:
    """The hall's configuration as its hall file (what ``jiaohao hall export`` writes)."""
    code = access.hall.code
    text = await export_text(session, await get_hall(session=session, code=code), now=utcnow())
    await session.rollback()
    return PlainTextResponse(
        text,
        media_type="application/toml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}.toml"'},
    )


# -- the page -----------------------------------------------------------------------------


@pages.get("/manage/{hall}/settings", response_class=HTMLResponse, responses=problem_responses(404))
async def settings_page(hall: str, session: SessionDep) -> HTMLResponse:
    """The hall settings page: log in with a manager or admin account."""
    return await hall_page(session, hall, STATIC / "settings.html")


@pages.get("/manage/settings-assets/{name}", include_in_schema=False)
async def settings_asset(name: str) -> FileResponse:
    return page_file(STATIC, ASSETS, name)
