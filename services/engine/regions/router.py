"""Regions (行政区划): the tree, halls placed in it, and the reports rolled up from halls.

The tree is edited by administrators (or from hall files); a region admin reads the
tree below its region and the reports of every hall there (docs/statistics.md,
"Regions"; docs/manage.md, accounts). Routers hold no SQL: regions.service and
regions.rollup do the work.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse, HTMLResponse

from services.engine.auth.permissions import Capability, Principal, Role, authorise_region
from services.engine.core.errors import ValidationFailed
from services.engine.core.problems import problem_responses, refuses
from services.engine.deps import CurrentPrincipal, SessionDep
from services.engine.pages import CSS, JS, STAFF_PAGE_HEADERS, page_file
from services.engine.regions import figures, rollup, rules
from services.engine.regions import service as regions
from services.engine.regions.models import Region
from services.engine.regions.schemas import (
    HallBrief,
    HallHandlingOut,
    HallMonthOut,
    HallVolumesOut,
    HallWaitsOut,
    HallWindowMonthOut,
    HallWindowsOut,
    MonthlyOut,
    RegionBalanceOut,
    RegionHandlingOut,
    RegionIn,
    RegionOut,
    RegionVolumesOut,
    RegionWaitsOut,
    RegionWindowsOut,
    ServiceMonthOut,
    StationIn,
    SummaryOut,
    TreeOut,
    VolumeOut,
    WaitLineOut,
    WindowOut,
)
from services.engine.statistics import measures
from services.engine.statistics.downloads import FILE_RESPONSES, XLSX, file_response, workbook
from services.engine.statistics.reports import Group, Volume, WaitLine
from services.engine.statistics.service import Filters
from services.engine.tickets.states import PriorityClass

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])
page_router = APIRouter(tags=["pages"])

STATIC = pathlib.Path(__file__).resolve().parent / "static"
PAGE_ASSETS = {"regions.js": JS, "regions.css": CSS, "report.js": JS}
CodePath = Annotated[
    str,
    Path(
        pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$", description="行政区划代码 (6, 9 or 12 digits)"
    ),
]


# --- who may do what over a region --------------------------------------------------------


@dataclass(frozen=True)
class RegionAccess:
    region: Region
    principal: Principal


def region_access(capability: Capability) -> Callable[..., Awaitable[RegionAccess]]:
    async def dependency(
        code: CodePath, session: SessionDep, principal: CurrentPrincipal
    ) -> RegionAccess:
        region = await regions.get_region(session, code)
        authorise_region(principal, capability, region.path)
        return RegionAccess(region, principal)

    return refuses(403, 404)(dependency)


ReportRegion = Annotated[RegionAccess, Depends(region_access(Capability.REPORT))]
ManageRegion = Annotated[RegionAccess, Depends(region_access(Capability.MANAGE))]


@refuses(403)
async def administrator(principal: CurrentPrincipal) -> Principal:
    """A city-wide administrator: the only one who edits the tree."""
    authorise_region(principal, Capability.MANAGE, "/")
    return principal


Administrator = Annotated[Principal, Depends(administrator)]


# --- the tree ------------------------------------------------------------------------------


async def _tree(session: SessionDep, top: Region | None) -> list[RegionOut]:
    lines = await regions.tree(session, top)
    codes = {line.region.id: line.region.code for line in lines}
    out = [
        RegionOut(
            code=line.region.code,
            name=line.region.name,
            level=line.region.level,
            parent=codes.get(line.region.parent_id) if line.region.parent_id else None,
            path=line.region.path,
            halls=[HallBrief(code=h.code, name=h.name, remote=h.remote) for h in line.halls],
        )
        for line in lines
    ]
    if top is not None and top.parent_id is not None and out:
        parent = rules.codes_of(top.path)
        out[0].parent = parent[-2] if len(parent) > 1 else None
    await session.commit()
    return out


@router.get("", response_model=TreeOut, responses=problem_responses(403))
async def tree(session: SessionDep, principal: CurrentPrincipal) -> TreeOut:
    """The tree: every region for an administrator, a region admin's region and below."""
    if principal.role == Role.REGION_ADMIN and principal.region:
        top = await regions.get_region(session, principal.region)
        authorise_region(principal, Capability.REPORT, top.path)
        return TreeOut(scope=top.code, regions=await _tree(session, top))
    authorise_region(principal, Capability.MANAGE, "/")
    return TreeOut(scope=None, regions=await _tree(session, None))


