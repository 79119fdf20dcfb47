"""Loading and saving windows. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.windows.models import Window, WindowService
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
