"""Alerts and the dashboard's counts: loading and saving. No rules here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.alerts.models import Alert
from services.engine.balancing.models import TidalChange
from services.engine.halls.models import Hall
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import TicketStatus


async def lock_hall(session: AsyncSession, hall_id: int) -> None:
    """Take the hall row's lock: one alert evaluation of a hall at a time, in any process."""
    await session.execute(select(Hall.id).where(Hall.id == hall_id).with_for_update())


async def open_alerts(session: AsyncSession, hall_id: int) -> Sequence[Alert]:
    return (
        (
            await session.execute(
                select(Alert)
                .where(Alert.hall_id == hall_id, Alert.cleared_at.is_(None))
                .order_by(Alert.opened_at, Alert.id)
            )
        )
        .scalars()
        .all()
    )


async def keys_ever(session: AsyncSession, hall_id: int, keys: Iterable[str]) -> set[str]:
    """Which of these keys ever had an alert (to alert a one-off happening once)."""
    wanted = list(keys)
    if not wanted:
        return set()
    rows = await session.execute(
        select(Alert.key).where(Alert.hall_id == hall_id, Alert.key.in_(wanted))
    )
    return {str(k) for (k,) in rows.all()}


async def recent_closed(session: AsyncSession, hall_id: int, limit: int) -> Sequence[Alert]:
    return (
        (
            await session.execute(
                select(Alert)
                .where(Alert.hall_id == hall_id, Alert.cleared_at.is_not(None))
                .order_by(Alert.cleared_at.desc(), Alert.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def get_for_update(session: AsyncSession, hall_id: int, alert_id: int) -> Alert | None:
    return (
        await session.execute(
            select(Alert)
            .where(Alert.hall_id == hall_id, Alert.id == alert_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def recommendations_since(
    session: AsyncSession, hall_id: int, since: datetime
) -> Sequence[TidalChange]:
    """Tidal recommendations (recommend mode) made since a moment, oldest first."""
    return (
        (
            await session.execute(
                select(TidalChange)
                .where(
                    TidalChange.hall_id == hall_id,
                    TidalChange.mode == "recommend",
                    TidalChange.at >= since,
                )
                .order_by(TidalChange.id)
            )
        )
        .scalars()
        .all()
    )


async def oldest_waiting(session: AsyncSession, hall_id: int) -> dict[int, datetime]:
    """Per service, when its longest-waiting ticket was queued."""
    rows = await session.execute(
        select(Ticket.service_id, func.min(Ticket.queued_at))
        .where(Ticket.hall_id == hall_id, Ticket.status == TicketStatus.WAITING.value)
        .group_by(Ticket.service_id)
    )
    return {int(s): at for s, at in rows.all() if at is not None}


async def day_counts(session: AsyncSession, hall_id: int, day: date) -> dict[tuple[int, str], int]:
    """Today's tickets per (service, status)."""
    rows = await session.execute(
        select(Ticket.service_id, Ticket.status, func.count())
        .where(Ticket.hall_id == hall_id, Ticket.business_date == day)
        .group_by(Ticket.service_id, Ticket.status)
    )
    return {(int(s), str(st)): int(n) for s, st, n in rows.all()}


async def cases_per_window(session: AsyncSession, hall_id: int, day: date) -> dict[int, int]:
    """Cases finished today per window id (办结)."""
    rows = await session.execute(
        select(Ticket.window_id, func.count())
        .where(
            Ticket.hall_id == hall_id,
            Ticket.business_date == day,
            Ticket.status == TicketStatus.DONE.value,
            Ticket.window_id.is_not(None),
        )
        .group_by(Ticket.window_id)
    )
    return {int(w): int(n) for w, n in rows.all() if w is not None}


async def tickets_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Ticket]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Ticket).where(Ticket.id.in_(wanted)))
    return {t.id: t for t in rows.scalars().all()}
