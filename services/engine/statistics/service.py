"""Statistics of a hall over a period (统计): read the raw rows, let the reports count.

Read-only. Figures are computed from the tickets, their log and the window log (the
hall event outbox is pruned after days and is never read here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, ValidationFailed
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import rules_of
from services.engine.statistics import facts, measures, reports, repository
from services.engine.statistics.reports import (
    Group,
    LogRow,
    TicketRow,
    Volume,
    WaitLine,
    period,
)
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
        ticket_row(r, services, numbers)
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


def ticket_row(r: Any, services: dict[int, Any], numbers: dict[int, int]) -> TicketRow:
    """A ticket as the reports read it (service code, window number)."""
    return TicketRow(
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


# --- the fast reports: kept facts (closed days) + raw rows (today, changed days) -------


@dataclass(frozen=True)
class HallContext:
    hall: Hall
    tz: ZoneInfo
    services: dict[int, Any]  # by id
    numbers: dict[int, int]  # window id -> number


async def context_of(session: AsyncSession, hall: Hall) -> HallContext:
    (ctx,) = await contexts_of(session, [hall])
    return ctx


async def contexts_of(session: AsyncSession, halls: Sequence[Hall]) -> list[HallContext]:
    """The halls' services and window numbers, in one read each for all of them."""
    ids = [h.id for h in halls]
    services: dict[int, dict[int, Any]] = {i: {} for i in ids}
    for s in await repository.services_of_halls(session, ids):
        services[s.hall_id][s.id] = s
    numbers: dict[int, dict[int, int]] = {i: {} for i in ids}
    for hall_id, window_id, number in await repository.windows_of_halls(session, ids):
        numbers[hall_id][window_id] = number
    return [HallContext(h, ZoneInfo(h.timezone), services[h.id], numbers[h.id]) for h in halls]


def runs(days: Sequence[date]) -> list[list[date]]:
    """Consecutive days together (one read of the window log each)."""
    out: list[list[date]] = []
    for day in sorted(days):
        if out and (day - out[-1][-1]).days == 1:
            out[-1].append(day)
        else:
            out.append([day])
    return out


async def raw_facts(
    session: AsyncSession, ctx: HallContext, days: Sequence[date], now: datetime | None = None
) -> tuple[list[facts.TicketFact], list[facts.WindowFact]]:
    """The facts of some of a hall's days, worked out from the raw rows."""
    return (await raw_facts_of_halls(session, [ctx], days, now))[ctx.hall.id]


async def raw_facts_of_halls(
    session: AsyncSession,
    contexts: Sequence[HallContext],
    days: Sequence[date],
    now: datetime | None = None,
) -> dict[int, tuple[list[facts.TicketFact], list[facts.WindowFact]]]:
    """The facts of the same days of several halls (of one clock), from the raw rows, in
    one read of each table for all of them."""
    out: dict[int, tuple[list[facts.TicketFact], list[facts.WindowFact]]] = {
        c.hall.id: ([], []) for c in contexts
    }
    if not days or not contexts:
        return out
    by_id = {c.hall.id: c for c in contexts}
    ids = list(by_id)
    tz = contexts[0].tz
    raw = await repository.tickets_on_days(session, ids, days)
    ratings = await repository.ratings_of_days(session, ids, days)
    for hall_id, ctx in by_id.items():
        mine = [r for r in raw if r.hall_id == hall_id]
        rows = [ticket_row(r, ctx.services, ctx.numbers) for r in mine]
        dates = {r.id: r.business_date for r in mine}
        out[hall_id][0].extend(facts.ticket_facts(rows, dates, ctx.tz, ratings))
    for run in runs(days):
        start = facts.day_bounds(run[0], tz)[0]
        end = facts.day_bounds(run[-1], tz)[1]
        logs: dict[int, list[LogRow]] = {i: [] for i in ids}
        for e in await repository.window_log_between(session, ids, start, end):
            numbers = by_id[e.hall_id].numbers
            if e.window_id in numbers:
                logs[e.hall_id].append(
                    LogRow(
                        window=numbers[e.window_id],
                        at=e.at,
                        action=e.action,
                        staff=e.staff_user_id,
                        reason=(e.detail or {}).get("reason"),
                    )
                )
        for hall_id, log in logs.items():
            out[hall_id][1].extend(facts.window_facts(log, run, by_id[hall_id].tz, now))
    return out


