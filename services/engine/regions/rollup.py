"""A region's reports: every hall below it, through the statistics service's reports over
the kept facts (statistics.service ``volumes_report``, ``waits_report``,
``handling_report``, ``windows_reports``: the rollups where they serve, the raw rows
for the days not kept yet), hall by hall and for the region. Read-only.

Remote stations (halls that run their own engine) are in the list like any hall: their
days are the facts their station pushed (``jiaohao stats push``); a station that pushed
nothing for the period counts zero.

What adds up is added (counts; a mean from its count); what does not (medians, p90, the
share over target) is asked of the service for all the region's halls at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.errors import NotFound
from services.engine.halls.models import Hall
from services.engine.regions import figures
from services.engine.regions import repository as regions_repo
from services.engine.regions.models import Region
from services.engine.statistics import measures
from services.engine.statistics import service as statistics
from services.engine.statistics.reports import Balance, Group, Volume, WaitLine, WindowLine
from services.engine.statistics.service import Filters, check_period

REMOTE_NOTE = "远程服务站：本期未上报数据"
NO_SERVICE_NOTE = "本大厅无此业务"


@dataclass(frozen=True)
class Period:
    """A region's halls for a report: those the filters keep, and a note for the others."""

    region: Region
    first: date
    last: date
    filters: Filters
    halls: list[Hall]  # below the region, by code
    notes: dict[int, str]  # hall id -> why it has no figures

    @property
    def kept(self) -> list[Hall]:
        return [h for h in self.halls if h.id not in self.notes]


async def period_of(
    *, session: AsyncSession, region: Region, first: date, last: date, filters: Filters
) -> Period:
    """The halls below the region. A service filter keeps the halls that have that
    service (the others get a note); a window number names a window of one hall, so the
    region's reports take none."""
    check_period(first, last)
    halls = list(await regions_repo.halls_below(session, region))
    notes: dict[int, str] = {}
    if filters.service is not None:
        for hall in halls:
            context = await statistics.context_of(session, hall)
            if filters.service not in {s.code for s in context.services.values()}:
                notes[hall.id] = NO_SERVICE_NOTE
    return Period(region, first, last, filters, halls, notes)


async def _volumes(
    session: AsyncSession, p: Period, halls: Sequence[Hall], group: Group
) -> tuple[dict[str, Volume], Volume]:
    return await statistics.volumes_report(
        session=session,
        halls=list(halls),
        first=p.first,
        last=p.last,
        filters=p.filters,
        group=group,
    )


async def _waits(
    session: AsyncSession, p: Period, halls: Sequence[Hall], group: Group
) -> statistics.WaitFigures:
    return await statistics.waits_report(
        session=session,
        halls=list(halls),
        first=p.first,
        last=p.last,
        filters=p.filters,
        group=group,
    )


async def _handling(
    session: AsyncSession, p: Period, halls: Sequence[Hall]
) -> statistics.HandlingFigures:
    return await statistics.handling_report(
        session=session, halls=list(halls), first=p.first, last=p.last, filters=p.filters
    )


# --- volumes ----------------------------------------------------------------------------


async def volumes(
    session: AsyncSession, p: Period, group: Group
) -> tuple[dict[int, dict[str, Volume]], dict[str, Volume]]:
    """Per hall id, its volumes per period key; and the region's (their sums)."""
    per_hall: dict[int, dict[str, Volume]] = {}
    for hall in p.kept:
        try:
            rows, _ = await _volumes(session, p, [hall], group)
        except NotFound:  # the service filter, checked again by the service
            continue
        per_hall[hall.id] = rows
    return per_hall, figures.sum_volumes(per_hall.values())


def total_volume(table: dict[str, Volume]) -> Volume:
    return figures.sum_volumes([{"total": v} for v in table.values()]).get("total", Volume())


# --- waits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waits:
    per_hall: dict[int, tuple[dict[str, WaitLine], WaitLine | None]]  # by key; the total
    rows: dict[str, WaitLine]  # the region's, by key
    by_service: dict[str, WaitLine]  # the region's whole period, by service code
    total: WaitLine | None


def _all(found: statistics.WaitFigures) -> dict[str, WaitLine]:
    return {key: line for (key, _), line in found.all_services.items()}


