"""Staff login (OAuth2 password flow) and "who am I"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from services.engine.auth import service
from services.engine.deps import CurrentPrincipal, SessionDep, SettingsDep

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
    name: str


@router.post("/token", response_model=TokenOut)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """Log in with a staff username and password."""
    access = await service.login(
        session=session,
        username=form.username,
        password=form.password,
        secret=settings.secret_key,
        minutes=settings.access_token_minutes,
    )
    return TokenOut(access_token=access, expires_in=settings.access_token_minutes * 60)


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        hall_id=principal.hall_id,
        name=principal.name,
    )
