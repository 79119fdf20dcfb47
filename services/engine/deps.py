"""Request dependencies: settings, database session, caller, hall access, text without NUL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.auth.cache import AccessCache
from services.engine.auth.permissions import Capability, Principal, authorise
from services.engine.config import Settings
from services.engine.core.errors import Unauthorized
from services.engine.core.inputs import ROW_ID_END, WINDOW_NUMBER_MAX, nul_at, nul_in_pairs
from services.engine.core.problems import refuses
from services.engine.core.request_context import note_caller
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


async def get_public_base(request: Request, settings: SettingsDep) -> str:
    """The address a ticket's status page is given at: JIAOHAO_PUBLIC_BASE_URL, or else
    the one this request came in on (scheme, host and port as the caller used them)."""
    return settings.public_base_url or str(request.base_url)


PublicBase = Annotated[str, Depends(get_public_base)]


# Numbers in paths, in the ranges the OpenAPI states: past them nothing can exist, and the
# database would fail on them (core/inputs.py).
WindowNumber = Annotated[
    int, Path(ge=1, le=WINDOW_NUMBER_MAX, description="the window's number (1-9999)")
]
RowId = Annotated[int, Path(ge=1, lt=ROW_ID_END, description="an id the engine gave")]


async def refuse_nul(request: Request) -> None:
    """Refuse text holding a NUL (U+0000) in the path, the query or the body: 422.

    PostgreSQL cannot store it (a 500 once), and no name, code or reason has one.
    Every route runs this first (create_app), after FastAPI has read the body it
    takes (so a JSON or form body is parsed once) and before any other dependency
    reads the database: one check for every route, present and future, the login
    form included. The bus socket, served ahead of routing, checks its own.
    """
    where: tuple[str | int, ...] | None = None
    query: bytes = request.scope.get("query_string", b"")
    if (name := nul_in_pairs(request.path_params.items())) is not None:
        where = ("path", name)
    elif b"%00" in query or b"\x00" in query:
        where = ("query", nul_in_pairs(request.query_params.multi_items()) or "")
    elif getattr(request.scope.get("route"), "body_field", None) is not None:
        form = request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        if form:
            name = nul_in_pairs((await request.form()).multi_items())
            where = None if name is None else ("body", name)
        else:
            # Not JSON (ValueError, RecursionError): the route's own validation refuses it.
            with contextlib.suppress(ValueError, RecursionError):
                where = nul_at(await request.json(), ("body",))
    if where is not None:
        raise RequestValidationError(
            [{"type": "string_nul", "loc": where, "msg": "Text must not contain NUL (U+0000)"}]
        )


@refuses(503)  # the database away: database_unavailable, batch_aborted
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


async def get_client_address(request: Request) -> str:
    """The address the request came from, as the login throttle counts it.

    The connection's peer. Behind a reverse proxy, ``jiaohao serve`` has uvicorn put
    the forwarded client there (``proxy_headers``), believing ``X-Forwarded-For`` only
    from the proxies of ``JIAOHAO_FORWARDED_ALLOW_IPS`` (default: this machine), so the
    logs and the login throttle see the same address.
    """
    return request.client.host if request.client is not None else "unknown"


ClientAddress = Annotated[str, Depends(get_client_address)]


@refuses(401, 403)
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
    note_caller(principal.kind, principal.role, principal.id)  # for the logs
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

    return refuses(403, 404)(dependency)


ReadAccess = Annotated[HallAccess, Depends(hall_access(Capability.READ))]
IssueAccess = Annotated[HallAccess, Depends(hall_access(Capability.ISSUE))]
WindowAccess = Annotated[HallAccess, Depends(hall_access(Capability.WINDOW))]
CancelAccess = Annotated[HallAccess, Depends(hall_access(Capability.CANCEL))]
RateAccess = Annotated[HallAccess, Depends(hall_access(Capability.RATE))]
ManageAccess = Annotated[HallAccess, Depends(hall_access(Capability.MANAGE))]
# Reading a hall's reports (statistics, the overview, review cases): its managers and
# admins, and a region admin of a region above it; deciding its appeals (申诉复核).
ReportAccess = Annotated[HallAccess, Depends(hall_access(Capability.REPORT))]
DecideAccess = Annotated[HallAccess, Depends(hall_access(Capability.DECIDE))]
