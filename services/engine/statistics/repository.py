"""Reading a period's raw rows for the reports. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.evaluations.models import Evaluation
from services.engine.halls.models import Service
from services.engine.statistics import facts
from services.engine.statistics.models import (
    StatsDay,
    StatsMonthHeat,
    StatsMonthHist,
    StatsMonthVolume,
    StatsMonthWindow,
    StatsTicketFact,
    StatsWindowFact,
)
from services.engine.statistics.reports import Group
from services.engine.tickets.models import Ticket, TicketEvent
from services.engine.windows.models import Window, WindowLogEntry


def _of_halls(column: Any, hall_id: int | Sequence[int]) -> Any:
    return column == hall_id if isinstance(hall_id, int) else column.in_(list(hall_id))


async def tickets_of_days(
    session: AsyncSession,
    hall_id: int | Sequence[int],
    first: date,
    last: date,
    days: Sequence[date] | None = None,
) -> Sequence[Any]:
    """The hall's tickets of business days first..last (or of ``days``), with the moment
    of the CALL that served each (its last CALL; recalls and call-backs are not new
    calls) and whether it was ever held."""
    in_days = and_(
        _of_halls(Ticket.hall_id, hall_id),
        Ticket.business_date.in_(days)
        if days is not None
        else and_(Ticket.business_date >= first, Ticket.business_date <= last),
    )
    calls = (
        select(TicketEvent.ticket_id, func.max(TicketEvent.at).label("served_call_at"))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(in_days, TicketEvent.action == "call")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    holds = (
        select(TicketEvent.ticket_id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(in_days, TicketEvent.action == "hold")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    query = (
        select(
            Ticket.id,
            Ticket.hall_id,
            Ticket.business_date,
            Ticket.service_id,
            Ticket.window_id,
            Ticket.staff_user_id,
            Ticket.priority,
            Ticket.source,
            Ticket.status,
            Ticket.issued_at,
            calls.c.served_call_at,
            Ticket.called_at,
            Ticket.started_at,
            Ticket.finished_at,
            Ticket.closed_at,
            Ticket.held_seconds,
            Ticket.outcome,
            Ticket.transferred_from_id,
            holds.c.ticket_id.label("held_id"),
        )
        .outerjoin(calls, calls.c.ticket_id == Ticket.id)
        .outerjoin(holds, holds.c.ticket_id == Ticket.id)
        .where(in_days)
        .order_by(Ticket.id)
    )
    return (await session.execute(query)).all()


async def window_log_between(
    session: AsyncSession, hall_id: int | Sequence[int], start: datetime, end: datetime
) -> Sequence[WindowLogEntry]:
    """The window log of [start, end), and before it, for each window, the entries that
    say what state it was in and who was signed in when the period began."""
    # A clerk signed in before the period and still there: their sign-in, too.
    signed = (
        select(WindowLogEntry.window_id, func.max(WindowLogEntry.id).label("last_id"))
        .where(
            _of_halls(WindowLogEntry.hall_id, hall_id),
            WindowLogEntry.at < start,
            WindowLogEntry.action.in_(("sign_in", "sign_out")),
        )
        .group_by(WindowLogEntry.window_id)
        .subquery()
    )
    sign_ins = (
        (
            await session.execute(
                select(WindowLogEntry)
                .join(signed, signed.c.last_id == WindowLogEntry.id)
                .where(WindowLogEntry.action == "sign_in")
            )
        )
        .scalars()
        .all()
    )
    # The state before the period: the last open/close/pause/resume.
    state = (
        select(WindowLogEntry.window_id, func.max(WindowLogEntry.id).label("last_id"))
        .where(
            _of_halls(WindowLogEntry.hall_id, hall_id),
            WindowLogEntry.at < start,
            WindowLogEntry.action.in_(("open", "close", "pause", "resume")),
        )
        .group_by(WindowLogEntry.window_id)
        .subquery()
    )
    states = (
        (
            await session.execute(
                select(WindowLogEntry).join(state, state.c.last_id == WindowLogEntry.id)
            )
        )
        .scalars()
        .all()
    )
    during = (
        (
            await session.execute(
                select(WindowLogEntry)
                .where(
                    _of_halls(WindowLogEntry.hall_id, hall_id),
                    WindowLogEntry.at >= start,
                    WindowLogEntry.at < end,
                )
                .order_by(WindowLogEntry.at, WindowLogEntry.id)
            )
        )
        .scalars()
        .all()
    )
    seen: dict[int, WindowLogEntry] = {}
    for entry in [*sign_ins, *states]:
        seen[entry.id] = entry
    return [*sorted(seen.values(), key=lambda e: (e.at, e.id)), *during]


# --- raw rows of some days, for the facts ----------------------------------------------


async def tickets_on_days(
    session: AsyncSession, hall_id: int | Sequence[int], days: Sequence[date]
) -> Sequence[Any]:
    """``tickets_of_days`` for a set of business days (with each ticket's business day)."""
    if not days:
        return []
    return await tickets_of_days(session, hall_id, min(days), max(days), days=list(days))


async def ratings_of_days(
    session: AsyncSession, hall_id: int | Sequence[int], days: Sequence[date]
) -> dict[int, int]:
    """The rating level (好差评) of each rated ticket of the days, by ticket id."""
    query = (
        select(Evaluation.ticket_id, Evaluation.level)
        .join(Ticket, Ticket.id == Evaluation.ticket_id)
        .where(_of_halls(Ticket.hall_id, hall_id), Ticket.business_date.in_(list(days)))
    )
    return {t: level for t, level in (await session.execute(query)).all()}


# --- the days kept as facts ------------------------------------------------------------


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


FACT_TABLES = ("stats_ticket_facts", "stats_window_facts")


async def analyze_facts(session: AsyncSession) -> None:
    """The planner's statistics of the fact tables, taken afresh (both databases)."""
    for table in FACT_TABLES:
        await session.execute(text(f"ANALYZE {table}"))


async def days_kept(
    session: AsyncSession, hall_ids: Sequence[int], first: date, last: date
) -> Sequence[Any]:
    """(hall_id, business_date, version, rolled_version) of the days in the period."""
    query = select(
        StatsDay.hall_id, StatsDay.business_date, StatsDay.version, StatsDay.rolled_version
    ).where(StatsDay.hall_id.in_(hall_ids), StatsDay.business_date.between(first, last))
    return (await session.execute(query)).all()


async def services_of_halls(session: AsyncSession, hall_ids: Sequence[int]) -> Sequence[Any]:
    return (
        (await session.execute(select(Service).where(Service.hall_id.in_(hall_ids))))
        .scalars()
        .all()
    )


async def windows_of_halls(session: AsyncSession, hall_ids: Sequence[int]) -> Sequence[Any]:
    """(hall_id, window id, number) of the halls' windows."""
    query = select(Window.hall_id, Window.id, Window.number).where(Window.hall_id.in_(hall_ids))
    return (await session.execute(query)).all()


async def first_days_kept(session: AsyncSession, hall_ids: Sequence[int]) -> dict[int, date]:
    """Each hall's first kept day (days are announced from the hall's first activity)."""
    query = (
        select(StatsDay.hall_id, func.min(StatsDay.business_date))
        .where(StatsDay.hall_id.in_(hall_ids))
        .group_by(StatsDay.hall_id)
    )
    return {h: d for h, d in (await session.execute(query)).all()}


async def last_announced(session: AsyncSession, hall_id: int) -> date | None:
    query = select(func.max(StatsDay.business_date)).where(StatsDay.hall_id == hall_id)
    value: date | None = (await session.execute(query)).scalar()
    return value


async def first_activity(
    session: AsyncSession, hall_id: int
) -> tuple[date | None, datetime | None]:
    """The hall's first business day with a ticket, and its first window log entry."""
    first_ticket = (
        await session.execute(
            select(func.min(Ticket.business_date)).where(Ticket.hall_id == hall_id)
        )
    ).scalar()
    first_log = (
        await session.execute(
            select(func.min(WindowLogEntry.at)).where(WindowLogEntry.hall_id == hall_id)
        )
    ).scalar()
    if isinstance(first_log, datetime) and first_log.tzinfo is None:
        first_log = first_log.replace(tzinfo=UTC)
    return first_ticket, first_log


async def announce_days(
    session: AsyncSession, hall_id: int, days: Sequence[tuple[date, datetime]]
) -> None:
    """Rows for days about to be kept (version 0, never rolled up); existing ones stay."""
    if not days:
        return
    values = [{"hall_id": hall_id, "business_date": d, "ends_at": e} for d, e in days]
    table = typed(Table, StatsDay.__table__)
    if is_postgres(session):
        await session.execute(pg_insert(table).on_conflict_do_nothing(), values)
    else:
        await session.execute(sqlite_insert(table).on_conflict_do_nothing(), values)


async def fence_writers(session: AsyncSession) -> None:
    """PostgreSQL: hold off every writer of tickets, their steps, ratings and the window
    log until this transaction ends (the milliseconds of an announcement, once a day), so
    that every writer after it sees the days it announces. NOWAIT: with a writer in
    flight it raises at once (never waits, so it never deadlocks with one), and the
    next round tries again."""
    if is_postgres(session):
        await session.execute(
            text("LOCK TABLE tickets, ticket_events, evaluations, window_log IN SHARE MODE NOWAIT")
        )


async def try_lock_hall(session: AsyncSession, hall_id: int) -> bool:
    """PostgreSQL: one engine process at a time rolls up a hall (until commit)."""
    if not is_postgres(session):
        return True
    got = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:kind, :hall)"),
        {"kind": ROLLUP_LOCK, "hall": hall_id},
    )
    return bool(got.scalar())


