"""Moving a hall's activity into the past: a day made through the API today becomes a
closed day (yesterday), as the rollup and ``jiaohao stats push`` need."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from services.engine.core.db import make_engine, make_sessionmaker

# The tables of a hall's day whose times move together (tickets, their steps and
# ratings, the window log, the windows' own clocks, the day's number counters).
TABLES = ("tickets", "ticket_events", "ticket_counters", "window_log", "evaluations", "windows")


async def move_back(url: str, days: int = 1) -> None:
    """Every time and date of the hall's activity ``days`` earlier (run with the engine
    stopped: nothing else writes meanwhile)."""
    import services.engine.models as models

    delta = timedelta(days=days)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            for mapper in models.Base.registry.mappers:
                table = mapper.local_table
                if getattr(table, "name", None) not in TABLES:
                    continue
                for row in (await session.execute(_select(mapper.class_))).scalars().all():
                    for attr in mapper.column_attrs:
                        value = getattr(row, attr.key)
                        if isinstance(value, datetime | date):
                            setattr(row, attr.key, value - delta)
            await session.commit()
    finally:
        await engine.dispose()


def _select(cls: Any) -> Any:
    from sqlalchemy import select

    return select(cls)
