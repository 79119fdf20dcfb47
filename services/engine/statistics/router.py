"""Statistics endpoints (统计报表): volumes, waits, handling, windows and staff (忙闲不均).

Managers and administrators of the hall, and region admins above it (read-only); each
report as JSON, CSV or XLSX (docs/statistics.md).
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from services.engine.core.inputs import WINDOW_NUMBER_MAX
from services.engine.core.problems import problem_responses
from services.engine.deps import ReportAccess, SessionDep
from services.engine.pages import CSS, JS, hall_page, page_file
from services.engine.statistics import measures, reports
from services.engine.statistics import service as statistics
from services.engine.statistics.downloads import (
    FILE_RESPONSES,
    OUTCOMES,
    SOURCES,
    XLSX,
    FormatQ,
    Sheet,
    file_response,
    minutes,
)
from services.engine.statistics.reports import Group
from services.engine.statistics.service import Filters, PeriodData, load
from services.engine.tickets.states import PriorityClass

router = APIRouter(prefix="/api/v1/halls/{hall}/stats", tags=["statistics"])
# The report page, served by the engine with its own files (no CDN).
page_router = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
PAGE_ASSETS = {
    "stats.js": JS,
    "stats.css": CSS,
    "satisfaction.js": JS,
    "advice.js": JS,
    "advice.css": CSS,
}


@page_router.get("/stats/{hall}", response_class=HTMLResponse, responses=problem_responses(404))
async def stats_page(hall: str, session: SessionDep) -> HTMLResponse:
    """The statistics page of a hall (managers log in inside it)."""
    return await hall_page(session, hall, STATIC / "stats.html")


@page_router.get("/stats/assets/{name}", include_in_schema=False)
async def stats_asset(name: str) -> FileResponse:
    return page_file(STATIC, PAGE_ASSETS, name)


From = Annotated[date, Query(alias="from", description="first business day (hall's date)")]
To = Annotated[date, Query(alias="to", description="last business day, included")]
ServiceQ = Annotated[str | None, Query(max_length=64, description="one service's code")]
WindowQ = Annotated[int | None, Query(ge=1, le=WINDOW_NUMBER_MAX)]
StaffQ = Annotated[int | None, Query(ge=1, lt=2**63, description="one clerk's account id")]
PriorityQ = Annotated[PriorityClass | None, Query()]
GroupQ = Annotated[Group, Query(description="hour, day, week, month, weekday or none")]


async def report_filters(
    service: ServiceQ = None,
    window: WindowQ = None,
    staff: StaffQ = None,
    priority: PriorityQ = None,
) -> Filters:
    """The filters every report takes (service, window, staff, priority class)."""
    return Filters(service, window, staff, priority.value if priority else None)


FiltersDep = Annotated[Filters, Depends(report_filters)]


class SummaryOut(BaseModel):
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


def _summary(s: measures.Summary) -> SummaryOut:
    return SummaryOut(count=s.count, mean=s.mean, median=s.median, p90=s.p90, max=s.max)


class PeriodOut(BaseModel):
    hall: str
    first: date
    last: date


class VolumeOut(BaseModel):
    key: str
    issued: int
    served: int
    no_show: int
    cancelled: int
    transferred: int
    held: int
    held_expired: int
    by_source: dict[str, int]
    by_outcome: dict[str, int] = Field(description="finished cases by outcome ('' none given)")


class VolumesOut(PeriodOut):
    group: Group
    rows: list[VolumeOut]
    total: VolumeOut


class WaitOut(BaseModel):
    key: str
    service: str
    service_name: str
    seconds: SummaryOut
    over_target: float | None = Field(description="share of waits over the service's target")


class HeatCell(BaseModel):
    weekday: int = Field(description="0 = Monday")
    hour: int
    mean_seconds: float


class WaitsOut(PeriodOut):
    group: Group
    rows: list[WaitOut]
    all_services: list[WaitOut] = Field(description="per period key, every service together")
    heatmap: list[HeatCell]


class HandlingOut(PeriodOut):
    by_service: dict[str, SummaryOut]
    by_window: dict[str, SummaryOut]
    by_staff: dict[str, SummaryOut] = Field(description="by account name")
    service_names: dict[str, str] = Field(default_factory=dict, description="code -> name")


class WindowLineOut(BaseModel):
    window: int
    cases: int
    handling_seconds: float
    open_seconds: float
    paused_seconds: dict[str, float] = Field(description="by pause reason")
    idle_seconds: float
    utilisation: float | None
    case_share: float
    handling_share: float


class StaffLineOut(BaseModel):
    staff_user_id: int
    staff: str | None
    cases: int
    handling_seconds: float
    signed_in_seconds: float = Field(description="考勤: time signed in at a window")
    case_share: float
    handling_share: float


class BalanceOut(BaseModel):
    top3_case_share: float | None
    top3_handling_share: float | None
    gini_handling: float | None
    low_volume_windows: list[int]
    low_volume_threshold: float = Field(
        description="the hall's cases-per-month threshold, scaled to this period"
    )


class WindowsOut(PeriodOut):
    windows: list[WindowLineOut]
    staff: list[StaffLineOut]
    balance: BalanceOut


async def _data(
    access: ReportAccess,
    session: SessionDep,
    first: date,
    last: date,
    filters: Filters,
) -> PeriodData:
    data = await load(session=session, hall=access.hall, first=first, last=last, filters=filters)
    await session.commit()
    return data


def _volume(key: str, v: reports.Volume) -> VolumeOut:
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


@router.get("/volumes", response_model=VolumesOut, responses=FILE_RESPONSES)
async def volumes(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    group: GroupQ = Group.DAY,
    format: FormatQ = "json",
) -> VolumesOut | Response:
    """办件量: issued, served (by outcome), no-show, cancelled, transferred, held."""
    rows, total = await statistics.volumes_report(
        session=session, halls=[access.hall], first=first, last=last, filters=filters, group=group
    )
    await session.commit()
    out = VolumesOut(
        hall=access.hall.code,
        first=first,
        last=last,
        group=group,
        rows=[_volume(k, v) for k, v in rows.items()],
        total=_volume("total", total),
    )
    if format == "json":
        return out
    name = f"volumes-{access.hall.code}-{first}-{last}"
    return file_response(name, [("办件量", _volumes_table(out))], format)


def _volumes_table(out: VolumesOut) -> list[list[object]]:
    lines = [*out.rows, out.total]
    outcomes = [o for o in OUTCOMES if any(o in v.by_outcome for v in lines)]
    outcomes += sorted({o for v in lines for o in v.by_outcome} - set(outcomes))
    sources = sorted({s for v in lines for s in v.by_source})
    headings: list[object] = ["期间", "取号", "办结", "过号", "取消", "转出", "挂起", "挂起过期"]
    headings += [f"结果：{OUTCOMES.get(o, o)}" for o in outcomes]
    headings += [f"来源：{SOURCES.get(s, s)}" for s in sources]
    table: list[list[object]] = [headings]
    for v in lines:
        table.append(
            [
                "合计" if v is out.total else v.key,
                v.issued,
                v.served,
                v.no_show,
                v.cancelled,
                v.transferred,
                v.held,
                v.held_expired,
                *(v.by_outcome.get(o, 0) for o in outcomes),
                *(v.by_source.get(src, 0) for src in sources),
            ]
        )
    return table


@router.get("/waits", response_model=WaitsOut, responses=FILE_RESPONSES)
async def waits(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    group: GroupQ = Group.DAY,
    format: FormatQ = "json",
) -> WaitsOut | Response:
    """Waits (issue to the call that served): mean, median, p90, max, share over target."""
    data = await statistics.waits_report(
        session=session, halls=[access.hall], first=first, last=last, filters=filters, group=group
    )
    await session.commit()

    def lines(by_service: bool) -> list[WaitOut]:
        found = data.rows if by_service else data.all_services
        return [
            WaitOut(
                key=key,
                service=code,
                service_name=data.service_names.get(code, "全部业务"),
                seconds=_summary(line.summary),
                over_target=line.over_target,
            )
            for (key, code), line in found.items()
        ]

    out = WaitsOut(
        hall=access.hall.code,
        first=first,
        last=last,
        group=group,
        rows=lines(True),
        all_services=lines(False),
        heatmap=[HeatCell(weekday=d, hour=h, mean_seconds=v) for (d, h), v in data.heatmap.items()],
    )
    if format == "json":
        return out
    return file_response(f"waits-{access.hall.code}-{first}-{last}", _waits_sheets(out), format)


WEEKDAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
SUMMARY_HEADINGS = ["件数", "平均(分钟)", "中位数(分钟)", "90%(分钟)", "最长(分钟)"]


def _summary_cells(s: SummaryOut) -> list[object]:
    return [s.count, minutes(s.mean), minutes(s.median), minutes(s.p90), minutes(s.max)]


def _waits_sheets(out: WaitsOut) -> list[Sheet]:
    waits: list[list[object]] = [["期间", "业务", *SUMMARY_HEADINGS, "超目标占比"]]
    for w in [*out.rows, *out.all_services]:
        over = round(w.over_target, 4) if w.over_target is not None else ""
        waits.append([w.key, w.service_name, *_summary_cells(w.seconds), over])
    heat: list[list[object]] = [["星期", "时段", "平均等候(分钟)"]]
    for cell in sorted(out.heatmap, key=lambda c: (c.weekday, c.hour)):
        heat.append([WEEKDAYS[cell.weekday], f"{cell.hour}时", minutes(cell.mean_seconds)])
    return [("等候时长", waits), ("星期×时段", heat)]


@router.get("/handling", response_model=HandlingOut, responses=FILE_RESPONSES)
async def handling(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    format: FormatQ = "json",
) -> HandlingOut | Response:
    """Handling (start to finish, minus time on hold) per service, window and clerk."""
    data = await statistics.handling_report(
        session=session, halls=[access.hall], first=first, last=last, filters=filters
    )
    await session.commit()
    out = HandlingOut(
        hall=access.hall.code,
        first=first,
        last=last,
        by_service={k: _summary(v) for k, v in data.by_service.items()},
        by_window={k: _summary(v) for k, v in data.by_window.items()},
        by_staff={data.staff_names.get(k, str(k)): _summary(v) for k, v in data.by_staff.items()},
        service_names=data.service_names,
    )
    if format == "json":
        return out
    table: list[list[object]] = [["维度", "名称", *SUMMARY_HEADINGS]]
    for key, s in out.by_service.items():
        table.append(["业务", out.service_names.get(key, key), *_summary_cells(s)])
    for key, s in out.by_window.items():
        table.append(["窗口", f"{key}号窗口", *_summary_cells(s)])
    for key, s in out.by_staff.items():
        table.append(["工作人员", key, *_summary_cells(s)])
    name = f"handling-{access.hall.code}-{first}-{last}"
    return file_response(name, [("办理时长", table)], format)


@router.get("/windows", response_model=WindowsOut, responses=FILE_RESPONSES)
async def windows(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    window: WindowQ = None,
    staff: StaffQ = None,
    format: FormatQ = "json",
) -> WindowsOut | Response:
    """Windows and staff: cases, handling, open, paused by reason, idle, utilisation,
    shares, sign-in hours (考勤), and 忙闲不均 (the busiest three's share, the Gini of
    handling time, the windows under the hall's monthly threshold)."""
    found = await statistics.windows_reports(
        session=session,
        halls=[access.hall],
        first=first,
        last=last,
        filters=Filters(window=window, staff=staff),
    )
    await session.commit()
    data = found[access.hall.id]
    lines, staff_lines, balance = data.lines, data.staff, data.balance
    out = WindowsOut(
        hall=access.hall.code,
        first=first,
        last=last,
        windows=[
            WindowLineOut(
                window=w,
                cases=line.cases,
                handling_seconds=line.handling_seconds,
                open_seconds=line.open_seconds,
                paused_seconds=line.paused_seconds,
                idle_seconds=line.idle_seconds,
                utilisation=line.utilisation,
                case_share=line.case_share,
                handling_share=line.handling_share,
            )
            for w, line in lines.items()
        ],
        staff=[
            StaffLineOut(
                staff_user_id=u,
                staff=data.staff_names.get(u),
                cases=s.cases,
                handling_seconds=s.handling_seconds,
                signed_in_seconds=s.signed_in_seconds,
                case_share=s.case_share,
                handling_share=s.handling_share,
            )
            for u, s in staff_lines.items()
        ],
        balance=BalanceOut(
            top3_case_share=balance.top3_case_share,
            top3_handling_share=balance.top3_handling_share,
            gini_handling=balance.gini_handling,
            low_volume_windows=balance.low_volume_windows,
            low_volume_threshold=balance.low_volume_threshold,
        ),
    )
    if format == "json":
        return out
    table = _windows_table(out)
    name = f"windows-{access.hall.code}-{first}-{last}"
    if format == "csv":
        return file_response(name, [("窗口", table)], "csv")
    return Response(
        _xlsx(table, out),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


class HourAdviceOut(BaseModel):
    hour: int
    arrivals: float = Field(description="tickets per hour on a typical weekday")
    windows: int = Field(description="windows working at once to meet the service level")
    service_level: float


class ServiceAdviceOut(BaseModel):
    service: str
    service_name: str
    tickets: int = Field(description="the history the advice rests on")
    mean_handle_seconds: float
    handle_from_history: bool
    no_show_rate: float | None
    target_wait_minutes: float
    own_windows: int = Field(description="windows serving it as their own today")
    peak_windows: int = Field(description="the most windows any hour needs")
    hours: list[HourAdviceOut]


class AdviceOut(PeriodOut):
    weekdays: int = Field(description="Monday-to-Friday days in the period")
    service_level: float
    max_occupancy: float
    services: list[ServiceAdviceOut]


@router.get("/advice", response_model=AdviceOut)
async def advice(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    service_level: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    max_occupancy: Annotated[float, Query(gt=0, le=1)] = 0.85,
) -> AdviceOut:
    """How many windows each matter needs, hour by hour on a typical weekday, from the
    hall's own history (Erlang C; docs/statistics.md)."""
    data = await _data(access, session, first, last, Filters())
    found = reports.advice(
        data.rows,
        first=first,
        last=last,
        tz=data.tz,
        default_handle=data.default_handle,
        targets=data.targets,
        service_level=service_level,
        max_occupancy=max_occupancy,
    )
    return AdviceOut(
        hall=access.hall.code,
        first=first,
        last=last,
        weekdays=reports.weekdays_in(first, last),
        service_level=service_level,
        max_occupancy=max_occupancy,
        services=[
            ServiceAdviceOut(
                service=a.service,
                service_name=data.service_names.get(a.service, a.service),
                tickets=a.tickets,
                mean_handle_seconds=a.mean_handle_seconds,
                handle_from_history=a.handle_from_history,
                no_show_rate=a.no_show_rate,
                target_wait_minutes=a.target_seconds / 60,
                own_windows=data.own_windows.get(a.service, 0),
                peak_windows=max((h.windows for h in a.hours), default=0),
                hours=[
                    HourAdviceOut(
                        hour=h.hour,
                        arrivals=h.arrivals,
                        windows=h.windows,
                        service_level=h.service_level,
                    )
                    for h in a.hours
                ],
            )
            for a in found
        ],
    )


HEADINGS = [
    "窗口",
    "办件量",
    "办件占比",
    "办理时长(分钟)",
    "时长占比",
    "开放时长(分钟)",
    "暂停时长(分钟)",
    "空闲时长(分钟)",
    "利用率",
]


def _windows_table(out: WindowsOut) -> list[list[object]]:
    rows: list[list[object]] = [list(HEADINGS)]
    for line in out.windows:
        rows.append(
            [
                f"{line.window}号窗口",
                line.cases,
                round(line.case_share, 4),
                round(line.handling_seconds / 60, 1),
                round(line.handling_share, 4),
                round(line.open_seconds / 60, 1),
                round(sum(line.paused_seconds.values()) / 60, 1),
                round(line.idle_seconds / 60, 1),
                round(line.utilisation, 4) if line.utilisation is not None else "",
            ]
        )
    return rows


def _xlsx(table: list[list[object]], out: WindowsOut) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("窗口")
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            if r == 0:
                sheet.write(r, c, value, bold)
            elif c in (2, 4, 8) and isinstance(value, float):
                sheet.write_number(r, c, value, percent)
            else:
                sheet.write(r, c, value)
    sheet.set_column(0, len(HEADINGS) - 1, 14)
    summary = book.add_worksheet("忙闲不均")
    b = out.balance
    lines: list[tuple[str, object]] = [
        ("统计期间", f"{out.first} 至 {out.last}"),
        ("办件量前三窗口占比", b.top3_case_share if b.top3_case_share is not None else ""),
        (
            "办理时长前三窗口占比",
            b.top3_handling_share if b.top3_handling_share is not None else "",
        ),
        ("办理时长基尼系数", b.gini_handling if b.gini_handling is not None else ""),
        ("办件量偏低的窗口", "、".join(f"{w}号" for w in b.low_volume_windows) or "无"),
        ("偏低标准(本期办件量)", round(b.low_volume_threshold, 1)),
    ]
    for r, (label, value) in enumerate(lines):
        summary.write(r, 0, label, bold)
        summary.write(r, 1, value)
    summary.set_column(0, 0, 24)
    summary.set_column(1, 1, 28)
    book.close()
    return buffer.getvalue()