@dataclass(frozen=True)
class Scope:
    """What a report reads: the kept facts (in SQL) and the facts of the days read raw."""

    halls: list[HallContext]
    first: date
    last: date
    kept: repository.FactScope
    raw_tickets: list[tuple[int, facts.TicketFact]]  # (hall id, fact), filters applied
    raw_windows: list[tuple[int, facts.WindowFact]]
    filters: Filters
    # The whole months kept clean in every hall whatever the grouping (``kept.months``
    # only when grouped by month or not at all): the heatmap reads them.
    whole_months: Sequence[int] = ()

    @property
    def single(self) -> bool:
        return len(self.halls) == 1

    def service_names(self) -> dict[str, str]:
        return {s.code: s.name for c in self.halls for s in c.services.values()}

    def targets(self) -> dict[tuple[int, str], float]:
        return {
            (c.hall.id, s.code): s.target_wait_minutes * 60.0
            for c in self.halls
            for s in c.services.values()
        }


def _keep(f: facts.TicketFact, filters: Filters) -> bool:
    return (
        (filters.service is None or f.service == filters.service)
        and (filters.window is None or f.window == filters.window)
        and (filters.staff is None or f.staff == filters.staff)
        and (filters.priority is None or f.priority == filters.priority)
    )


async def scope_of(
    *,
    session: AsyncSession,
    halls: Sequence[Hall],
    first: date,
    last: date,
    filters: Filters,
    now: datetime | None = None,
    group: Group | None = None,
) -> Scope:
    """What a report over these halls reads. ``group``: the report's grouping (None: it
    has none); grouped by month or not at all and filtered by service at most, whole
    months whose every day is kept and clean are read from the monthly rollups."""
    check_period(first, last)
    now = now or utcnow()
    contexts = await contexts_of(session, halls)
    if len(contexts) == 1:
        (ctx,) = contexts
        if filters.service is not None and filters.service not in {
            s.code for s in ctx.services.values()
        }:
            raise NotFound(f"no service {filters.service!r} in this hall")
        if filters.window is not None and filters.window not in ctx.numbers.values():
            raise NotFound(f"no window {filters.window} in this hall")
    clean: dict[int, set[date]] = {c.hall.id: set() for c in contexts}
    stale: dict[int, list[date]] = {c.hall.id: [] for c in contexts}
    for hall_id, day, version, rolled in await repository.days_kept(
        session, [c.hall.id for c in contexts], first, last
    ):
        if version == rolled:
            clean[hall_id].add(day)
        elif rolled >= 0:
            stale[hall_id].append(day)
    firsts = await repository.first_days_kept(session, [c.hall.id for c in contexts])
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    raw_tickets: list[tuple[int, facts.TicketFact]] = []
    raw_windows: list[tuple[int, facts.WindowFact]] = []
    # Read raw: the days not kept (or changed since), from the hall's first kept day
    # (days are kept from its first activity on) to its today; halls with the same days
    # and clock (a district's today) in one read.
    together: dict[tuple[str, tuple[date, ...]], list[HallContext]] = {}
    raw_of: dict[int, list[tuple[int, date]]] = {c.hall.id: [] for c in contexts}
    for ctx in contexts:
        today = now.astimezone(ctx.tz).date()
        since = firsts.get(ctx.hall.id)
        raw_days = tuple(
            d
            for d in days
            if d not in clean[ctx.hall.id] and d <= today and (since is None or d >= since)
        )
        if raw_days:
            together.setdefault((ctx.hall.timezone, raw_days), []).append(ctx)
            raw_of[ctx.hall.id] = [(ctx.hall.id, d) for d in raw_days]
    for (_, raw_days), members in together.items():
        found = await raw_facts_of_halls(session, members, raw_days, now)
        for hall_id, (tickets, windows) in found.items():
            raw_tickets += [(hall_id, f) for f in tickets if _keep(f, filters)]
            raw_windows += [
                (hall_id, w)
                for w in windows
                if (filters.window is None or w.window == filters.window)
                and (filters.staff is None or w.kind != "signed" or w.staff == filters.staff)
            ]
    months: list[int] = []
    if filters.window is None and filters.staff is None and filters.priority is None:
        not_kept = {(h, d.year * 100 + d.month) for h, ds in stale.items() for d in ds}
        not_kept |= {
            (h, d.year * 100 + d.month) for ctx in contexts for h, d in raw_of[ctx.hall.id]
        }
        month = date(first.year, first.month, 1)
        while month <= last:
            bmonth = month.year * 100 + month.month
            a, b = repository.month_bounds(bmonth)
            if (
                first <= a
                and b <= last
                and all((c.hall.id, bmonth) not in not_kept for c in contexts)
            ):
                months.append(bmonth)
            month = b + timedelta(days=1)
    by_month = months if group in (None, Group.MONTH, Group.NONE) else []
    kept = repository.FactScope(
        hall_ids=[c.hall.id for c in contexts],
        first=first,
        last=last,
        skip=stale,
        months=by_month,
        month_days=[repository.month_bounds(m) for m in by_month],
        service=filters.service,
        window=filters.window,
        staff=filters.staff,
        priority=filters.priority,
    )
    return Scope(contexts, first, last, kept, raw_tickets, raw_windows, filters, months)


