"""Loading and saving halls, services and windows. No rules here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.halls.models import Hall, Service

# Built once: these run on every request; building them each time cost more than the query.
_HALL_BY_CODE = select(Hall).where(Hall.code == bindparam("code"))
_SERVICES = (
    select(Service)
    .where(Service.hall_id == bindparam("hall_id"))
    .order_by(Service.sort_order, Service.id)
)
_ACTIVE_SERVICES = _SERVICES.where(Service.active.is_(True))
_SERVICE_BY_CODE = select(Service).where(
    Service.hall_id == bindparam("hall_id"), Service.code == bindparam("code")
)


async def get_hall_by_code(session: AsyncSession, code: str) -> Hall | None:
    return (await session.execute(_HALL_BY_CODE, {"code": code})).scalar_one_or_none()


async def get_hall_by_id(session: AsyncSession, hall_id: int) -> Hall | None:
    return await session.get(Hall, hall_id)


async def list_halls(session: AsyncSession) -> Sequence[Hall]:
    return (await session.execute(select(Hall).order_by(Hall.code))).scalars().all()


async def count_halls(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Hall))).scalar_one())


async def services_of(
    session: AsyncSession, hall_id: int, *, active_only: bool = False
) -> Sequence[Service]:
    query = _ACTIVE_SERVICES if active_only else _SERVICES
    return (await session.execute(query, {"hall_id": hall_id})).scalars().all()


async def get_service_by_code(session: AsyncSession, hall_id: int, code: str) -> Service | None:
    result = await session.execute(_SERVICE_BY_CODE, {"hall_id": hall_id, "code": code})
    return result.scalar_one_or_none()


async def get_service(session: AsyncSession, service_id: int) -> Service | None:
    return await session.get(Service, service_id)


async def lock_hall(session: AsyncSession, hall_id: int) -> Hall | None:
    """The hall row, locked until commit (PostgreSQL): changes to its settings queue."""
    query = select(Hall).where(Hall.id == hall_id).with_for_update()
    result = await session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one_or_none()
