"""Changing a hall's settings from the settings page (大厅设置), with the hall file's rules.

Each change is laid over the hall's configuration as ``hall export`` reads it, and the
whole is checked with the models ``hall apply`` uses (``setup.hall_file.HallFile``):
one set of rules, refused in Chinese here (``setup.problems``), in English there. A
refused change writes nothing. An accepted one writes only what it changed, takes
effect at once (the next issue reads the new quota; ``hall.updated`` tells kiosks and
screens to take a fresh snapshot) and is in the audit log with who, before and after.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, SettingsInvalid
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.setup.export import raw_hall_file
from services.engine.setup.hall_file import HallFile, ServiceSpec
from services.engine.setup.problems import problems_zh

Section = Literal["hours", "rules"]
# What the page may change of a service (its code, width and booking stay the file's).
SERVICE_FIELDS = (
    "name",
    "prefix",
    "daily_quota",
    "period_quotas",
    "hours",
    "target_wait_minutes",
    "average_handle_minutes",
    "active",
)


@dataclass
class Change:
    """What a change did: the values before and after of what it changed (none: nothing)."""

    target: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.after)


def check(raw: dict[str, Any]) -> HallFile:
    """The hall file's validation; its refusals in Chinese (``settings_invalid``, 422)."""
    try:
        return HallFile.model_validate(raw)
    except ValidationError as err:
        problems = problems_zh(err, raw)
        raise SettingsInvalid(
            "；".join(p.message for p in problems) + "。设置未保存。",
            problems=[{"field": p.field, "message": p.message} for p in problems],
        ) from err


async def _locked(session: AsyncSession, hall: Hall) -> Hall:
    locked = await halls_repo.lock_hall(session, hall.id)
    if locked is None:
        raise NotFound("the hall is gone")
    return locked


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def _finish(
    session: AsyncSession, hall: Hall, change: Change, action: str, actor: str, what: str
) -> Change:
    if change.changed:
        now = utcnow()
        hall.updated_at = now
        audit.record(
            session,
            hall.id,
            action,
            change.target,
            actor=actor,
            at=now,
            before=change.before,
            after=change.after,
        )
        outbox.stage(session, hall.id, "hall.updated", {"hall": hall.code, "settings": what})
    await outbox.commit(session)
    return change


async def change_hall_settings(
    *, session: AsyncSession, hall: Hall, section: Section, values: dict[str, Any], actor: str
) -> Change:
    """Opening hours and calendar (``hours``) or calling rules (``rules``): the keys given
    replace the hall's, the others stay."""
    hall = await _locked(session, hall)
    raw = await raw_hall_file(session, hall)
    current = HallFile.model_validate(raw)
    old: dict[str, Any] = getattr(current.hall, section).model_dump(mode="json")
    raw = copy.deepcopy(raw)
    raw["hall"][section] = {**old, **values}
    new: dict[str, Any] = getattr(check(raw).hall, section).model_dump(mode="json")
    before, after = _diff(old, new)
    if after:
        setattr(hall, section, new)
    return await _finish(
        session, hall, Change(section, before, after), f"settings.{section}", actor, section
    )


def _service_values(spec: ServiceSpec) -> dict[str, Any]:
    """A service's columns, as ``hall apply`` writes them."""
    return {
        "name": spec.name,
        "prefix": spec.prefix,
        "daily_quota": spec.daily_quota,
        "period_quotas": [q.model_dump(mode="json") for q in spec.period_quotas],
        "hours": spec.hours,
        "target_wait_minutes": spec.target_wait_minutes,
        "average_handle_minutes": spec.average_handle_minutes,
        "active": spec.active,
    }


def _laid_over(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)  # no daily quota, the hall's hours
        else:
            out[key] = value
    return out


async def change_service(
    *, session: AsyncSession, hall: Hall, code: str, values: dict[str, Any], actor: str
) -> Change:
    """A service's name, prefix, quotas, hours, target wait, active: the keys given."""
    hall = await _locked(session, hall)
    service = await halls_repo.get_service_by_code(session, hall.id, code)
    if service is None:
        raise NotFound(f"no service {code!r} in the hall")
    raw = copy.deepcopy(await raw_hall_file(session, hall))
    index = next(i for i, s in enumerate(raw["services"]) if s["code"] == code)
    old = _service_values(HallFile.model_validate(raw).services[index])
    raw["services"][index] = _laid_over(raw["services"][index], values)
    new = _service_values(check(raw).services[index])
    before, after = _diff(old, new)
    for key, value in after.items():
        setattr(service, key, value)
    return await _finish(
        session, hall, Change(f"service {code}", before, after), "settings.service", actor, code
    )


async def add_service(
    *, session: AsyncSession, hall: Hall, code: str, values: dict[str, Any], actor: str
) -> tuple[Change, Service]:
    """A new service, issued at once by the kiosks; no window serves it until one is given
    it (the dashboard's 调整业务, or the hall file)."""
    hall = await _locked(session, hall)
    raw = copy.deepcopy(await raw_hall_file(session, hall))
    raw["services"].append(_laid_over({"code": code}, values))
    spec = check(raw).services[-1]
    existing = await halls_repo.services_of(session, hall.id)
    order = max((s.sort_order for s in existing), default=-1) + 1
    service = Service(
        hall_id=hall.id,
        code=code,
        number_width=spec.width,
        sort_order=order,
        **_service_values(spec),
    )
    session.add(service)
    after = {"code": code, **_service_values(spec)}
    change = await _finish(
        session, hall, Change(f"service {code}", {}, after), "settings.service", actor, code
    )
    return change, service