async def volumes_report(
    *,
    session: AsyncSession,
    halls: Sequence[Hall],
    first: date,
    last: date,
    filters: Filters,
    group: Group,
    now: datetime | None = None,
) -> tuple[dict[str, Volume], Volume]:
    """办件量 per period key, and the period's total."""
    scope = await scope_of(
        session=session, halls=halls, first=first, last=last, filters=filters, now=now, group=group
    )
    cells = await repository.month_volume_cells(session, scope.kept, group)
    cells += await repository.volume_cells(session, scope.kept, group)
    cells += facts.aggregate_volumes((f for _, f in scope.raw_tickets), group)
    total = facts.volumes_of(c._replace(key="total") for c in cells)
    return facts.volumes_of(cells), total.get("total", Volume())


@dataclass(frozen=True)
class WaitFigures:
    rows: dict[tuple[str, str], WaitLine]  # (period key, service)
    all_services: dict[tuple[str, str], WaitLine]  # (period key, "")
    heatmap: dict[tuple[int, int], float]
    service_names: dict[str, str]


async def waits_report(
    *,
    session: AsyncSession,
    halls: Sequence[Hall],
    first: date,
    last: date,
    filters: Filters,
    group: Group,
    now: datetime | None = None,
) -> WaitFigures:
    """Waits per period key and service (each hall's own target for the share over it)."""
    scope = await scope_of(
        session=session, halls=halls, first=first, last=last, filters=filters, now=now, group=group
    )
    kept_cells, kept_over = await repository.wait_and_over_cells(session, scope.kept, group)
    cells: list[facts.HistRow] = list(await repository.month_wait_cells(session, scope.kept, group))
    cells += kept_cells
    raw = [f for _, f in scope.raw_tickets]
    cells += facts.aggregate_waits(raw, group)
    over: dict[tuple[str, str], int] = defaultdict(int)
    targets = scope.targets()
    found = [
        await repository.month_over_cells(session, scope.kept, group),
        kept_over,
        facts.over_of(
            (f for _, f in scope.raw_tickets),
            group,
            lambda f: targets.get((hall_of[f.ticket_id], f.service), 1200.0),
        )
        if (hall_of := {f.ticket_id: h for h, f in scope.raw_tickets})
        else {},
    ]
    for part in found:
        for k, n in part.items():
            over[k] += n
    # The heatmap has no period key: whole months from the monthly tables, however grouped.
    heat_scope = replace(
        scope.kept,
        months=scope.whole_months,
        month_days=[repository.month_bounds(m) for m in scope.whole_months],
    )
    heat = await repository.month_heat_cells(session, heat_scope)
    heat += await repository.heat_cells(session, heat_scope)
    heat += facts.aggregate_heat(raw)
    return WaitFigures(
        *facts.waits_both(cells, over),
        facts.heatmap_of(heat),
        scope.service_names(),
    )


@dataclass(frozen=True)
class HandlingFigures:
    by_service: dict[str, measures.Summary]
    by_window: dict[str, measures.Summary]  # window number (hall code:number for several)
    by_staff: dict[int, measures.Summary]  # account id
    staff_names: dict[int, str]
    service_names: dict[str, str]


