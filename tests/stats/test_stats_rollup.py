"""The statistics facts kept by the engine (docs/statistics.md, "Rollups"): after random
activity at the hall (issue, call, start, finish, no-show, transfer, hold and call-back,
pause and resume, cancel, ratings) the kept facts equal a recount from the raw rows, and
the reports read from them equal the reports from the raw rows. Both databases."""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, text

from services.engine.core.db import utcnow
from services.engine.halls import repository as halls_repo
from services.engine.statistics import facts, reports, repository, rollup
from services.engine.statistics import service as statistics
from services.engine.statistics.models import StatsDay, StatsTicketFact, StatsWindowFact
from services.engine.statistics.reports import Group
from services.engine.statistics.service import Filters
from tests.helpers.api import API, act
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import Hall

TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(TZ).date()


def tomorrow() -> datetime:
    """A moment when today is a closed day (the rollup takes the clock it is given)."""
    return utcnow() + timedelta(days=1)


async def kept(session: Any, hall_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    tickets = (
        (await session.execute(select(StatsTicketFact).where(StatsTicketFact.hall_id == hall_id)))
        .scalars()
        .all()
    )
    windows = (
        (await session.execute(select(StatsWindowFact).where(StatsWindowFact.hall_id == hall_id)))
        .scalars()
        .all()
    )
    return (
        sorted(
            tuple(getattr(t, c) for c in facts.TicketFact.__dataclass_fields__) for t in tickets
        ),
        sorted(
            tuple(getattr(w, c) for c in facts.WindowFact.__dataclass_fields__) for w in windows
        ),
    )


async def month_rows(session: Any, hall_id: int) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in repository.MONTH_TABLES:
        found = (await session.execute(select(table).where(table.hall_id == hall_id))).scalars()
        columns = [c.name for c in table.__table__.columns if c.name != "id"]
        out[table.__tablename__] = sorted(
            (tuple(getattr(r, c) for c in columns) for r in found.all()), key=repr
        )
    return out


async def recounted(session: Any, hall: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    tickets, windows = await rollup.recount(session, hall, [today()])
    return (
        sorted(tuple(vars(t).values()) for t in tickets),
        sorted(tuple(vars(w).values()) for w in windows),
    )


def same_facts(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal row for row (seconds to the database's float precision)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                if u is None or v is None or abs(u - v) > 1e-6:
                    return False
            elif u != v:
                return False
    return True


async def random_activity(client: httpx.AsyncClient, hall: Hall, rnd: random.Random) -> int:
    """Random steps at the hall's windows; how many were accepted."""
    finished: list[int] = []
    accepted = 0
    for window in (1, 2, 3, 4):
        await act(client, hall, window, "open")
    for _ in range(80):
        roll = rnd.random()
        window = rnd.choice((1, 2, 3, 4))
        if roll < 0.25:
            issued = await client.post(
                f"{API}/{hall.code}/tickets",
                json={"service": rnd.choice(("business", "business", "estate"))},
                headers=hall.h("kiosk"),
            )
            if issued.status_code != 201:  # 号已取完: the estate quota is small
                continue
            ticket = issued.json()
            accepted += 1
            if rnd.random() < 0.1:
                await client.post(
                    f"{API}/{hall.code}/tickets/{ticket['id']}/cancel",
                    json={},
                    headers=hall.h("staff"),
                )
            continue
        if roll < 0.45:
            step, body = "call-next", None
        elif roll < 0.55:
            step, body = "start", None
        elif roll < 0.7:
            step, body = "finish", {"outcome": rnd.choice(("done", "accepted", "consulted"))}
        elif roll < 0.75:
            step, body = "no-show", None
        elif roll < 0.8:
            step, body = "hold", {"kind": "missing_documents"}
        elif roll < 0.84:
            step, body = "call-back", None
        elif roll < 0.87:
            step, body = "transfer", {"service": "estate"}
        elif roll < 0.92:
            step, body = ("pause", {"reason": rnd.choice(("午休", "临时离岗"))})
        elif roll < 0.96:
            step, body = "resume", None
        else:
            if finished:
                ticket_id = finished.pop()
                rated = await client.post(
                    f"{API}/{hall.code}/tickets/{ticket_id}/evaluation",
                    json={"level": rnd.choice((5, 4, 3))},
                    headers=hall.h("kiosk"),
                )
                accepted += rated.status_code == 201
            continue
        response = await act(client, hall, window, step, body)
        if response.status_code == 200:
            accepted += 1
            if step == "finish":
                ticket = (response.json().get("ticket") or {}).get("id")
                if ticket:
                    finished.append(ticket)
    return accepted


async def test_kept_facts_equal_a_recount_after_random_activity(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    rnd = random.Random(1919)
    await a_small_day(client, hall)
    async with app.state.sessionmaker() as session:
        (row,) = [h for h in await halls_repo.list_halls(session) if h.code == hall.code]
        assert await rollup.keep_facts(session, tomorrow()) == 1
        assert same_facts((await kept(session, row.id))[0], (await recounted(session, row))[0])
        assert (await kept(session, row.id))[1] == (await recounted(session, row))[1]
        await session.commit()

    assert await random_activity(client, hall, rnd) > 20

    async with app.state.sessionmaker() as session:
        # The triggers marked the day: its facts are behind the raw rows, and not read.
        (day,) = (await session.execute(select(StatsDay))).scalars().all()
        assert day.version != day.rolled_version
        stale_tickets, _ = await kept(session, row.id)
        assert not same_facts(stale_tickets, (await recounted(session, row))[0])
        # Kept again: equal to the recount, row for row.
        assert await rollup.keep_facts(session, tomorrow()) == 1
        tickets, windows = await kept(session, row.id)
        again_tickets, again_windows = await recounted(session, row)
        assert same_facts(tickets, again_tickets)
        assert same_facts(windows, again_windows)
        # The monthly rollups equal the sums of the facts, rebuilt afresh.
        months = await month_rows(session, row.id)
        assert months["stats_month_volumes"] and months["stats_month_hist"]
        await repository.rebuild_months(session, row.id, [today().year * 100 + today().month])
        rebuilt = await month_rows(session, row.id)
        for table, rows in months.items():
            assert same_facts(rows, rebuilt[table]), table
        await session.commit()


async def test_reports_from_kept_facts_equal_reports_from_raw_rows(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    rnd = random.Random(77)
    await a_small_day(client, hall)
    await random_activity(client, hall, rnd)
    month_first = today().replace(day=1)
    month_last = repository.month_bounds(month_first.year * 100 + month_first.month)[1]
    # A moment after the month: every day of it closed (the rollup takes the given clock).
    after = datetime.combine(month_last + timedelta(days=2), datetime.min.time(), tzinfo=TZ)
    async with app.state.sessionmaker() as session:
        (row,) = [h for h in await halls_repo.list_halls(session) if h.code == hall.code]
        # From the raw rows (nothing kept yet), the way the reports always read them.
        raw = await statistics.load(
            session=session, hall=row, first=month_first, last=month_last, filters=Filters()
        )
        await rollup.keep_facts(session, after, rounds=5)
        days = (await session.execute(select(StatsDay))).scalars().all()
        assert days and all(d.version == d.rolled_version for d in days)
        period = {"session": session, "halls": [row], "first": month_first, "last": month_last}
        scope = await statistics.scope_of(**period, filters=Filters(), group=Group.MONTH, now=after)
        assert scope.kept.months == [month_first.year * 100 + month_first.month]
        # By day: the ticket facts, but the heatmap (no period key) from the month's rollup.
        by_day = await statistics.scope_of(**period, filters=Filters(), group=Group.DAY, now=after)
        assert not by_day.kept.months and by_day.whole_months == scope.kept.months
        # By month and in total: the monthly rollups; by day and hour: the ticket facts.
        for group in (Group.MONTH, Group.NONE, Group.HOUR, Group.DAY):
            rows, _total = await statistics.volumes_report(
                **period, filters=Filters(), group=group, now=after
            )
            assert rows == reports.volumes(raw.rows, group, raw.tz)
            for service in (None, "business"):
                waits = await statistics.waits_report(
                    **period, filters=Filters(service=service), group=group, now=after
                )
                kept_rows = [r for r in raw.rows if service is None or r.service == service]
                expected = reports.waits(kept_rows, group, raw.tz, lookup=raw.by_id)
                assert waits.rows.keys() == expected.keys()
                for key, line in expected.items():
                    got = waits.rows[key]
                    assert got.summary.count == line.summary.count
                    assert got.summary.max == line.summary.max
                    assert abs(got.summary.mean - line.summary.mean) < 1e-6  # type: ignore[operator]
                    # Percentiles: exact to the bucket width.
                    for a, b in (
                        (got.summary.median, line.summary.median),
                        (got.summary.p90, line.summary.p90),
                    ):
                        assert a is not None and b is not None and abs(a - b) <= facts.width(b)
                    assert got.over_target == line.over_target
                heat = reports.heatmap(kept_rows, raw.tz, raw.by_id)
                assert waits.heatmap.keys() == heat.keys()
                assert all(abs(waits.heatmap[k] - v) < 1e-6 for k, v in heat.items())
        figures = await statistics.handling_report(**period, filters=Filters(), now=after)
        for by, mine in (("service", figures.by_service), ("window", figures.by_window)):
            expected_handling = reports.handling(
                raw.rows, lambda r, by=by: None if getattr(r, by) is None else str(getattr(r, by))
            )
            assert mine.keys() == expected_handling.keys()
            for code, summary in expected_handling.items():
                assert mine[code].count == summary.count
                assert abs(mine[code].mean - summary.mean) < 1e-6  # type: ignore[operator]
        windows = (await statistics.windows_reports(**period, filters=Filters(), now=after))[row.id]
        lines, staff, balance = reports.windows_report(
            raw.rows,
            raw.log,
            raw.windows,
            start=raw.start,
            end=raw.end,
            low_cases_per_month=raw.low_cases_per_month,
        )
        assert {w: (x.cases, round(x.handling_seconds, 3)) for w, x in windows.lines.items()} == {
            w: (x.cases, round(x.handling_seconds, 3)) for w, x in lines.items()
        }
        assert {w: round(x.open_seconds, 3) for w, x in windows.lines.items()} == {
            w: round(x.open_seconds, 3) for w, x in lines.items()
        }
        assert {
            w: {k: round(v, 3) for k, v in x.paused_seconds.items()}
            for w, x in windows.lines.items()
        } == {w: {k: round(v, 3) for k, v in x.paused_seconds.items()} for w, x in lines.items()}
        assert windows.balance.low_volume_windows == balance.low_volume_windows
        assert {u: s.cases for u, s in windows.staff.items()} == {
            u: s.cases for u, s in staff.items() if s.cases or s.signed_in_seconds
        }
        await session.commit()


async def test_two_processes_keeping_the_facts_at_once_count_each_day_once(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    await a_small_day(client, hall)
    await random_activity(client, hall, random.Random(3))

    async def keep() -> int:
        async with app.state.sessionmaker() as session:
            return await rollup.keep_facts(session, tomorrow())

    # Two housekeepers (engine processes) at once: one rolls the day up, the other
    # skips the hall it finds locked (or finds nothing left to do).
    done = await asyncio.gather(keep(), keep())
    assert sorted(done) == [0, 1]
    async with app.state.sessionmaker() as session:
        (row,) = [h for h in await halls_repo.list_halls(session) if h.code == hall.code]
        tickets, windows = await kept(session, row.id)
        again_tickets, again_windows = await recounted(session, row)
        assert same_facts(tickets, again_tickets) and same_facts(windows, again_windows)
        months = await month_rows(session, row.id)
        volumes = sum(r[-1] for r in months["stats_month_volumes"])
        assert volumes == len(again_tickets)
        await session.commit()


async def _analyzed(session: Any) -> int:
    """How often the databases' planner statistics of the ticket facts were taken."""
    if repository.is_postgres(session):
        query = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'stats_ticket_facts'"
        return int((await session.execute(text(query))).scalar_one())
    query = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
    if not (await session.execute(text(query))).scalar_one():
        return 0
    query = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'stats_ticket_facts'"
    return int((await session.execute(text(query))).scalar_one())


async def test_a_large_roll_up_takes_the_planner_statistics_afresh(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    """After many days kept at once (an upgrade rolling up its history), the facts are
    analyzed: planned as empty tables, a district's year by day runs 2-4 times slower."""
    await a_small_day(client, hall)
    async with app.state.sessionmaker() as session:
        before = await _analyzed(session)
        await session.commit()
        # A quiet roll-up (below the threshold) leaves the statistics alone.
        assert await rollup.keep_facts(session, tomorrow(), analyze_after=2) == 1
        await session.commit()
        assert await _analyzed(session) == before
        await session.commit()
    await random_activity(client, hall, random.Random(5))
    async with app.state.sessionmaker() as session:
        assert await rollup.keep_facts(session, tomorrow(), analyze_after=1) == 1
    async with app.state.sessionmaker() as session:
        # PostgreSQL counts an ANALYZE in its shared statistics at once; SQLite writes
        # the table's row in sqlite_stat1.
        assert await _analyzed(session) > before
