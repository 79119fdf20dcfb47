"""Region admins' scopes (区域管理员): the halls below their region, who oversees a hall."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.models import User
from services.engine.auth.permissions import Principal, Role
from services.engine.halls.models import Hall
from services.engine.regions import repository as regions_repo
from services.engine.regions.models import Region


async def user_principal(session: AsyncSession, user: User) -> Principal:
    """The caller an account is: a region admin carries its region and the halls below."""
    if user.role != Role.REGION_ADMIN.value:
        return Principal("user", user.id, user.role, user.hall_id, user.username)
    region = await regions_repo.by_id(session, user.region_id) if user.region_id else None
    halls = await regions_repo.hall_ids_below(session, region.id) if region else frozenset()
    return Principal(
        "user",
        user.id,
        user.role,
        None,
        user.username,
        region=region.code if region else None,
        halls=halls,
    )


async def region_admins_above(session: AsyncSession, hall: Hall) -> int:
    """How many active region admins oversee the hall (its region or one above it)."""
    if hall.region_id is None:
        return 0
    path = select(Region.path).where(Region.id == hall.region_id).scalar_subquery()
    count = await session.execute(
        select(func.count())
        .select_from(User)
        .join(Region, User.region_id == Region.id)
        .where(
            User.role == Role.REGION_ADMIN.value,
            User.active.is_(True),
            func.substr(path, 1, func.length(Region.path)) == Region.path,
        )
    )
    return int(count.scalar_one())


async def accounts_of_region(session: AsyncSession, region_id: int) -> int:
    found = await session.execute(
        select(func.count()).select_from(User).where(User.region_id == region_id)
    )
    return int(found.scalar_one())