async def waits(session: AsyncSession, p: Period, group: Group) -> Waits:
    per_hall: dict[int, tuple[dict[str, WaitLine], WaitLine | None]] = {}
    for hall in p.kept:
        by_key = await _waits(session, p, [hall], group)
        whole = by_key if group is Group.NONE else await _waits(session, p, [hall], Group.NONE)
        per_hall[hall.id] = (_all(by_key), next(iter(_all(whole).values()), None))
    if not p.kept:
        return Waits(per_hall, {}, {}, None)
    region = await _waits(session, p, p.kept, group)
    whole = region if group is Group.NONE else await _waits(session, p, p.kept, Group.NONE)
    return Waits(
        per_hall,
        _all(region),
        {code: line for (_, code), line in whole.rows.items()},
        next(iter(_all(whole).values()), None),
    )


# --- handling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    """Handling times: per service (their own summaries), and the mean over them all (a
    mean adds up from its count; a median does not)."""

    by_service: dict[str, measures.Summary]
    count: int
    mean: float | None


def handled(by_service: dict[str, measures.Summary]) -> Handled:
    count = sum(s.count for s in by_service.values())
    total = sum((s.mean or 0.0) * s.count for s in by_service.values())
    return Handled(by_service, count, total / count if count else None)


async def handling(session: AsyncSession, p: Period) -> tuple[dict[int, Handled], Handled]:
    per_hall = {
        hall.id: handled((await _handling(session, p, [hall])).by_service) for hall in p.kept
    }
    if not p.kept:
        return per_hall, handled({})
    region = await _handling(session, p, p.kept)
    return per_hall, handled(region.by_service)


# --- windows (忙闲不均) -------------------------------------------------------------------


async def windows(
    session: AsyncSession, p: Period
) -> tuple[dict[int, tuple[dict[int, WindowLine], Balance]], figures.RegionBalance]:
    """Each hall's windows report, and 忙闲不均 across the region's windows."""
    found = (
        await statistics.windows_reports(
            session=session, halls=p.kept, first=p.first, last=p.last, filters=p.filters
        )
        if p.kept
        else {}
    )
    per_hall = {hall_id: (w.lines, w.balance) for hall_id, w in found.items()}
    codes = {h.id: h.code for h in p.halls}
    return per_hall, figures.region_balance({codes[k]: v for k, v in per_hall.items()})


# --- the district's monthly report (月报) ---------------------------------------------------


@dataclass(frozen=True)
class HallMonth:
    hall: Hall
    note: str | None
    volume: Volume
    wait: WaitLine | None
    handling: Handled
    services: list[tuple[str, str, WaitLine | None, measures.Summary | None]]
    windows: dict[int, WindowLine]
    balance: Balance | None


@dataclass(frozen=True)
class Monthly:
    region: Region
    first: date
    last: date
    halls: list[HallMonth]
    volume: Volume
    wait: WaitLine | None
    handling: Handled
    balance: figures.RegionBalance


async def monthly(session: AsyncSession, p: Period) -> Monthly:
    """Each hall's month (volumes, waits, handling, services, windows, 忙闲不均) and the
    region's."""
    per_windows, balance = await windows(session, p)
    halls: list[HallMonth] = []
    for hall in p.halls:
        if hall.id in p.notes:
            halls.append(
                HallMonth(hall, p.notes[hall.id], Volume(), None, handled({}), [], {}, None)
            )
            continue
        _, volume = await _volumes(session, p, [hall], Group.NONE)
        wait = await _waits(session, p, [hall], Group.NONE)
        times = handled((await _handling(session, p, [hall])).by_service)
        lines, hall_balance = per_windows.get(hall.id, ({}, None))
        by_service = {code: line for (_, code), line in wait.rows.items()}
        services = [
            (code, name, by_service.get(code), times.by_service.get(code))
            for code, name in wait.service_names.items()
            if code in by_service or code in times.by_service
        ]
        note = REMOTE_NOTE if hall.remote and volume.issued == 0 else None
        halls.append(
            HallMonth(
                hall,
                note,
                volume,
                next(iter(_all(wait).values()), None),
                times,
                services,
                lines,
                hall_balance,
            )
        )
    region_wait: WaitLine | None = None
    region_times = handled({})
    if p.kept:
        found = await _waits(session, p, p.kept, Group.NONE)
        region_wait = next(iter(_all(found).values()), None)
        region_times = handled((await _handling(session, p, p.kept)).by_service)
    return Monthly(
        region=p.region,
        first=p.first,
        last=p.last,
        halls=halls,
        volume=figures.sum_volumes([{"total": h.volume} for h in halls]).get("total", Volume()),
        wait=region_wait,
        handling=region_times,
        balance=balance,
    )