@router.put("/{code}", response_model=RegionOut, responses=problem_responses(403, 404, 409))
async def put_region(
    code: CodePath, body: RegionIn, session: SessionDep, admin: Administrator
) -> RegionOut:
    """Add a region, or rename or move it (an administrator). The parent is the one
    given, else the one its code implies when that exists (e.g. 330106001 -> 330106)."""
    parent_given = "parent" in body.model_fields_set
    region, _ = await regions.put_region(
        session=session,
        spec=regions.RegionSpec(code, body.name, body.parent, parent_given),
        actor=admin.actor,
    )
    return (await _tree(session, region))[0]


@router.delete("/{code}", status_code=204, responses=problem_responses(403, 404, 409))
async def remove_region(code: CodePath, session: SessionDep, admin: Administrator) -> Response:
    """Remove a region with nothing below it (no region, hall or account)."""
    await regions.remove_region(session=session, code=code, actor=admin.actor)
    return Response(status_code=204)


@router.put("/{code}/halls/{hall}", response_model=HallBrief, responses=problem_responses(403, 404))
async def place_hall(
    code: CodePath, hall: str, session: SessionDep, admin: Administrator
) -> HallBrief:
    """Place a hall in the region (it leaves the one it was in)."""
    found = await regions.place_hall(
        session=session, hall_code=hall, region_code=code, actor=admin.actor
    )
    return HallBrief(code=found.code, name=found.name, remote=found.remote)


@router.delete("/{code}/halls/{hall}", status_code=204, responses=problem_responses(403, 404))
async def unplace_hall(
    code: CodePath, hall: str, session: SessionDep, admin: Administrator
) -> Response:
    """Take a hall out of the region (it is then in none)."""
    await regions.get_region(session, code)
    await regions.place_hall(session=session, hall_code=hall, region_code=None, actor=admin.actor)
    return Response(status_code=204)


@router.post(
    "/{code}/stations", response_model=HallBrief, responses=problem_responses(403, 404, 409)
)
async def register_station(
    code: CodePath, body: StationIn, session: SessionDep, admin: Administrator
) -> HallBrief:
    """Register a remote station (a hall that runs its own engine) under the region."""
    hall = await regions.register_station(
        session=session, code=body.code, name=body.name, region_code=code, actor=admin.actor
    )
    return HallBrief(code=hall.code, name=hall.name, remote=hall.remote)


# --- the reports, hall by hall and for the region -----------------------------------------

From = Annotated[date, Query(alias="from", description="first business day")]
To = Annotated[date, Query(alias="to", description="last business day, included")]
GroupQ = Annotated[Group, Query(description="hour, day, week, month, weekday or none")]


async def region_filters(
    service: Annotated[str | None, Query(max_length=64, description="a service code")] = None,
    staff: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
    priority: Annotated[PriorityClass | None, Query()] = None,
) -> Filters:
    """The hall reports' filters that mean the same in every hall (a window number does
    not: use the hall's own reports for one window)."""
    return Filters(service=service, staff=staff, priority=priority.value if priority else None)


FiltersDep = Annotated[Filters, Depends(region_filters)]


def _summary(s: measures.Summary) -> SummaryOut:
    return SummaryOut(count=s.count, mean=s.mean, median=s.median, p90=s.p90, max=s.max)


def _volume(key: str, v: Volume) -> VolumeOut:
    return VolumeOut(
        key=key,
        issued=v.issued,
        served=v.served,
        no_show=v.no_show,
        cancelled=v.cancelled,
        transferred=v.transferred,
        held=v.held,
        held_expired=v.held_expired,
        by_source=v.by_source,
        by_outcome=v.by_outcome,
    )


def _wait(key: str, service: str, line: WaitLine | None) -> WaitLineOut | None:
    if line is None:
        return None
    return WaitLineOut(
        key=key, service=service, seconds=_summary(line.summary), over_target=line.over_target
    )


def _waits(lines: dict[str, WaitLine]) -> list[WaitLineOut]:
    return [w for k, line in lines.items() if (w := _wait(k, "", line)) is not None]