async def handling_report(
    *,
    session: AsyncSession,
    halls: Sequence[Hall],
    first: date,
    last: date,
    filters: Filters,
    now: datetime | None = None,
) -> HandlingFigures:
    scope = await scope_of(
        session=session, halls=halls, first=first, last=last, filters=filters, now=now
    )
    codes = {c.hall.id: c.hall.code for c in scope.halls}
    out: dict[str, dict[str, measures.Summary]] = {}
    per_hall_window = not scope.single
    from_months = await repository.month_handling_cells(session, scope.kept, per_hall_window)
    from_facts = await repository.handling_cells(session, scope.kept, per_hall_window)
    for by in ("service", "window", "staff"):
        per_hall = by == "window" and per_hall_window
        cells = from_months[by] + from_facts[by]
        for hall_id, f in scope.raw_tickets:
            value = getattr(f, by)
            if f.handling_s is None or f.handling_b is None or value is None:
                continue
            name = f"{hall_id}:{value}" if per_hall else str(value)
            cells.append(
                facts.HistCell("", name, facts.coarse(f.handling_b), 1, f.handling_s, f.handling_s)
            )
        if per_hall:  # "hall id:window" -> "hall code:window"
            shown: dict[str, str] = {}
            for c in cells:
                if c.name not in shown:
                    hall_key, window = c.name.split(":", 1)
                    shown[c.name] = f"{codes[int(hall_key)]}:{window}"
            cells = [c._replace(name=shown[c.name]) for c in cells]
        out[by] = facts.handling_of(cells)
    by_staff = {int(k): v for k, v in out["staff"].items()}
    names = await auth_service.usernames(session=session, user_ids=set(by_staff))
    return HandlingFigures(out["service"], out["window"], by_staff, names, scope.service_names())


@dataclass(frozen=True)
class WindowFigures:
    lines: dict[int, reports.WindowLine]
    staff: dict[int, reports.StaffLine]
    balance: reports.Balance
    staff_names: dict[int, str]


async def windows_reports(
    *,
    session: AsyncSession,
    halls: Sequence[Hall],
    first: date,
    last: date,
    filters: Filters,
    now: datetime | None = None,
) -> dict[int, WindowFigures]:
    """Per hall (by id): the windows and clerks report with 忙闲不均."""
    now = now or utcnow()
    scope = await scope_of(
        session=session, halls=halls, first=first, last=last, filters=filters, now=now
    )
    cases: dict[int, list[facts.CaseCell]] = {c.hall.id: [] for c in scope.halls}
    times: dict[int, list[facts.WindowFact]] = {c.hall.id: [] for c in scope.halls}
    month_cases, month_times = await repository.month_window_cells(session, scope.kept)
    for hall_id, cell in [*month_cases, *await repository.case_cells(session, scope.kept)]:
        cases[hall_id].append(cell)
    for hall_id, f in scope.raw_tickets:
        cases[hall_id] += facts.aggregate_cases([f])
    for hall_id, fact in [*month_times, *await repository.window_time_cells(session, scope.kept)]:
        times[hall_id].append(fact)
    for hall_id, fact in scope.raw_windows:
        times[hall_id].append(fact)
    low = {c.hall.id: rules_of(c.hall).low_volume_cases_per_month for c in scope.halls}
    out: dict[int, WindowFigures] = {}
    staff_ids: set[int] = set()
    for ctx in scope.halls:
        start, end = period(first, last, ctx.tz)
        windows = sorted(
            n for n in ctx.numbers.values() if filters.window is None or n == filters.window
        )
        lines, staff, balance = facts.windows_of(
            cases[ctx.hall.id],
            times[ctx.hall.id],
            windows,
            start=start,
            # Open and signed-in time so far: a period that includes today ends now.
            end=min(end, now),
            low_cases_per_month=low[ctx.hall.id],
        )
        staff_ids |= set(staff)
        out[ctx.hall.id] = WindowFigures(lines, staff, balance, {})
    names = await auth_service.usernames(session=session, user_ids=staff_ids)
    return {k: replace(v, staff_names=names) for k, v in out.items()}
