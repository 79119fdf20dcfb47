"""The satisfaction report (满意度, 好差评): counts per level and the national indicators
(参评率, 未评率, 好评率, 主动评价好评率, 差评率, 差评回复率, 回访率, 整改率, 按期整改率,
回访整改率, 回访整改满意率) in all and per window, staff member and service, for the
statistics' period and filters; as JSON, CSV or XLSX.

Every figure is the 好差评 loop's own (``reviews.service.indicators_breakdown``, which
computes with ``reviews.indicators.compute``; docs/reviews.md): one definition, counted
once. Ratings count by the day they were given, finished tickets by their business day.
This is an endpoint module (the edge): the 好差评 loop sits above the statistics package.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.engine.auth import service as auth_service
from services.engine.core.errors import NotFound
from services.engine.deps import ReportAccess, SessionDep
from services.engine.halls import repository as halls_repo
from services.engine.reviews import service as reviews
from services.engine.reviews.indicators import NAMES, Indicators, compute
from services.engine.statistics.downloads import FILE_RESPONSES, XLSX, file_response
from services.engine.statistics.router import FiltersDep, From, PeriodOut, To
from services.engine.statistics.service import check_period
from services.engine.windows import repository as windows_repo

router = APIRouter(prefix="/api/v1/halls/{hall}/stats", tags=["statistics"])

LEVEL_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


class RateOut(BaseModel):
    name: str
    numerator: int
    denominator: int
    percent: str | None = Field(description="two decimals, rounded half up; None when 0/0")


class SatisfactionLineOut(BaseModel):
    key: str = Field(description="window number, account id or service code; '' for none")
    name: str
    finished: int = Field(description="办件量: finished tickets")
    active: int = Field(description="ratings the citizens gave (主动评价)")
    defaults: int = Field(description="system-default ratings (默认评价)")
    excluded: int = Field(description="bad reviews found invalid by 申诉复核 (left out)")
    cases: int = Field(description="bad-review cases counted")
    levels: dict[str, int] = Field(description="counted ratings per level, 5 ... 1")
    rates: dict[str, RateOut]


class SatisfactionOut(PeriodOut):
    total: SatisfactionLineOut
    by_window: list[SatisfactionLineOut]
    by_staff: list[SatisfactionLineOut]
    by_service: list[SatisfactionLineOut]


def _line(key: str, name: str, found: Indicators) -> SatisfactionLineOut:
    return SatisfactionLineOut(
        key=key,
        name=name,
        finished=found.finished,
        active=found.active,
        defaults=found.defaults,
        excluded=found.excluded,
        cases=found.cases,
        levels={str(k): v for k, v in sorted(found.levels.items(), reverse=True)},
        rates={
            k: RateOut(
                name=NAMES[k],
                numerator=r.numerator,
                denominator=r.denominator,
                percent=None if r.percent is None else str(r.percent),
            )
            for k, r in found.rates.items()
        },
    )


@router.get(
    "/satisfaction",
    response_model=SatisfactionOut,
    responses=FILE_RESPONSES,
)
async def satisfaction(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    filters: FiltersDep,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> SatisfactionOut | Response:
    """满意度: counts per level and the 好差评 indicators (docs/reviews.md) for the hall,
    each window, each staff member and each service."""
    check_period(first, last)
    reviews.check_period(first, last)
    hall = access.hall
    services = list(await halls_repo.services_of(session, hall.id))
    service_id = None
    if filters.service is not None:
        service_id = next((s.id for s in services if s.code == filters.service), None)
        if service_id is None:
            raise NotFound(f"no service {filters.service!r} in this hall")
    numbers = await windows_repo.window_numbers(session, hall.id)
    window_id = None
    if filters.window is not None:
        window_id = next((i for i, n in numbers.items() if n == filters.window), None)
        if window_id is None:
            raise NotFound(f"no window {filters.window} in this hall")
    found = await reviews.indicators_breakdown(
        session=session,
        hall=hall,
        scope=reviews.Scope(first, last, window_id, filters.staff, service_id, filters.priority),
    )
    names = await auth_service.usernames(
        session=session, user_ids=[u for u in found.by_staff if u is not None]
    )
    await session.commit()
    empty = compute(0, [], [])
    # Every window of the hall (the chart has a bar for each), then work of no window.
    windows = sorted(
        (wid for wid, n in numbers.items() if window_id is None or wid == window_id),
        key=lambda wid: numbers[wid],
    )
    by_window = [
        _line(str(numbers[w]), f"{numbers[w]}号窗口", found.by_window.get(w, empty))
        for w in windows
    ]
    if None in found.by_window:
        by_window.append(_line("", "未记录窗口", found.by_window[None]))
    by_staff = [
        _line(str(u), names.get(u, str(u)), line)
        for u, line in sorted(found.by_staff.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        if u is not None
    ]
    if None in found.by_staff:
        by_staff.append(_line("", "未签到", found.by_staff[None]))
    by_service = [
        _line(s.code, s.name, found.by_service[s.id]) for s in services if s.id in found.by_service
    ]
    out = SatisfactionOut(
        hall=hall.code,
        first=first,
        last=last,
        total=_line("", "全部", found.total),
        by_window=by_window,
        by_staff=by_staff,
        by_service=by_service,
    )
    if format == "json":
        return out
    name = f"satisfaction-{hall.code}-{first}-{last}"
    if format == "csv":
        return file_response(name, [("满意度", table(out))], "csv")
    return Response(
        workbook(out),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


HEADINGS = [
    "名称",
    "办件量",
    "主动评价",
    "默认评价",
    "无效差评",
    *LEVEL_WORDS.values(),
    "差评工单",
    *(f"{word}(%)" for word in NAMES.values()),
]
SECTIONS: Mapping[str, str] = {
    "total": "全部",
    "by_window": "窗口",
    "by_staff": "工作人员",
    "by_service": "业务",
}


def _cells(line: SatisfactionLineOut) -> list[object]:
    return [
        line.name,
        line.finished,
        line.active,
        line.defaults,
        line.excluded,
        *(line.levels.get(str(level), 0) for level in LEVEL_WORDS),
        line.cases,
        *(
            float(rate.percent) if rate.percent is not None else ""
            for rate in (line.rates[key] for key in NAMES)
        ),
    ]


def _lines(out: SatisfactionOut, section: str) -> list[SatisfactionLineOut]:
    found = getattr(out, section)
    return [found] if isinstance(found, SatisfactionLineOut) else list(found)


def table(out: SatisfactionOut) -> list[list[object]]:
    """One table: a 维度 column (全部, 窗口, 工作人员, 业务) before the figures."""
    rows: list[list[object]] = [["维度", *HEADINGS]]
    for section, word in SECTIONS.items():
        rows.extend([word, *_cells(line)] for line in _lines(out, section))
    return rows


def workbook(out: SatisfactionOut) -> bytes:
    """A sheet per grouping (满意度汇总, 按窗口, 按工作人员, 按业务)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for section, title in zip(
        SECTIONS, ("满意度汇总", "按窗口", "按工作人员", "按业务"), strict=True
    ):
        sheet = book.add_worksheet(title)
        sheet.write(0, 0, f"统计期间 {out.first} 至 {out.last}", bold)
        for c, heading in enumerate(HEADINGS):
            sheet.write(1, c, heading, bold)
        for r, line in enumerate(_lines(out, section), start=2):
            for c, value in enumerate(_cells(line)):
                sheet.write(r, c, value)
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, len(HEADINGS) - 1, 11)
    book.close()
    return buffer.getvalue()