# An advisory lock namespace for the rollup (any constant the engine uses nowhere else).
ROLLUP_LOCK = 0x5747


async def days_to_roll(session: AsyncSession, hall_id: int, limit: int) -> dict[date, int]:
    """Days whose facts are behind their raw rows, with the version to roll up to (read
    before the raw rows: a change committed after this read bumps it again)."""
    query = select(StatsDay.business_date, StatsDay.version).where(
        StatsDay.hall_id == hall_id, StatsDay.version != StatsDay.rolled_version
    )
    rows = (await session.execute(query.order_by(StatsDay.business_date).limit(limit))).all()
    return {d: v for d, v in rows}


async def replace_facts(
    session: AsyncSession,
    hall_id: int,
    days: Sequence[date],
    tickets: Sequence[dict[str, Any]],
    windows: Sequence[dict[str, Any]],
) -> None:
    await session.execute(
        delete(StatsTicketFact).where(
            StatsTicketFact.hall_id == hall_id, StatsTicketFact.business_date.in_(days)
        )
    )
    await session.execute(
        delete(StatsWindowFact).where(
            StatsWindowFact.hall_id == hall_id, StatsWindowFact.business_date.in_(days)
        )
    )
    if tickets:
        await session.execute(insert(StatsTicketFact), list(tickets))
    if windows:
        await session.execute(insert(StatsWindowFact), list(windows))