async def _period(
    access: RegionAccess, session: SessionDep, first: date, last: date, filters: Filters
) -> rollup.Period:
    return await rollup.period_of(
        session=session, region=access.region, first=first, last=last, filters=filters
    )


@router.get("/{code}/stats/volumes", response_model=RegionVolumesOut)
async def volumes(
    access: ReportRegion,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    group: GroupQ = Group.DAY,
) -> RegionVolumesOut:
    """办件量 of each hall below the region and of the region (their sums)."""
    p = await _period(access, session, first, last, filters)
    per_hall, region = await rollup.volumes(session, p, group)
    await session.commit()
    halls = []
    for hall in p.halls:
        table = per_hall.get(hall.id, {})
        halls.append(
            HallVolumesOut(
                hall=hall.code,
                name=hall.name,
                note=p.notes.get(hall.id),
                rows=[_volume(k, v) for k, v in table.items()],
                total=_volume("total", rollup.total_volume(table)),
            )
        )
    return RegionVolumesOut(
        region=access.region.code,
        name=access.region.name,
        first=first,
        last=last,
        group=group,
        halls=halls,
        rows=[_volume(k, v) for k, v in region.items()],
        total=_volume("total", rollup.total_volume(region)),
    )


@router.get("/{code}/stats/waits", response_model=RegionWaitsOut)
async def waits(
    access: ReportRegion,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    group: GroupQ = Group.DAY,
) -> RegionWaitsOut:
    """Waits of each hall and of the region (from all its halls' tickets together)."""
    p = await _period(access, session, first, last, filters)
    found = await rollup.waits(session, p, group)
    await session.commit()
    halls = []
    for hall in p.halls:
        rows, total = found.per_hall.get(hall.id, ({}, None))
        halls.append(
            HallWaitsOut(
                hall=hall.code,
                name=hall.name,
                note=p.notes.get(hall.id),
                rows=_waits(rows),
                total=_wait("total", "", total),
            )
        )
    return RegionWaitsOut(
        region=access.region.code,
        name=access.region.name,
        first=first,
        last=last,
        group=group,
        halls=halls,
        rows=_waits(found.rows),
        by_service=[
            w
            for code, line in found.by_service.items()
            if (w := _wait("total", code, line)) is not None
        ],
        total=_wait("total", "", found.total),
    )


@router.get("/{code}/stats/handling", response_model=RegionHandlingOut)
async def handling(
    access: ReportRegion, session: SessionDep, first: From, last: To, filters: FiltersDep
) -> RegionHandlingOut:
    """Handling times per service, of each hall and of the region."""
    p = await _period(access, session, first, last, filters)
    per_hall, region = await rollup.handling(session, p)
    await session.commit()
    halls = []
    for hall in p.halls:
        found = per_hall.get(hall.id, rollup.handled({}))
        halls.append(
            HallHandlingOut(
                hall=hall.code,
                name=hall.name,
                note=p.notes.get(hall.id),
                by_service={k: _summary(v) for k, v in found.by_service.items()},
                count=found.count,
                mean_seconds=found.mean,
            )
        )
    return RegionHandlingOut(
        region=access.region.code,
        name=access.region.name,
        first=first,
        last=last,
        halls=halls,
        by_service={k: _summary(v) for k, v in region.by_service.items()},
        count=region.count,
        mean_seconds=region.mean,
    )


def _window(w: figures.RegionWindow) -> WindowOut:
    return WindowOut(
        hall=w.hall,
        window=w.window,
        cases=w.cases,
        handling_seconds=w.handling_seconds,
        case_share=w.case_share,
        low=w.low,
    )


def _balance(b: figures.RegionBalance) -> RegionBalanceOut:
    return RegionBalanceOut(
        top3_case_share=b.top3_case_share,
        top3_handling_share=b.top3_handling_share,
        gini_handling=b.gini_handling,
        busiest=[_window(w) for w in b.busiest],
        low_volume=[_window(w) for w in b.low_volume],
    )


