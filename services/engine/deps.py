"""Request dependencies: settings, database session, caller, hall access."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.auth.cache import AccessCache
from services.engine.auth.permissions import Capability, Principal, authorise
from services.engine.config import Settings
from services.engine.core.errors import Unauthorized
from services.engine.events.outbox import HUB_KEY
from services.engine.halls.models import Hall
from services.engine.halls.service import get_hall

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="StaffLogin"
)
device_scheme = HTTPBearer(
    auto_error=False, scheme_name="DeviceToken", description="A device's bearer token (jhd_...)"
)


async def get_settings_dep(request: Request) -> Settings:
    # async: a plain def dependency would hop to a worker thread on every request.
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        session.info[HUB_KEY] = request.app.state.hub
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def end_read(session: AsyncSession) -> None:
    """End a read before the request's change begins, where the database needs it.

    On SQLite every transaction takes the database lock (BEGIN IMMEDIATE), so a
    read must not stay open. On PostgreSQL a plain read holds no lock that
    matters and runs on into the request's transaction: one round trip fewer.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        await session.commit()


async def get_access_cache(request: Request) -> AccessCache:
    # async, as get_settings_dep: no worker-thread hop per request.
    cache: AccessCache = request.app.state.access_cache
    return cache


AccessCacheDep = Annotated[AccessCache, Depends(get_access_cache)]


async def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    cache: AccessCacheDep,
    staff_token: Annotated[str | None, Depends(oauth2_scheme)],
    device: Annotated[HTTPAuthorizationCredentials | None, Depends(device_scheme)],
) -> Principal:
    token = staff_token or (device.credentials if device else None)
    if not token:
        raise Unauthorized("a bearer token is required")
    principal = await auth_service.principal_from_token(
        session=session, token=token, secret=settings.secret_key, cache=cache
    )
    await end_read(session)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


@dataclass(frozen=True)
class HallAccess:
    """The hall named in the path and the caller allowed to act in it."""

    hall: Hall
    principal: Principal


def hall_access(capability: Capability) -> Callable[..., Awaitable[HallAccess]]:
    async def dependency(
        hall: str, session: SessionDep, principal: CurrentPrincipal, cache: AccessCacheDep
    ) -> HallAccess:
        async def read() -> Hall:
            return await get_hall(session=session, code=hall)

        # A hall kept by the access cache is shared by requests: read it, never change it.
        found = await cache.hall_or(hall, read)
        authorise(principal, capability, found.id)
        await end_read(session)
        return HallAccess(found, principal)

    return dependency


ReadAccess = Annotated[HallAccess, Depends(hall_access(Capability.READ))]
IssueAccess = Annotated[HallAccess, Depends(hall_access(Capability.ISSUE))]
WindowAccess = Annotated[HallAccess, Depends(hall_access(Capability.WINDOW))]
CancelAccess = Annotated[HallAccess, Depends(hall_access(Capability.CANCEL))]
RateAccess = Annotated[HallAccess, Depends(hall_access(Capability.RATE))]
ManageAccess = Annotated[HallAccess, Depends(hall_access(Capability.MANAGE))]