async def mark_rolled(
    session: AsyncSession, hall_id: int, versions: dict[date, int], now: datetime
) -> None:
    for day, version in versions.items():
        await session.execute(
            update(StatsDay)
            .where(StatsDay.hall_id == hall_id, StatsDay.business_date == day)
            .values(rolled_version=version, rolled_at=now)
        )


async def halls_with_days(session: AsyncSession) -> list[int]:
    return list((await session.execute(select(StatsDay.hall_id).distinct())).scalars())


# --- aggregated facts --------------------------------------------------------------------

F = StatsTicketFact
W = StatsWindowFact

KEY_COLUMNS: dict[Group, Any] = {
    Group.HOUR: F.hour,
    Group.DAY: F.day,
    Group.WEEK: F.week,
    Group.MONTH: F.month,
    Group.WEEKDAY: F.weekday,
}


@dataclass(frozen=True)
class FactScope:
    """The kept facts a report reads: these halls' days first..last, but not the days
    read raw (not yet kept, or changed since), and the filters."""

    hall_ids: Sequence[int]
    first: date
    last: date
    skip: dict[int, list[date]]  # per hall, kept days whose facts are stale
    # Business months (yyyymm) read from the monthly rollups instead, and their days.
    months: Sequence[int] = ()
    month_days: Sequence[tuple[date, date]] = ()
    service: str | None = None
    window: int | None = None
    staff: int | None = None
    priority: str | None = None

    def day_ranges(self) -> list[tuple[date, date]]:
        """The period's days not read from the monthly rollups, as ranges (an index
        range each; a year is two partial months at most)."""
        out: list[tuple[date, date]] = []
        start = self.first
        for a, b in sorted(self.month_days):
            if start < a:
                out.append((start, date.fromordinal(a.toordinal() - 1)))
            start = date.fromordinal(b.toordinal() + 1)
        if start <= self.last:
            out.append((start, self.last))
        # Nothing left: a range that holds no day.
        return out or [(self.last, date.fromordinal(self.last.toordinal() - 1))]

    def tickets(self) -> list[Any]:
        conds: list[Any] = [
            F.hall_id.in_(self.hall_ids),
            or_(*(F.business_date.between(a, b) for a, b in self.day_ranges())),
        ]
        for hall_id, days in self.skip.items():
            if days:
                conds.append(not_(and_(F.hall_id == hall_id, F.business_date.in_(days))))
        if self.service is not None:
            conds.append(F.service == self.service)
        if self.window is not None:
            conds.append(F.window == self.window)
        if self.staff is not None:
            conds.append(F.staff == self.staff)
        if self.priority is not None:
            conds.append(F.priority == self.priority)
        return conds

    def windows(self) -> list[Any]:
        conds: list[Any] = [
            W.hall_id.in_(self.hall_ids),
            or_(*(W.business_date.between(a, b) for a, b in self.day_ranges())),
        ]
        for hall_id, days in self.skip.items():
            if days:
                conds.append(not_(and_(W.hall_id == hall_id, W.business_date.in_(days))))
        if self.window is not None:
            conds.append(W.window == self.window)
        if self.staff is not None:
            conds.append(or_(W.kind != "signed", W.staff == self.staff))
        return conds


