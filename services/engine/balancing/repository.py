"""Loading and saving what balancing needs. No rules here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.balancing.models import TidalChange, TidalServiceState
from services.engine.balancing.policy import Link, Role
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import TicketStatus
from services.engine.windows.models import Window, WindowService

SERVING_STATES = ("idle", "calling", "serving")


def _link(weight: float, role: str | None) -> Link:
    try:
        parsed = Role(role or Role.PRIMARY.value)
    except ValueError:
        parsed = Role.PRIMARY
    return Link(float(weight), parsed)


async def service_links(session: AsyncSession, window_id: int) -> dict[int, Link]:
    rows = await session.execute(
        select(WindowService.service_id, WindowService.weight, WindowService.role).where(
            WindowService.window_id == window_id
        )
    )
    return {int(s): _link(w, r) for s, w, r in rows.all()}


# Built once: the estimate reads these on every issue.
_SERVING_WINDOWS = (
    select(Window.id, Window.current_ticket_id, Ticket.service_id, Ticket.called_at)
    .outerjoin(Ticket, Ticket.id == Window.current_ticket_id)
    .where(
        Window.hall_id == bindparam("hall_id"),
        Window.active.is_(True),
        Window.state.in_(SERVING_STATES),
    )
    .order_by(Window.number)
)


async def serving_windows(session: AsyncSession, hall_id: int) -> Sequence[Any]:
    """Open, unpaused windows: rows of (id, current_ticket_id, service_id, called_at),
    the last two of the ticket in hand, if any. Plain rows: this runs on every issue."""
    return (await session.execute(_SERVING_WINDOWS, {"hall_id": hall_id})).all()


_OWN_WINDOWS = (
    select(WindowService.service_id, func.count())
    .join(Window, Window.id == WindowService.window_id)
    .where(
        Window.hall_id == bindparam("hall_id"),
        Window.active.is_(True),
        Window.state.in_(SERVING_STATES),
        WindowService.role != Role.SECONDARY.value,
        WindowService.weight > 0,
    )
    .group_by(WindowService.service_id)
)


async def own_window_counts(session: AsyncSession, hall_id: int) -> dict[int, int]:
    """Open windows per service that serve it as their own work (primary or tidal)."""
    rows = await session.execute(_OWN_WINDOWS, {"hall_id": hall_id})
    return {int(s): int(n) for s, n in rows.all()}


async def links_of_windows(
    session: AsyncSession, window_ids: Iterable[int]
) -> dict[int, dict[int, Link]]:
    ids = list(window_ids)
    out: dict[int, dict[int, Link]] = {i: {} for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        select(
            WindowService.window_id,
            WindowService.service_id,
            WindowService.weight,
            WindowService.role,
        ).where(WindowService.window_id.in_(ids))
    )
    for window_id, service_id, weight, role in rows.all():
        out[int(window_id)][int(service_id)] = _link(weight, role)
    return out


_RECENT_HANDLES = (
    select(Ticket.service_id, Ticket.called_at, Ticket.finished_at)
    .where(
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.status == TicketStatus.DONE.value,
        Ticket.finished_at >= bindparam("since", type_=Ticket.finished_at.type),
        Ticket.called_at.is_not(None),
    )
    .order_by(Ticket.finished_at.desc(), Ticket.id.desc())
    .limit(bindparam("rows"))
)


async def recent_handle_seconds(
    session: AsyncSession, hall_id: int, since: datetime, per_service: int = 20
) -> dict[int, list[float]]:
    """Time at the window (call to finish) of recently finished tickets, oldest first."""
    rows = await session.execute(
        _RECENT_HANDLES, {"hall_id": hall_id, "since": since, "rows": per_service * 25}
    )
    out: dict[int, list[float]] = {}
    for service_id, called_at, finished_at in rows.all():
        samples = out.setdefault(int(service_id), [])
        if len(samples) < per_service and finished_at is not None and called_at is not None:
            samples.append((finished_at - called_at).total_seconds())
    return {s: list(reversed(v)) for s, v in out.items()}


_WAITING_BY_CLASS = (
    select(Ticket.service_id, Ticket.priority, func.count())
    .where(Ticket.hall_id == bindparam("hall_id"), Ticket.status == TicketStatus.WAITING.value)
    .group_by(Ticket.service_id, Ticket.priority)
)


async def waiting_by_class(session: AsyncSession, hall_id: int) -> dict[int, dict[str, int]]:
    rows = await session.execute(_WAITING_BY_CLASS, {"hall_id": hall_id})
    out: dict[int, dict[str, int]] = {}
    for service_id, priority, count in rows.all():
        out.setdefault(int(service_id), {})[str(priority)] = int(count)
    return out


async def tidal_states(session: AsyncSession, hall_id: int) -> dict[int, TidalServiceState]:
    rows = await session.execute(
        select(TidalServiceState).where(TidalServiceState.hall_id == hall_id).with_for_update()
    )
    return {s.service_id: s for s in rows.scalars().all()}


async def windows_by_number(
    session: AsyncSession, hall_id: int, numbers: Iterable[int]
) -> list[Window]:
    wanted = list(numbers)
    if not wanted:
        return []
    rows = await session.execute(
        select(Window).where(
            Window.hall_id == hall_id, Window.number.in_(wanted), Window.active.is_(True)
        )
    )
    return list(rows.scalars().all())


async def served_pairs(session: AsyncSession, window_ids: Iterable[int]) -> set[tuple[int, int]]:
    ids = list(window_ids)
    if not ids:
        return set()
    rows = await session.execute(
        select(WindowService.window_id, WindowService.service_id).where(
            WindowService.window_id.in_(ids)
        )
    )
    return {(int(w), int(s)) for w, s in rows.all()}


async def remove_tidal_links(
    session: AsyncSession, window_ids: Iterable[int], service_id: int
) -> None:
    await session.execute(
        delete(WindowService).where(
            WindowService.window_id.in_(list(window_ids)),
            WindowService.service_id == service_id,
            WindowService.role == Role.TIDAL.value,
        )
    )


async def tidal_windows_of(session: AsyncSession, hall_id: int, service_id: int) -> list[Window]:
    rows = await session.execute(
        select(Window)
        .join(WindowService, WindowService.window_id == Window.id)
        .where(
            Window.hall_id == hall_id,
            WindowService.service_id == service_id,
            WindowService.role == Role.TIDAL.value,
        )
        .order_by(Window.number)
    )
    return list(rows.scalars().all())


async def recent_changes(
    session: AsyncSession, hall_id: int, limit: int = 50
) -> Sequence[TidalChange]:
    rows = await session.execute(
        select(TidalChange)
        .where(TidalChange.hall_id == hall_id)
        .order_by(TidalChange.at.desc(), TidalChange.id.desc())
        .limit(limit)
    )
    return rows.scalars().all()