@router.get("/{code}/stats/windows", response_model=RegionWindowsOut, responses=FILE_RESPONSES)
async def windows(
    access: ReportRegion,
    session: SessionDep,
    first: From,
    last: To,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> RegionWindowsOut | Response:
    """忙闲不均 across the region: every window of every hall, the busiest three windows'
    share of the region's cases, the windows under their hall's monthly threshold."""
    p = await _period(access, session, first, last, Filters())
    per_hall, found = await rollup.windows(session, p)
    await session.commit()
    halls = []
    for hall in p.halls:
        if hall.id not in per_hall:
            halls.append(
                HallWindowsOut(
                    hall=hall.code,
                    name=hall.name,
                    note=p.notes.get(hall.id),
                    cases=0,
                    top3_case_share=None,
                    gini_handling=None,
                    low_volume_windows=[],
                    low_volume_threshold=None,
                )
            )
            continue
        lines, balance = per_hall[hall.id]
        halls.append(
            HallWindowsOut(
                hall=hall.code,
                name=hall.name,
                note=None,
                cases=sum(line.cases for line in lines.values()),
                top3_case_share=balance.top3_case_share,
                gini_handling=balance.gini_handling,
                low_volume_windows=balance.low_volume_windows,
                low_volume_threshold=balance.low_volume_threshold,
            )
        )
    out = RegionWindowsOut(
        region=access.region.code,
        name=access.region.name,
        first=first,
        last=last,
        halls=halls,
        windows=[_window(w) for w in found.windows],
        balance=_balance(found),
    )
    if format == "json":
        return out
    names = {h.code: h.name for h in p.halls}
    table: list[list[object]] = [
        ["大厅", "窗口", "办件量", "占全区办件量", "办理时长(分钟)", "低于月度标准"]
    ]
    for w in out.windows:
        table.append(
            [
                names.get(w.hall, w.hall),
                f"{w.window}号窗口",
                w.cases,
                round(w.case_share, 4),
                round(w.handling_seconds / 60, 1),
                "是" if w.low else "",
            ]
        )
    name = f"windows-{access.region.code}-{first}-{last}"
    return file_response(name, [("窗口", table)], format)


# --- the district's monthly report (月报) ---------------------------------------------------

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def month_bounds(month: str) -> tuple[date, date]:
    found = _MONTH.match(month)
    if found is None or not 1 <= int(found[2]) <= 12:
        raise ValidationFailed("month is YYYY-MM", field="month")
    first = date(int(found[1]), int(found[2]), 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


def _monthly_out(found: rollup.Monthly, month: str) -> MonthlyOut:
    empty = _summary(measures.summary([]))
    halls = []
    for h in found.halls:
        low = set(h.balance.low_volume_windows) if h.balance else set()
        halls.append(
            HallMonthOut(
                hall=h.hall.code,
                name=h.hall.name,
                remote=h.hall.remote,
                note=h.note,
                volume=_volume("total", h.volume),
                wait=_summary(h.wait.summary) if h.wait else empty,
                over_target=h.wait.over_target if h.wait else None,
                handled=h.handling.count,
                handling_mean_seconds=h.handling.mean,
                services=[
                    ServiceMonthOut(
                        service=code,
                        name=name,
                        wait=_summary(w.summary) if w else empty,
                        over_target=w.over_target if w else None,
                        handled=t.count if t else 0,
                        handling_mean_seconds=t.mean if t else None,
                    )
                    for code, name, w, t in h.services
                ],
                windows=[
                    HallWindowMonthOut(
                        window=n,
                        cases=line.cases,
                        case_share=line.case_share,
                        handling_seconds=line.handling_seconds,
                        utilisation=line.utilisation,
                        low=n in low,
                    )
                    for n, line in h.windows.items()
                ],
                top3_case_share=h.balance.top3_case_share if h.balance else None,
                gini_handling=h.balance.gini_handling if h.balance else None,
                low_volume_threshold=h.balance.low_volume_threshold if h.balance else None,
            )
        )
    return MonthlyOut(
        region=found.region.code,
        name=found.region.name,
        level=found.region.level,
        month=month,
        first=found.first,
        last=found.last,
        halls=halls,
        volume=_volume("total", found.volume),
        wait=_summary(found.wait.summary) if found.wait else empty,
        over_target=found.wait.over_target if found.wait else None,
        handled=found.handling.count,
        handling_mean_seconds=found.handling.mean,
        balance=_balance(found.balance),
    )


def _pct(value: float | None) -> object:
    return round(value, 4) if value is not None else ""


def _minutes(value: float | None) -> object:
    return round(value / 60, 1) if value is not None else ""


def _monthly_book(out: MonthlyOut) -> bytes:
    names = {h.hall: h.name for h in out.halls}
    summary: list[list[object]] = [
        [
            "大厅",
            "取号",
            "办结",
            "过号",
            "取消",
            "平均等候(分钟)",
            "超目标占比",
            "平均办理(分钟)",
            "前三窗口占比",
            "低于月度标准的窗口",
        ],
    ]
    for h in out.halls:
        under = "、".join(f"{w.window}号" for w in h.windows if w.low)
        summary.append(
            [
                h.name,
                h.volume.issued,
                h.volume.served,
                h.volume.no_show,
                h.volume.cancelled,
                _minutes(h.wait.mean),
                _pct(h.over_target),
                _minutes(h.handling_mean_seconds),
                _pct(h.top3_case_share),
                h.note or under or "无",
            ]
        )
    summary.append(
        [
            f"{out.name}合计",
            out.volume.issued,
            out.volume.served,
            out.volume.no_show,
            out.volume.cancelled,
            _minutes(out.wait.mean),
            _pct(out.over_target),
            _minutes(out.handling_mean_seconds),
            _pct(out.balance.top3_case_share),
            f"{len(out.balance.low_volume)} 个窗口",
        ]
    )
    busiest: list[list[object]] = [["", "大厅", "窗口", "办件量", "占全区办件量"]]
    for i, w in enumerate(out.balance.busiest, 1):
        busiest.append(
            [f"第{i}", names.get(w.hall, w.hall), f"{w.window}号窗口", w.cases, _pct(w.case_share)]
        )
    busiest.append(
        [
            "前三合计",
            "",
            "",
            sum(w.cases for w in out.balance.busiest),
            _pct(out.balance.top3_case_share),
        ]
    )
    low: list[list[object]] = [["大厅", "窗口", "办件量"]]
    for w in out.balance.low_volume:
        low.append([names.get(w.hall, w.hall), f"{w.window}号窗口", w.cases])
    windows: list[list[object]] = [
        ["大厅", "窗口", "办件量", "本厅占比", "办理时长(分钟)", "利用率", "低于月度标准"]
    ]
    for h in out.halls:
        for line in h.windows:
            windows.append(
                [
                    h.name,
                    f"{line.window}号窗口",
                    line.cases,
                    _pct(line.case_share),
                    _minutes(line.handling_seconds),
                    _pct(line.utilisation),
                    "是" if line.low else "",
                ]
            )
    return workbook(
        [
            ("汇总", summary),
            ("办件量前三窗口", busiest),
            ("低于月度标准", low),
            ("各窗口", windows),
        ],
        title=f"{out.name} {out.month} 政务服务月报",
    )


@router.get("/{code}/stats/monthly", response_model=MonthlyOut, responses=FILE_RESPONSES)
async def monthly(
    access: ReportRegion,
    session: SessionDep,
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")],
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
) -> MonthlyOut | Response:
    """The district's 月报: each hall's month and the region's, with the windows that did
    most of the work (the busiest three's share) and those under the monthly threshold."""
    first, last = month_bounds(month)
    p = await _period(access, session, first, last, Filters())
    out = _monthly_out(await rollup.monthly(session, p), month)
    await session.commit()
    if format == "json":
        return out
    name = f"monthly-{access.region.code}-{month}"
    return Response(
        _monthly_book(out),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


# --- pages ---------------------------------------------------------------------------------


def _page(name: str, code: str = "") -> HTMLResponse:
    text = (STATIC / name).read_text(encoding="utf-8").replace("{{region}}", code)
    return HTMLResponse(text, headers=STAFF_PAGE_HEADERS)


@page_router.get("/regions", response_class=HTMLResponse)
async def regions_page() -> HTMLResponse:
    """The regions page: the tree, its halls, and links to each report (staff log in)."""
    return _page("regions.html")


@page_router.get("/regions/{code}/report", response_class=HTMLResponse)
async def report_page(code: CodePath) -> HTMLResponse:
    """The district's monthly report (月报), A4, one page per hall and a summary."""
    return _page("report.html", code)


@page_router.get("/regions/assets/{name}", include_in_schema=False)
async def regions_asset(name: str) -> FileResponse:
    return page_file(STATIC, PAGE_ASSETS, name)
