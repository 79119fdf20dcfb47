"""Keeping the statistics facts (docs/statistics.md, "Rollups"): the housekeeping's step.

A closed business day is first *announced*: its ``stats_days`` row is written and
committed while every writer of tickets, ticket steps, ratings and the window log is
fenced off (PostgreSQL: a SHARE lock on those tables, taken only when no writer is in
flight (NOWAIT; otherwise the next round tries again) and held for the milliseconds of
the insert; SQLite has one writer at a time anyway). From then on any change to the
day's raw rows fires a trigger (migration 0013) that bumps the day's version. Then it
is *rolled up*: its version read, its raw rows read, its facts and its month's rollups
replaced and the version they came from recorded, in one transaction; a change
committed meanwhile has bumped the version again, so the day is rolled up again on the
next round. One process rolls up a hall at a time (PostgreSQL advisory lock; the
others skip it).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.db import utcnow
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.statistics import facts, repository, service

# Days rolled up per hall per transaction (a month of a busy hall: a few seconds).
DAYS_PER_ROUND = 31


async def announce(session: AsyncSession, hall: Hall, now: datetime) -> int:
    """Announce the hall's closed days not yet kept (up to yesterday, its clock)."""
    tz = ZoneInfo(hall.timezone)
    yesterday = now.astimezone(tz).date() - timedelta(days=1)
    last = await repository.last_announced(session, hall.id)
    if last is not None:
        first = last + timedelta(days=1)
    else:
        first_ticket, first_log = await repository.first_activity(session, hall.id)
        starts = [d for d in (first_ticket, first_log and first_log.astimezone(tz).date()) if d]
        if not starts:
            return 0
        first = min(starts)
    days = [first + timedelta(days=i) for i in range((yesterday - first).days + 1)]
    if not days:
        return 0
    try:
        await repository.fence_writers(session)
    except DBAPIError:  # a writer in flight: the next round announces
        await session.rollback()
        return 0
    await repository.announce_days(
        session, hall.id, [(d, facts.day_bounds(d, tz)[1]) for d in days]
    )
    await session.commit()
    return len(days)


async def roll_up_hall(
    session: AsyncSession, hall: Hall, now: datetime, limit: int = DAYS_PER_ROUND
) -> int:
    """Recompute up to ``limit`` of the hall's days whose facts are behind; how many."""
    if not await repository.try_lock_hall(session, hall.id):
        await session.rollback()
        return 0
    versions = await repository.days_to_roll(session, hall.id, limit)
    if not versions:
        await session.commit()
        return 0
    days = sorted(versions)
    ctx = await service.context_of(session, hall)
    tickets, windows = await service.raw_facts(session, ctx, days)
    await repository.replace_facts(
        session,
        hall.id,
        days,
        [{**asdict(f), "hall_id": hall.id} for f in tickets],
        [{**asdict(w), "hall_id": hall.id} for w in windows],
    )
    await repository.rebuild_months(
        session, hall.id, sorted({d.year * 100 + d.month for d in days})
    )
    await repository.mark_rolled(session, hall.id, versions, now)
    await session.commit()
    return len(days)


# After this many days kept in one call, the databases' planner statistics of the facts
# are taken again: a table analyzed while it was empty (just migrated, history not yet
# rolled up) is planned as index loops and sorts on disk, 2-4 times slower, until
# autovacuum (if it runs at all) gets to it. A quiet hall's nightly roll-up stays below.
ANALYZE_AFTER_DAYS = DAYS_PER_ROUND


async def keep_facts(
    session: AsyncSession,
    now: datetime | None = None,
    *,
    rounds: int = 1,
    analyze_after: int = ANALYZE_AFTER_DAYS,
) -> int:
    """Announce and roll up every local hall's closed days (``rounds`` batches each)."""
    now = now or utcnow()
    done = 0
    for hall in await halls_repo.list_halls(session):
        if getattr(hall, "remote", False):
            continue
        await announce(session, hall, now)
        for _ in range(rounds):
            rolled = await roll_up_hall(session, hall, now)
            done += rolled
            if rolled < DAYS_PER_ROUND:
                break
    if done >= analyze_after:
        await repository.analyze_facts(session)
        await session.commit()
    return done


async def recount(
    session: AsyncSession, hall: Hall, days: list[date]
) -> tuple[list[facts.TicketFact], list[facts.WindowFact]]:
    """The facts of the days as the raw rows give them now (for checking the kept ones)."""
    ctx = await service.context_of(session, hall)
    return await service.raw_facts(session, ctx, days)
