"""Hall endpoints: the hall's set-up as screens and consoles need it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel

from services.engine.core.db import utcnow
from services.engine.deps import ReadAccess, SessionDep
from services.engine.halls import repository
from services.engine.halls.service import hours_of, rules_of

router = APIRouter(prefix="/api/v1/halls", tags=["halls"])


class ServiceOut(BaseModel):
    code: str
    name: str
    prefix: str
    daily_quota: int | None
    target_wait_minutes: int
    active: bool


class HallOut(BaseModel):
    code: str
    name: str
    timezone: str
    notice: str
    open_now: bool
    next_opening: datetime | None
    hours: dict[str, object]
    rules: dict[str, object]
    services: list[ServiceOut]


@router.get("/{hall}", response_model=HallOut)
async def get_hall(access: ReadAccess, session: SessionDep) -> HallOut:
    hall = access.hall
    schedule = hours_of(hall).schedule()
    local = utcnow().astimezone(ZoneInfo(hall.timezone))
    is_open = schedule.is_open(local)
    return HallOut(
        code=hall.code,
        name=hall.name,
        timezone=hall.timezone,
        notice=hall.notice,
        open_now=is_open,
        next_opening=None if is_open else schedule.next_opening(local),
        hours=hours_of(hall).model_dump(mode="json"),
        rules=rules_of(hall).model_dump(mode="json"),
        services=[
            ServiceOut(
                code=s.code,
                name=s.name,
                prefix=s.prefix,
                daily_quota=s.daily_quota,
                target_wait_minutes=s.target_wait_minutes,
                active=s.active,
            )
            for s in await repository.services_of(session, hall.id)
        ],
    )
