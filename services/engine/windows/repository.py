"""Loading and saving windows. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.windows.models import Window, WindowLogEntry, WindowService
from services.engine.windows.states import WindowState


async def get_window(session: AsyncSession, hall_id: int, number: int) -> Window | None:
    return (
        await session.execute(
            select(Window).where(Window.hall_id == hall_id, Window.number == number)
        )
    ).scalar_one_or_none()


async def get_window_for_update(session: AsyncSession, hall_id: int, number: int) -> Window | None:
    """Lock the window row: actions on one window run one at a time."""
    return (
        await session.execute(
            select(Window)
            .where(Window.hall_id == hall_id, Window.number == number)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def service_weights(session: AsyncSession, window_id: int) -> dict[int, float]:
    rows = await session.execute(
        select(WindowService.service_id, WindowService.weight).where(
            WindowService.window_id == window_id
        )
    )
    return {int(s): float(w) for s, w in rows.all()}


async def window_numbers(session: AsyncSession, hall_id: int) -> dict[int, int]:
    rows = await session.execute(select(Window.id, Window.number).where(Window.hall_id == hall_id))
    return {int(i): int(n) for i, n in rows.all()}


async def windows_by_service(session: AsyncSession, hall_id: int) -> dict[int, list[Window]]:
    rows = await session.execute(
        select(WindowService.service_id, Window)
        .join(Window, Window.id == WindowService.window_id)
        .where(Window.hall_id == hall_id, Window.active.is_(True))
    )
    out: dict[int, list[Window]] = {}
    for service_id, window in rows.all():
        out.setdefault(int(service_id), []).append(window)
    return out


async def release_window_holding(
    session: AsyncSession, window_id: int, ticket_id: int, now: datetime
) -> None:
    """Set a window idle if it still holds this ticket (e.g. the ticket was cancelled)."""
    await session.execute(
        update(Window)
        .where(Window.id == window_id, Window.current_ticket_id == ticket_id)
        .values(state=WindowState.IDLE.value, current_ticket_id=None, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )


async def list_windows(session: AsyncSession, hall_id: int) -> Sequence[Window]:
    return (
        (
            await session.execute(
                select(Window).where(Window.hall_id == hall_id).order_by(Window.number)
            )
        )
        .scalars()
        .all()
    )


async def windows_of(
    session: AsyncSession, hall_id: int, *, active_only: bool = False
) -> Sequence[Window]:
    query = select(Window).where(Window.hall_id == hall_id)
    if active_only:
        query = query.where(Window.active.is_(True))
    return (await session.execute(query.order_by(Window.number))).scalars().all()


async def window_services_of(session: AsyncSession, hall_id: int) -> Sequence[WindowService]:
    return (
        (
            await session.execute(
                select(WindowService)
                .join(Window, Window.id == WindowService.window_id)
                .where(Window.hall_id == hall_id)
            )
        )
        .scalars()
        .all()
    )


def log_window(
    session: AsyncSession,
    window: Window,
    action: str,
    *,
    actor: str,
    at: datetime,
    staff_user_id: int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the window log (kept for good)."""
    session.add(
        WindowLogEntry(
            hall_id=window.hall_id,
            window_id=window.id,
            at=at,
            action=action,
            actor=actor,
            staff_user_id=staff_user_id,
            detail=detail or {},
        )
    )


async def window_signed_in_by(
    session: AsyncSession, hall_id: int, user_id: int
) -> Sequence[Window]:
    """The windows a staff member is signed in at (one at most, but read them all)."""
    return (
        (
            await session.execute(
                select(Window)
                .where(Window.hall_id == hall_id, Window.staff_user_id == user_id)
                .order_by(Window.number)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )


async def window_log(
    session: AsyncSession,
    hall_id: int,
    *,
    window_id: int | None,
    since: datetime,
    until: datetime,
    limit: int,
) -> Sequence[WindowLogEntry]:
    query = select(WindowLogEntry).where(
        WindowLogEntry.hall_id == hall_id, WindowLogEntry.at >= since, WindowLogEntry.at < until
    )
    if window_id is not None:
        query = query.where(WindowLogEntry.window_id == window_id)
    return (
        (await session.execute(query.order_by(WindowLogEntry.at, WindowLogEntry.id).limit(limit)))
        .scalars()
        .all()
    )


async def service_roles(session: AsyncSession, window_id: int) -> Sequence[WindowService]:
    """The services a window serves, with weight and role (primary, secondary, tidal)."""
    return (
        (
            await session.execute(
                select(WindowService)
                .where(WindowService.window_id == window_id)
                .order_by(WindowService.role, WindowService.weight.desc())
            )
        )
        .scalars()
        .all()
    )


async def replace_links(
    session: AsyncSession, window_id: int, links: dict[int, tuple[float, str]]
) -> None:
    """Make a window serve exactly these services (service id -> weight, role) besides
    its tidal links, which the tidal rules add and remove; a service set here that had a
    tidal link takes the new role."""
    await session.execute(
        delete(WindowService)
        .where(
            WindowService.window_id == window_id,
            or_(WindowService.role != "tidal", WindowService.service_id.in_(list(links))),
        )
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        WindowService(window_id=window_id, service_id=s, weight=w, role=r)
        for s, (w, r) in links.items()
    )
    await session.flush()
