"""Halls: find one, read its settings (hours, calling rules)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.events import outbox
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


async def set_notice(*, session: AsyncSession, hall_id: int, notice: str, actor: str) -> Hall:
    """Change the text the hall display scrolls, at once (``hall.updated``: the screens
    take a fresh snapshot), with an audit entry."""
    hall = await repository.get_hall_by_id(session, hall_id)
    if hall is None:
        raise NotFound("the hall is gone")
    before = hall.notice
    if before != notice:
        now = utcnow()
        hall.notice = notice
        hall.updated_at = now
        audit.record(
            session,
            hall.id,
            "hall.notice",
            "notice",
            actor=actor,
            at=now,
            before=before,
            after=notice,
        )
        outbox.stage(session, hall.id, "hall.updated", {"hall": hall.code, "notice": True})
    await outbox.commit(session)
    return hall
