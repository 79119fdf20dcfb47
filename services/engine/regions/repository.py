"""Loading regions and the halls below them. No rules here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.halls.models import Hall
from services.engine.regions.models import Region


async def by_code(session: AsyncSession, code: str) -> Region | None:
    return (await session.execute(select(Region).where(Region.code == code))).scalar_one_or_none()


async def by_id(session: AsyncSession, region_id: int) -> Region | None:
    return await session.get(Region, region_id)


async def all_regions(session: AsyncSession) -> Sequence[Region]:
    return (await session.execute(select(Region).order_by(Region.path))).scalars().all()


async def below(session: AsyncSession, region: Region) -> Sequence[Region]:
    """The region and every region below it, root first."""
    query = select(Region).where(Region.path.startswith(region.path, autoescape=True))
    return (await session.execute(query.order_by(Region.path))).scalars().all()


async def halls_below(
    session: AsyncSession, region: Region, *, include_remote: bool = True
) -> Sequence[Hall]:
    """Every hall whose region is this one or below it, by code."""
    query = (
        select(Hall)
        .join(Region, Hall.region_id == Region.id)
        .where(Region.path.startswith(region.path, autoescape=True))
        .order_by(Hall.code)
    )
    if not include_remote:
        query = query.where(Hall.remote.is_(False))
    return (await session.execute(query)).scalars().all()


async def hall_ids_below(session: AsyncSession, region_id: int) -> frozenset[int]:
    """The scope of a region admin: ids of every hall below the region (one query)."""
    inner = select(Region.path).where(Region.id == region_id).scalar_subquery()
    rows = await session.execute(
        select(Hall.id)
        .join(Region, Hall.region_id == Region.id)
        .where(func.substr(Region.path, 1, func.length(inner)) == inner)
    )
    return frozenset(int(i) for i in rows.scalars().all())


async def children_count(session: AsyncSession, region_id: int) -> tuple[int, int]:
    """Regions and halls directly below the region (a region in use is kept)."""
    regions = await session.execute(
        select(func.count()).select_from(Region).where(Region.parent_id == region_id)
    )
    halls = await session.execute(
        select(func.count()).select_from(Hall).where(Hall.region_id == region_id)
    )
    return int(regions.scalar_one()), int(halls.scalar_one())
