"""The simulator's check of the staffing advice and the replay of a past day: load the
period (``statistics.service.load``) and the hall's windows as they are today, let the
pure modules (``advice_check``, ``replay``) decide. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.errors import ValidationFailed
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import get_hall, hours_of, rules_of
from services.engine.statistics import advice_check, replay, replay_repository
from services.engine.statistics.reports import period
from services.engine.statistics.service import Filters, PeriodData, load
from services.engine.windows import repository as windows_repo


async def hall_setup(session: AsyncSession, hall: Hall) -> advice_check.HallSetup:
    """The hall's services and active windows with today's services, and its hours."""
    services = {s.id: s for s in await halls_repo.services_of(session, hall.id)}
    windows = await windows_repo.windows_of(session, hall.id, active_only=True)
    primary: dict[int, dict[str, float]] = {w.id: {} for w in windows}
    secondary: dict[int, dict[str, float]] = {w.id: {} for w in windows}
    for link in await windows_repo.window_services_of(session, hall.id):
        if link.window_id not in primary or link.service_id not in services:
            continue
        code = services[link.service_id].code
        side = secondary if link.role == "secondary" else primary
        side[link.window_id][code] = float(link.weight)
    schedule = hours_of(hall).schedule()
    return advice_check.HallSetup(
        services=[
            advice_check.ServiceSetup(
                s.code, s.name, s.target_wait_minutes * 60.0, s.average_handle_minutes * 60.0
            )
            for s in services.values()
        ],
        windows=[
            advice_check.WindowSetup(w.number, w.name, primary[w.id], secondary[w.id])
            for w in windows
        ],
        # The weekly sessions and the extra ones (a 周三夜市) of each weekday.
        sessions={
            d: tuple(
                (s.start, s.end) for s in (*schedule.weekly.get(d, ()), *schedule.extra.get(d, ()))
            )
            for d in range(7)
        },
        interleave=rules_of(hall).interleave,
    )


@dataclass(frozen=True)
class AdviceCheck:
    hall: Hall
    data: PeriodData
    check: advice_check.Check
    own_windows: dict[str, int]


async def advice_check_of(
    *,
    session: AsyncSession,
    hall: Hall,
    first: date,
    last: date,
    weekday: int | None = None,
    seeds: int = advice_check.DEFAULT_SEEDS,
    service_level: float = 0.8,
    max_occupancy: float = 0.85,
) -> AdviceCheck:
    data = await load(session=session, hall=hall, first=first, last=last, filters=Filters())
    setup = await hall_setup(session, hall)
    history = advice_check.learn(
        data.rows, first=first, last=last, tz=data.tz, default_handle=data.default_handle
    )
    found = advice_check.check(
        history,
        setup,
        weekday=weekday,
        seeds=range(1, seeds + 1),
        service_level=service_level,
        max_occupancy=max_occupancy,
    )
    return AdviceCheck(hall, data, found, data.own_windows)


async def advice_check_by_code(
    *, session: AsyncSession, hall_code: str, first: date, last: date, seeds: int = 5
) -> AdviceCheck:
    """By the hall's code (the CLI and the benchmark)."""
    hall = await get_hall(session=session, code=hall_code)
    return await advice_check_of(session=session, hall=hall, first=first, last=last, seeds=seeds)


async def replay_day(
    *, session: AsyncSession, hall: Hall, day: date, what_if: replay.WhatIf
) -> tuple[replay.Replay, dict[str, str]]:
    """A past day as it was and under the what-if. Also the services' names."""
    if not 1 <= what_if.seeds <= advice_check.MAX_SEEDS:
        raise ValidationFailed(f"seeds: 1 to {advice_check.MAX_SEEDS}")
    data = await load(session=session, hall=hall, first=day, last=day, filters=Filters())
    setup = await hall_setup(session, hall)
    slots = await replay_repository.appointment_slots(session, hall.id, day)
    start, end = period(day, day, data.tz)
    found = replay.replay(
        data.rows,
        data.by_id,
        data.log,
        day=day,
        day_start=start,
        day_end=end,
        tz=data.tz,
        setup=setup,
        hall_policy=rules_of(hall).policy,
        slots=slots,
        what_if=what_if,
    )
    return found, data.service_names
