"""Halls: find one, read its settings (hours, calling rules)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.errors import NotFound
from services.engine.halls import repository
from services.engine.halls.models import Hall
from services.engine.halls.settings import HoursSpec, RulesSpec


def hours_of(hall: Hall) -> HoursSpec:
    return HoursSpec.model_validate(hall.hours or {})


def rules_of(hall: Hall) -> RulesSpec:
    return RulesSpec.model_validate(hall.rules or {})


async def get_hall(*, session: AsyncSession, code: str) -> Hall:
    hall = await repository.get_hall_by_code(session, code)
    if hall is None:
        raise NotFound(f"no hall with code {code!r}")
    return hall
