"""Staff login (OAuth2 password flow) and "who am I"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from services.engine.auth import service
from services.engine.core.problems import problem_responses
from services.engine.deps import ClientAddress, CurrentPrincipal, SessionDep, SettingsDep
from services.engine.halls import repository as halls_repo

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    kind: str
    id: int
    role: str
    hall_id: int | None
    hall: str | None = None  # the hall's code (a kiosk or gateway finds its hall from its token)
    name: str
    region: str | None = None  # a region admin's region (行政区划代码)


# A wrong password (401) and too many of them (429, login_throttled) are the route's own.
@router.post("/token", response_model=TokenOut, responses=problem_responses(401, 429))
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
    request: Request,
) -> TokenOut:
    """Log in with a staff username and password.

    Too many failed logins for a username or from an address in a window are
    refused (429 `login_throttled`, with `Retry-After`) until the window passes.
    """
    access = await service.login(
        session=session,
        username=form.username,
        password=form.password,
        address=address,
        throttle=request.app.state.login_throttle,
        passwords=request.app.state.passwords,
        secret=settings.secret_key,
        minutes=settings.access_token_minutes,
    )
    return TokenOut(access_token=access, expires_in=settings.access_token_minutes * 60)


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    hall = (
        await halls_repo.get_hall_by_id(session, principal.hall_id)
        if principal.hall_id is not None
        else None
    )
    code = hall.code if hall is not None else None
    await session.rollback()
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        hall_id=principal.hall_id,
        hall=code,
        name=principal.name,
        region=principal.region,
    )
