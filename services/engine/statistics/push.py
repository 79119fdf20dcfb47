"""Village stations' daily figures (村级服务站上报, docs/statistics.md "Village stations:
stats push"): the station's side reads its closed days' facts; the district's side keeps
what a station device sends as the remote hall's facts.

The district's reports then read the remote hall's pushed days exactly as they read a
local hall's kept days (``stats_days`` clean, facts in ``stats_ticket_facts`` and
``stats_window_facts``), so its figures are the station's own, minus the clerks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.auth.permissions import DeviceKind, Principal
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, ValidationFailed
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.statistics import (
    facts,
    push_repository,
    push_rules,
    repository,
    rollup,
)
from services.engine.statistics.push_models import StatsPush
from services.engine.statistics.push_rules import DayFigures, NotAStation, PushedService

# --- the station's side ----------------------------------------------------------------


@dataclass(frozen=True)
class StationDay:
    business_date: date
    figures: DayFigures | None  # None: the day's facts are not up to date (see note)
    note: str | None = None


async def station_days(
    *, session: AsyncSession, hall: Hall, first: date, last: date, now: datetime | None = None
) -> list[StationDay]:
    """The hall's closed days between ``first`` and ``last`` with their figures, after
    the hall's rollup has caught up (a day changed since is rolled up again first).
    Days before the hall's first activity are not listed."""
    if hall.remote:
        raise NotAStation(
            f"hall {hall.code} is a remote station here: it has no figures of its own"
        )
    if last < first:
        raise ValidationFailed("the period ends before it begins")
    now = now or utcnow()
    await rollup.announce(session, hall, now)
    while await rollup.roll_up_hall(session, hall, now) >= rollup.DAYS_PER_ROUND:
        pass
    tz = ZoneInfo(hall.timezone)
    today = now.astimezone(tz).date()
    wanted = push_rules.closed_days(push_rules.days_between(first, last), today)
    if not wanted:
        await session.commit()
        return []
    kept = {
        day: version == rolled
        for _, day, version, rolled in await repository.days_kept(
            session, [hall.id], min(wanted), max(wanted)
        )
    }
    services = [
        PushedService(s.code, s.name, s.target_wait_minutes, float(s.average_handle_minutes))
        for s in await halls_repo.services_of(session, hall.id)
    ]
    out: list[StationDay] = []
    for day in wanted:
        if day not in kept:
            continue
        if not kept[day]:
            out.append(StationDay(day, None, "changed while it was read: push it again"))
            continue
        tickets, windows = await push_repository.kept_facts(session, hall.id, day)
        out.append(StationDay(day, push_rules.figures_of(day, services, tickets, windows)))
    await session.commit()
    return out


# --- the district's side ---------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    business_date: date
    result: str  # stored (first time), replaced (changed figures), unchanged
    tickets: int
    windows: int
    first_at: datetime
    changed_at: datetime


def _check_station(principal: Principal, hall: Hall) -> None:
    if principal.kind != "device" or principal.role != DeviceKind.STATION.value:
        raise Forbidden("figures are pushed only by a station device (jiaohao stats push)")
    if not hall.remote or hall.region_id is None:
        raise NotAStation(
            f"hall {hall.code} is not registered here as a remote station under a region"
        )


async def _keep_services(session: AsyncSession, hall: Hall, services: list[PushedService]) -> None:
    """The station's services as the remote hall's (names and target waits for the
    reports); inactive: nothing is issued for a remote hall here."""
    have = await push_repository.services_by_code(session, hall.id)
    for order, s in enumerate(services):
        row = have.get(s.code)
        if row is None:
            session.add(
                Service(
                    hall_id=hall.id,
                    code=s.code,
                    name=s.name,
                    prefix="",
                    number_width=3,
                    period_quotas=[],
                    target_wait_minutes=s.target_wait_minutes,
                    average_handle_minutes=s.average_handle_minutes,
                    sort_order=order,
                    active=False,
                )
            )
            continue
        wanted = (s.name, s.target_wait_minutes, s.average_handle_minutes)
        if (row.name, row.target_wait_minutes, row.average_handle_minutes) != wanted:
            row.name, row.target_wait_minutes, row.average_handle_minutes = wanted


async def receive_day(
    *,
    session: AsyncSession,
    hall: Hall,
    principal: Principal,
    business_date: date,
    figures: DayFigures,
    now: datetime | None = None,
) -> Received:
    """Keep a remote hall's day as pushed by its station: the day's facts replaced by
    these, in one transaction; the same figures again change nothing."""
    _check_station(principal, hall)
    now = now or utcnow()
    tz = ZoneInfo(hall.timezone)
    push_rules.check_day(business_date, now.astimezone(tz).date())
    push_rules.check_figures(figures, business_date)
    digest = push_rules.digest(figures)
    await push_repository.lock_day(
        session, hall.id, business_date, facts.day_bounds(business_date, tz)[1]
    )
    found = await push_repository.receipt(session, hall.id, business_date)
    if found is not None and found.digest == digest:
        received = Received(
            business_date,
            "unchanged",
            found.tickets,
            found.windows,
            found.first_at,
            found.changed_at,
        )
        await session.commit()
        return received
    await _keep_services(session, hall, figures.services)
    tickets, windows = push_rules.stored_facts(hall.id, figures)
    await repository.replace_facts(
        session,
        hall.id,
        [business_date],
        [{**asdict(f), "hall_id": hall.id} for f in tickets],
        [{**asdict(w), "hall_id": hall.id} for w in windows],
    )
    # The monthly rollups of the day's business month follow its facts (as the rollup's).
    await repository.rebuild_months(
        session, hall.id, [business_date.year * 100 + business_date.month]
    )
    await push_repository.mark_clean(session, hall.id, business_date, now)
    result = "stored" if found is None else "replaced"
    if found is None:
        found = StatsPush(
            hall_id=hall.id,
            business_date=business_date,
            device_id=principal.id,
            digest=digest,
            tickets=len(tickets),
            windows=len(windows),
            first_at=now,
            changed_at=now,
            pushes=1,
        )
        session.add(found)
    else:
        found.device_id = principal.id
        found.digest = digest
        found.tickets, found.windows = len(tickets), len(windows)
        found.changed_at = now
        found.pushes += 1
    audit.record(
        session,
        hall.id,
        "stats.push",
        f"hall {hall.code} day {business_date}",
        actor=principal.actor,
        at=now,
        after={"result": result, "tickets": len(tickets), "windows": len(windows)},
    )
    received = Received(business_date, result, len(tickets), len(windows), found.first_at, now)
    await session.commit()
    return received


async def received_days(
    *, session: AsyncSession, hall: Hall, first: date, last: date
) -> list[StatsPush]:
    """The receipts of a remote hall's pushed days (what came, when)."""
    return list(await push_repository.receipts(session, hall.id, first, last))
