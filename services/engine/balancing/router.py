"""Tidal window endpoints for managers: see the rules, states and log; run the rules now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.engine.balancing import repository
from services.engine.balancing import service as balancing
from services.engine.balancing.config import TidalSpec
from services.engine.balancing.models import TidalChange
from services.engine.core.db import utcnow
from services.engine.deps import ManageAccess, ReadAccess, SessionDep
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo

router = APIRouter(prefix="/api/v1/halls/{hall}/tidal", tags=["tidal windows"])


class TidalStateOut(BaseModel):
    service: str
    active: bool = Field(description="a tidal window is open (auto) or was recommended")
    calm_since: datetime | None
    changed_at: datetime


class TidalChangeOut(BaseModel):
    at: datetime
    service: str
    mode: str
    action: str
    windows: list[int]
    reason: str
    waiting: int
    wait_minutes: float | None


class TidalOut(BaseModel):
    rules: TidalSpec
    states: list[TidalStateOut]
    changes: list[TidalChangeOut] = Field(description="newest first")


def _change_out(change: TidalChange, codes: dict[int, str]) -> TidalChangeOut:
    return TidalChangeOut(
        at=change.at,
        service=codes.get(change.service_id, str(change.service_id)),
        mode=change.mode,
        action=change.action,
        windows=[int(n) for n in change.windows],
        reason=change.reason,
        waiting=change.waiting,
        wait_minutes=change.wait_minutes,
    )


async def _overview(access: ReadAccess | ManageAccess, session: SessionDep) -> TidalOut:
    hall = access.hall
    codes = {s.id: s.code for s in await halls_repo.services_of(session, hall.id)}
    states = await repository.tidal_states(session, hall.id)
    changes = await repository.recent_changes(session, hall.id)
    return TidalOut(
        rules=balancing.tidal_of(hall),
        states=[
            TidalStateOut(
                service=codes.get(sid, str(sid)),
                active=s.active,
                calm_since=s.calm_since,
                changed_at=s.changed_at,
            )
            for sid, s in sorted(states.items())
        ],
        changes=[_change_out(c, codes) for c in changes],
    )


@router.get("", response_model=TidalOut)
async def tidal_overview(access: ReadAccess, session: SessionDep) -> TidalOut:
    """The hall's tidal rules, each service's state and the latest changes with reasons."""
    overview = await _overview(access, session)
    await session.rollback()  # the state rows were read FOR UPDATE
    return overview


@router.post("/evaluate", response_model=TidalOut)
async def tidal_evaluate(access: ManageAccess, session: SessionDep) -> TidalOut:
    """Run the tidal rules now (they also run on every ticket issued and every call)."""
    await balancing.evaluate_tidal(session, access.hall, utcnow())
    await outbox.commit(session)
    return await _overview(access, session)
