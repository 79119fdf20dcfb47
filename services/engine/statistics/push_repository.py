"""Reading and writing the pushed days (``jiaohao stats push``). No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.halls.models import Service
from services.engine.statistics import facts
from services.engine.statistics.models import StatsDay, StatsTicketFact, StatsWindowFact
from services.engine.statistics.push_models import StatsPush
from services.engine.statistics.repository import is_postgres


async def lock_day(session: AsyncSession, hall_id: int, day: date, ends_at: datetime) -> StatsDay:
    """The remote hall's ``stats_days`` row of the day, written if missing and locked
    (two pushes of one day, a retry and its original, go one after the other)."""
    table = cast(Table, StatsDay.__table__)
    values = {"hall_id": hall_id, "business_date": day, "ends_at": ends_at}
    insert = pg_insert(table) if is_postgres(session) else sqlite_insert(table)
    await session.execute(insert.values(values).on_conflict_do_nothing())
    query = (
        select(StatsDay)
        .where(StatsDay.hall_id == hall_id, StatsDay.business_date == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def receipt(session: AsyncSession, hall_id: int, day: date) -> StatsPush | None:
    query = (
        select(StatsPush)
        .where(StatsPush.hall_id == hall_id, StatsPush.business_date == day)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def receipts(
    session: AsyncSession, hall_id: int, first: date, last: date
) -> Sequence[StatsPush]:
    query = (
        select(StatsPush)
        .where(StatsPush.hall_id == hall_id, StatsPush.business_date.between(first, last))
        .order_by(StatsPush.business_date)
    )
    return (await session.execute(query)).scalars().all()


async def mark_clean(session: AsyncSession, hall_id: int, day: date, now: datetime) -> None:
    """The day's facts are the figures just stored: its version is rolled up."""
    await session.execute(
        update(StatsDay)
        .where(StatsDay.hall_id == hall_id, StatsDay.business_date == day)
        .values(rolled_version=StatsDay.version, rolled_at=now)
    )


async def services_by_code(session: AsyncSession, hall_id: int) -> dict[str, Service]:
    rows = await session.execute(select(Service).where(Service.hall_id == hall_id))
    return {s.code: s for s in rows.scalars().all()}


async def kept_facts(
    session: AsyncSession, hall_id: int, day: date, last: date | None = None
) -> tuple[list[facts.TicketFact], list[facts.WindowFact]]:
    """A hall's kept facts of one day (or of the days up to ``last``), as stored."""
    t = StatsTicketFact
    w = StatsWindowFact
    last = last or day
    query = (
        select(t)
        .where(t.hall_id == hall_id, t.business_date.between(day, last))
        .order_by(t.business_date, t.ticket_id)
    )
    rows: Sequence[Any] = (await session.execute(query)).scalars().all()
    tickets = [
        facts.TicketFact(
            **{name: getattr(r, name) for name in facts.TicketFact.__dataclass_fields__}
        )
        for r in rows
    ]
    window_query = (
        select(w)
        .where(w.hall_id == hall_id, w.business_date.between(day, last))
        .order_by(w.business_date, w.id)
    )
    windows = [
        facts.WindowFact(x.business_date, x.window, x.kind, x.reason, x.staff, x.seconds)
        for x in (await session.execute(window_query)).scalars().all()
    ]
    return tickets, windows