def _key(group: Group) -> list[Any]:
    column = KEY_COLUMNS.get(group)
    return [] if column is None else [column]


def _key_value(group: Group, row: Any) -> str:
    return facts.key_of_value(group, row[0]) if group is not Group.NONE else "total"


async def volume_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> list[facts.VolumeCell]:
    key = _key(group)
    dims = [F.continuation, F.source, F.status, F.outcome, F.ever_held]
    query = select(*key, *dims, func.count()).where(*scope.tickets()).group_by(*key, *dims)
    out = []
    for row in (await session.execute(query)).all():
        c, source, status, outcome, held, n = row[len(key) :]
        out.append(
            facts.VolumeCell(
                _key_value(group, row), bool(c), source, status, outcome, bool(held), n
            )
        )
    return out


def coarse_sql(b: Any) -> Any:
    """``facts.coarse`` in SQL (integer division on both databases)."""
    return case(
        (b <= 40, b),
        (b <= 240, 40 + (b - 37) // 4),
        else_=90 + (b - 221) // 20,
    )


def upper_sql(c: Any) -> Any:
    """``facts.upper`` in SQL."""
    return case(
        (c <= 40, 15.0 * c),
        (c <= 90, 600.0 + 60.0 * (c - 40)),
        else_=3600.0 + 300.0 * (c - 90),
    )


async def wait_cells(session: AsyncSession, scope: FactScope, group: Group) -> list[facts.HistCell]:
    """Wait histograms (report buckets) per period key and service."""
    key = _key(group)
    b = coarse_sql(F.wait_b)
    query = (
        select(*key, F.service, b, func.count(), func.sum(F.wait_s), func.max(F.wait_s))
        .where(*scope.tickets(), F.wait_s.is_not(None))
        .group_by(*key, F.service, b)
    )
    out = []
    for row in (await session.execute(query)).all():
        service, c, n, total, largest = row[len(key) :]
        out.append(facts.HistCell(_key_value(group, row), service, c, n, total, largest))
    return out


async def over_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> dict[tuple[str, str], int]:
    """Waits over their service's target (each hall's own) per period key and service."""
    key = _key(group)
    query = (
        select(*key, F.service, func.count())
        .join(Service, and_(Service.hall_id == F.hall_id, Service.code == F.service))
        .where(*scope.tickets(), F.wait_s > Service.target_wait_minutes * 60.0)
        .group_by(*key, F.service)
    )
    return {
        (_key_value(group, row), row[len(key)]): row[len(key) + 1]
        for row in (await session.execute(query)).all()
    }


async def wait_and_over_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> tuple[list[facts.HistRow], dict[tuple[str, str], int]]:
    """``wait_cells`` and ``over_cells``. PostgreSQL: the waits over target counted in
    the histograms' scan (a parallel hash aggregate; GROUPING SETS with the heatmap would
    sort the year's facts in one process); SQLite: one scan each."""
    if not is_postgres(session):
        return (
            list(await wait_cells(session, scope, group)),
            await over_cells(session, scope, group),
        )
    key = [c.label("k") for c in _key(group)]
    b = coarse_sql(F.wait_b)
    above = case((F.wait_s > Service.target_wait_minutes * 60.0, 1), else_=0)
    per_bucket = (
        select(
            *key,
            F.service.label("service"),
            b.label("b"),
            func.count().label("n"),
            func.sum(F.wait_s).label("total"),
            func.max(F.wait_s).label("largest"),
            func.sum(above).label("over"),
        )
        .outerjoin(Service, and_(Service.hall_id == F.hall_id, Service.code == F.service))
        .where(*scope.tickets(), F.wait_s.is_not(None))
        .group_by(*key, F.service, b)
        .subquery()
    )
    # One row per period key and service, its buckets as arrays: 3,000 rows instead of
    # 140,000 for a district's year by day (the rows, not the scan, were the cost).
    outer_key = [per_bucket.c.k] if key else []
    query = select(
        *outer_key,
        per_bucket.c.service,
        func.array_agg(per_bucket.c.b),
        func.array_agg(per_bucket.c.n),
        func.array_agg(per_bucket.c.total),
        func.array_agg(per_bucket.c.largest),
        func.sum(per_bucket.c.over),
    ).group_by(*outer_key, per_bucket.c.service)
    # For this transaction only: a district's year of partial aggregates fits in memory
    # (at the default 4 MB they are sorted on disk), and JIT compiling costs more than
    # it saves on a query that runs once (about 0.15 s together, bench/stats_district.py).
    await session.execute(text("SET LOCAL work_mem = '32MB'"))
    await session.execute(text("SET LOCAL jit = off"))
    cells: list[facts.HistRow] = []
    over: dict[tuple[str, str], int] = {}
    for row in (await session.execute(query)).all():
        service, bs, ns, totals, largest, n_over = row[len(key) :]
        k = _key_value(group, row)
        cells += [(k, service, *cell) for cell in zip(bs, ns, totals, largest, strict=True)]
        if n_over:
            over[(k, service)] = int(n_over)
    return cells, over


async def heat_cells(session: AsyncSession, scope: FactScope) -> list[facts.HeatCell]:
    query = (
        select(F.weekday, F.hour, func.count(), func.sum(F.wait_s))
        .where(*scope.tickets(), F.wait_s.is_not(None))
        .group_by(F.weekday, F.hour)
    )
    return [
        facts.HeatCell(d, h, n, float(total or 0.0))
        for d, h, n, total in (await session.execute(query)).all()
    ]


DIMS = ("service", "window", "staff")


async def handling_cells(
    session: AsyncSession, scope: FactScope, per_hall_window: bool = False
) -> dict[str, list[facts.HistCell]]:
    """Handling histograms by service, window and staff (a window named "hall id:number"
    with ``per_hall_window``). PostgreSQL: one scan (GROUPING SETS); SQLite: one each."""
    b = coarse_sql(F.handling_b)
    measures_: list[Any] = [func.count(), func.sum(F.handling_s), func.max(F.handling_s)]
    where: list[Any] = [*scope.tickets(), F.handling_s.is_not(None)]
    window_names: list[Any] = [F.hall_id, F.window] if per_hall_window else [F.window]
    names_of: dict[str, list[Any]] = {
        "service": [F.service],
        "window": window_names,
        "staff": [F.staff],
    }
    out: dict[str, list[facts.HistCell]] = {by: [] for by in DIMS}

    def cell(names: Sequence[Any], c: Any, n: Any, total: Any, largest: Any) -> facts.HistCell:
        return facts.HistCell("", ":".join(str(v) for v in names), c, n, total, largest)

    if is_postgres(session):
        sets = [tuple_(*names_of[by], b) for by in DIMS]
        hall: Any = F.hall_id if per_hall_window else literal_column("0")
        columns = [F.service, hall, F.window, F.staff]
        marks = [func.grouping(F.service), func.grouping(F.window), func.grouping(F.staff)]
        together: Any = (
            select(*columns, b, *measures_, *marks)
            .where(*where)
            .group_by(func.grouping_sets(*sets))
        )
        for service, hall_id, window, staff, c, n, total, largest, gs, gw, gst in (
            await session.execute(together)
        ).all():
            if gs == 0 and service is not None:
                out["service"].append(cell([service], c, n, total, largest))
            elif gw == 0 and window is not None:
                names = [hall_id, window] if per_hall_window else [window]
                out["window"].append(cell(names, c, n, total, largest))
            elif gst == 0 and staff is not None:
                out["staff"].append(cell([staff], c, n, total, largest))
        return out
    for by in DIMS:
        names = names_of[by]
        one: Any = (
            select(*names, b, *measures_)
            .where(*where, getattr(F, by).is_not(None))
            .group_by(*names, b)
        )
        for row in (await session.execute(one)).all():
            out[by].append(cell(row[: len(names)], *row[len(names) :]))
    return out


async def case_cells(session: AsyncSession, scope: FactScope) -> list[tuple[int, facts.CaseCell]]:
    """Per hall: finished cases and handling per window and clerk."""
    query = (
        select(
            F.hall_id, F.window, F.staff, func.count(), func.sum(func.coalesce(F.handling_s, 0.0))
        )
        .where(*scope.tickets(), F.status == "done", F.window.is_not(None))
        .group_by(F.hall_id, F.window, F.staff)
    )
    return [
        (hall_id, facts.CaseCell(int(window or 0), staff, n, float(total)))
        for hall_id, window, staff, n, total in (await session.execute(query)).all()
    ]


async def window_time_cells(
    session: AsyncSession, scope: FactScope
) -> list[tuple[int, facts.WindowFact]]:
    """Per hall: open, paused (by reason) and signed-in (by clerk) seconds per window."""
    query = (
        select(W.hall_id, W.window, W.kind, W.reason, W.staff, func.sum(W.seconds))
        .where(*scope.windows())
        .group_by(W.hall_id, W.window, W.kind, W.reason, W.staff)
    )
    return [
        (hall_id, facts.WindowFact(scope.first, window, kind, reason, staff, float(seconds)))
        for hall_id, window, kind, reason, staff, seconds in (await session.execute(query)).all()
    ]


# --- the monthly rollups -------------------------------------------------------------------

MV, MH, MT, MW = StatsMonthVolume, StatsMonthHist, StatsMonthHeat, StatsMonthWindow
MONTH_TABLES = (MV, MH, MT, MW)


def month_bounds(bmonth: int) -> tuple[date, date]:
    year, month = divmod(bmonth, 100)
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


async def rebuild_months(session: AsyncSession, hall_id: int, bmonths: Sequence[int]) -> None:
    """Sum the facts of the hall's business months into the monthly rollups (replaced)."""
    for bmonth in bmonths:
        a, b = month_bounds(bmonth)
        for table in MONTH_TABLES:
            await session.execute(
                delete(table).where(table.hall_id == hall_id, table.bmonth == bmonth)
            )
        of_month = (F.hall_id == hall_id, F.business_date.between(a, b))
        dims: tuple[Any, ...] = (F.month, F.service, F.priority, F.source, F.status)
        dims += (F.outcome, F.continuation, F.ever_held)
        await session.execute(
            insert(MV).from_select(
                [
                    *("hall_id", "bmonth", "month", "service", "priority", "source"),
                    *("status", "outcome", "continuation", "ever_held", "n"),
                ],
                select(literal(hall_id), literal(bmonth), *dims, func.count())
                .where(*of_month)
                .group_by(*dims),
            )
        )
        hist_columns = [
            *("hall_id", "bmonth", "month", "measure", "dim", "name", "bucket"),
            *("n", "total", "largest"),
        ]
        for measure, dim, value, bucketed in (
            ("wait", "service", F.wait_s, F.wait_b),
            ("handling", "service", F.handling_s, F.handling_b),
            ("handling", "window", F.handling_s, F.handling_b),
            ("handling", "staff", F.handling_s, F.handling_b),
        ):
            name = cast(getattr(F, dim), String)
            c = coarse_sql(bucketed)
            await session.execute(
                insert(MH).from_select(
                    hist_columns,
                    select(
                        literal(hall_id),
                        literal(bmonth),
                        F.month,
                        literal(measure),
                        literal(dim),
                        name,
                        c,
                        func.count(),
                        func.sum(value),
                        func.max(value),
                    )
                    .where(*of_month, value.is_not(None), getattr(F, dim).is_not(None))
                    .group_by(F.month, name, c),
                )
            )
        await session.execute(
            insert(MT).from_select(
                ["hall_id", "bmonth", "service", "weekday", "hour", "n", "total"],
                select(
                    literal(hall_id),
                    literal(bmonth),
                    F.service,
                    F.weekday,
                    F.hour,
                    func.count(),
                    func.sum(F.wait_s),
                )
                .where(*of_month, F.wait_s.is_not(None))
                .group_by(F.service, F.weekday, F.hour),
            )
        )
        window_columns = ["hall_id", "bmonth", "window", "kind", "reason", "staff", "n", "seconds"]
        await session.execute(
            insert(MW).from_select(
                window_columns,
                select(
                    literal(hall_id),
                    literal(bmonth),
                    F.window,
                    literal("cases"),
                    literal(""),
                    F.staff,
                    func.count(),
                    func.sum(func.coalesce(F.handling_s, 0.0)),
                )
                .where(*of_month, F.status == "done", F.window.is_not(None))
                .group_by(F.window, F.staff),
            )
        )
        await session.execute(
            insert(MW).from_select(
                window_columns,
                select(
                    literal(hall_id),
                    literal(bmonth),
                    W.window,
                    W.kind,
                    W.reason,
                    W.staff,
                    literal(0),
                    func.sum(W.seconds),
                )
                .where(W.hall_id == hall_id, W.business_date.between(a, b))
                .group_by(W.window, W.kind, W.reason, W.staff),
            )
        )


def _month_key(group: Group, table: Any) -> list[Any]:
    return [table.month] if group is Group.MONTH else []


def _of_months(scope: FactScope, table: Any) -> list[Any]:
    return [table.hall_id.in_(scope.hall_ids), table.bmonth.in_(list(scope.months))]


async def month_volume_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> list[facts.VolumeCell]:
    if not scope.months:
        return []
    key = _month_key(group, MV)
    dims = [MV.continuation, MV.source, MV.status, MV.outcome, MV.ever_held]
    conds = _of_months(scope, MV)
    if scope.service is not None:
        conds.append(MV.service == scope.service)
    query = select(*key, *dims, func.sum(MV.n)).where(*conds).group_by(*key, *dims)
    out = []
    for row in (await session.execute(query)).all():
        c, source, status, outcome, held, n = row[len(key) :]
        out.append(
            facts.VolumeCell(
                _key_value(group, row), bool(c), source, status, outcome, bool(held), int(n)
            )
        )
    return out


def _hist_query(scope: FactScope, measure: str, dim: str, key: list[Any], per_hall: bool) -> Any:
    names = [MH.hall_id, MH.name] if per_hall else [MH.name]
    conds = [*_of_months(scope, MH), MH.measure == measure, MH.dim == dim]
    if scope.service is not None and dim == "service":
        conds.append(MH.name == scope.service)
    return (
        select(*key, *names, MH.bucket, func.sum(MH.n), func.sum(MH.total), func.max(MH.largest))
        .where(*conds)
        .group_by(*key, *names, MH.bucket)
    )


async def month_wait_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> list[facts.HistCell]:
    if not scope.months:
        return []
    key = _month_key(group, MH)
    out = []
    for row in (await session.execute(_hist_query(scope, "wait", "service", key, False))).all():
        name, c, n, total, largest = row[len(key) :]
        out.append(facts.HistCell(_key_value(group, row), name, c, int(n), total, largest))
    return out


async def month_over_cells(
    session: AsyncSession, scope: FactScope, group: Group
) -> dict[tuple[str, str], int]:
    if not scope.months:
        return {}
    key = _month_key(group, MH)
    conds = [*_of_months(scope, MH), MH.measure == "wait", MH.dim == "service"]
    if scope.service is not None:
        conds.append(MH.name == scope.service)
    query = (
        select(*key, MH.name, func.sum(MH.n))
        .join(Service, and_(Service.hall_id == MH.hall_id, Service.code == MH.name))
        .where(*conds, upper_sql(MH.bucket) > Service.target_wait_minutes * 60.0)
        .group_by(*key, MH.name)
    )
    return {
        (_key_value(group, row), row[len(key)]): int(row[len(key) + 1])
        for row in (await session.execute(query)).all()
    }


async def month_heat_cells(session: AsyncSession, scope: FactScope) -> list[facts.HeatCell]:
    if not scope.months:
        return []
    conds = _of_months(scope, MT)
    if scope.service is not None:
        conds.append(MT.service == scope.service)
    query = (
        select(MT.weekday, MT.hour, func.sum(MT.n), func.sum(MT.total))
        .where(*conds)
        .group_by(MT.weekday, MT.hour)
    )
    return [
        facts.HeatCell(d, h, int(n), float(total or 0.0))
        for d, h, n, total in (await session.execute(query)).all()
    ]


async def month_handling_cells(
    session: AsyncSession, scope: FactScope, per_hall_window: bool = False
) -> dict[str, list[facts.HistCell]]:
    """The monthly handling histograms by service, window and staff, in one read."""
    out: dict[str, list[facts.HistCell]] = {by: [] for by in DIMS}
    if not scope.months:
        return out
    hall = case((MH.dim == "window", MH.hall_id), else_=0) if per_hall_window else literal(0)
    query = (
        select(
            MH.dim,
            hall,
            MH.name,
            MH.bucket,
            func.sum(MH.n),
            func.sum(MH.total),
            func.max(MH.largest),
        )
        .where(*_of_months(scope, MH), MH.measure == "handling")
        .group_by(MH.dim, hall, MH.name, MH.bucket)
    )
    for dim, hall_id, name, c, n, total, largest in (await session.execute(query)).all():
        shown = f"{hall_id}:{name}" if per_hall_window and dim == "window" else name
        out[dim].append(facts.HistCell("", shown, c, int(n), total, largest))
    return out


async def month_window_cells(
    session: AsyncSession, scope: FactScope
) -> tuple[list[tuple[int, facts.CaseCell]], list[tuple[int, facts.WindowFact]]]:
    if not scope.months:
        return [], []
    query = (
        select(
            MW.hall_id,
            MW.window,
            MW.kind,
            MW.reason,
            MW.staff,
            func.sum(MW.n),
            func.sum(MW.seconds),
        )
        .where(*_of_months(scope, MW))
        .group_by(MW.hall_id, MW.window, MW.kind, MW.reason, MW.staff)
    )
    cases: list[tuple[int, facts.CaseCell]] = []
    times: list[tuple[int, facts.WindowFact]] = []
    for hall_id, window, kind, reason, staff, n, seconds in (await session.execute(query)).all():
        if kind == "cases":
            cases.append((hall_id, facts.CaseCell(window, staff, int(n), float(seconds))))
        else:
            times.append(
                (
                    hall_id,
                    facts.WindowFact(scope.first, window, kind, reason, staff, float(seconds)),
                )
            )
    return cases, times
