"""Statistics of a hall over a period (统计): read the raw rows, let the reports count.

Read-only. Figures are computed from the tickets, their log and the window log (the
hall event outbox is pruned after days and is never read here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.core.errors import NotFound, ValidationFailed
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import rules_of
from services.engine.statistics import repository
from services.engine.statistics.reports import LogRow, TicketRow, period
from services.engine.windows import repository as windows_repo

# A report covers at most a year (a longer one is several).
MAX_DAYS = 366


@dataclass(frozen=True)
class Filters:
    service: str | None = None
    window: int | None = None
    staff: int | None = None
    priority: str | None = None

    def keep(self, row: TicketRow) -> bool:
        return (
            (self.service is None or row.service == self.service)
            and (self.window is None or row.window == self.window)
            and (self.staff is None or row.staff == self.staff)
            and (self.priority is None or row.priority == self.priority)
        )


@dataclass(frozen=True)
class PeriodData:
    first: date
    last: date
    start: datetime
    end: datetime
    tz: ZoneInfo
    rows: list[TicketRow]  # the tickets the filters keep
    by_id: dict[int, TicketRow]  # every ticket of the period (transfers are followed)
    log: list[LogRow]
    windows: list[int]
    service_names: dict[str, str]
    staff_names: dict[int, str]
    low_cases_per_month: int
    # Per service code: the hall file's mean handling time and the target wait (seconds),
    # and how many windows serve it as their own (primary) today.
    default_handle: dict[str, float]
    targets: dict[str, float]
    own_windows: dict[str, int]


# Days a report may name: the engine's own era, far from the calendar's ends.
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def check_period(first: date, last: date) -> None:
    if not (EARLIEST <= first <= LATEST and EARLIEST <= last <= LATEST):
        raise ValidationFailed(f"give days between {EARLIEST} and {LATEST}")
    if last < first:
        raise ValidationFailed("the period ends before it begins (to < from)")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"a report covers at most {MAX_DAYS} days")


async def load(
    *, session: AsyncSession, hall: Hall, first: date, last: date, filters: Filters
) -> PeriodData:
    check_period(first, last)
    tz = ZoneInfo(hall.timezone)
    start, end = period(first, last, tz)
    services = {s.id: s for s in await halls_repo.services_of(session, hall.id)}
    if filters.service is not None and filters.service not in {s.code for s in services.values()}:
        raise NotFound(f"no service {filters.service!r} in this hall")
    numbers = await windows_repo.window_numbers(session, hall.id)
    if filters.window is not None and filters.window not in numbers.values():
        raise NotFound(f"no window {filters.window} in this hall")
    rows = [
        TicketRow(
            id=r.id,
            service=services[r.service_id].code,
            window=numbers.get(r.window_id) if r.window_id else None,
            staff=r.staff_user_id,
            priority=r.priority,
            source=r.source,
            status=r.status,
            issued_at=r.issued_at,
            served_call_at=r.served_call_at,
            called_at=r.called_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            closed_at=r.closed_at,
            held_seconds=float(r.held_seconds or 0),
            outcome=r.outcome,
            transferred_from=r.transferred_from_id,
            ever_held=r.held_id is not None,
            target_seconds=services[r.service_id].target_wait_minutes * 60.0,
        )
        for r in await repository.tickets_of_days(session, hall.id, first, last)
    ]
    log = [
        LogRow(
            window=numbers[e.window_id],
            at=e.at,
            action=e.action,
            staff=e.staff_user_id,
            reason=(e.detail or {}).get("reason"),
        )
        for e in await repository.window_log_between(session, hall.id, start, end)
        if e.window_id in numbers
    ]
    if filters.window is not None:
        log = [e for e in log if e.window == filters.window]
    if filters.staff is not None:
        log = [
            e for e in log if e.staff == filters.staff or e.action not in ("sign_in", "sign_out")
        ]
    kept = [r for r in rows if filters.keep(r)]
    staff_ids = {r.staff for r in rows if r.staff} | {e.staff for e in log if e.staff}
    names = await auth_service.usernames(session=session, user_ids=staff_ids)
    windows = sorted(n for n in numbers.values() if filters.window is None or n == filters.window)
    return PeriodData(
        first=first,
        last=last,
        start=start,
        end=end,
        tz=tz,
        rows=kept,
        by_id={r.id: r for r in rows},
        log=log,
        windows=windows,
        service_names={s.code: s.name for s in services.values()},
        staff_names=names,
        low_cases_per_month=rules_of(hall).low_volume_cases_per_month,
        default_handle={s.code: s.average_handle_minutes * 60.0 for s in services.values()},
        targets={s.code: s.target_wait_minutes * 60.0 for s in services.values()},
        own_windows=await _own_windows(session, hall, services),
    )


async def _own_windows(
    session: AsyncSession, hall: Hall, services: dict[int, Any]
) -> dict[str, int]:
    active = {w.id for w in await windows_repo.windows_of(session, hall.id, active_only=True)}
    counts: dict[str, int] = {}
    for link in await windows_repo.window_services_of(session, hall.id):
        if link.window_id in active and link.role == "primary" and link.service_id in services:
            code = services[link.service_id].code
            counts[code] = counts.get(code, 0) + 1
    return counts
