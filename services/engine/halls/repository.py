"""Loading and saving halls, services and windows. No rules here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.halls.models import Hall, Service
from services.engine.windows.models import Window, WindowService


async def get_hall_by_code(session: AsyncSession, code: str) -> Hall | None:
    return (await session.execute(select(Hall).where(Hall.code == code))).scalar_one_or_none()


async def get_hall_by_id(session: AsyncSession, hall_id: int) -> Hall | None:
    return await session.get(Hall, hall_id)


async def list_halls(session: AsyncSession) -> Sequence[Hall]:
    return (await session.execute(select(Hall).order_by(Hall.code))).scalars().all()


async def count_halls(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Hall))).scalar_one())


async def services_of(
    session: AsyncSession, hall_id: int, *, active_only: bool = False
) -> Sequence[Service]:
    query = select(Service).where(Service.hall_id == hall_id)
    if active_only:
        query = query.where(Service.active.is_(True))
    return (await session.execute(query.order_by(Service.sort_order, Service.id))).scalars().all()


async def get_service_by_code(session: AsyncSession, hall_id: int, code: str) -> Service | None:
    return (
        await session.execute(
            select(Service).where(Service.hall_id == hall_id, Service.code == code)
        )
    ).scalar_one_or_none()


async def get_service(session: AsyncSession, service_id: int) -> Service | None:
    return await session.get(Service, service_id)


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
