"""The hall's configuration as its hall file (``jiaohao hall export``, the settings page).

What the database holds, written back in the hall file's own form, so that the file
and the settings page never drift apart silently: applying the export changes nothing,
and a change made on the page is in the next export. The export is checked with the
same models ``hall apply`` uses before it is written.

A window whose services were changed on the spot (窗口动态调整) is exported with its
plan (what the file said), not the temporary change; the header names such windows.
Tidal links are the tidal rules' and are never exported; retired windows neither.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import tomli_w
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.balancing.config import TidalSpec
from services.engine.bookings import repository as bookings_repo
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import hours_of, rules_of
from services.engine.regions import repository as regions_repo
from services.engine.setup.hall_file import HallFile, hall_file_from_dict
from services.engine.windows import repository as windows_repo


async def raw_hall_file(session: AsyncSession, hall: Hall) -> dict[str, Any]:
    """The hall file, as the dictionary TOML would parse into (unchecked)."""
    booking = await bookings_repo.get_config(session, hall.id)
    head: dict[str, Any] = {"code": hall.code, "name": hall.name, "timezone": hall.timezone}
    if hall.notice:
        head["notice"] = hall.notice
    if hall.keep_adjustments:
        head["keep_adjustments"] = True
    if hall.region_id is not None:
        region = await regions_repo.by_id(session, hall.region_id)
        if region is not None:
            head["region"] = region.code  # the region itself is the regions' (``[[region]]``)
    head["hours"] = hours_of(hall).model_dump(mode="json", exclude_defaults=True)
    head["rules"] = rules_of(hall).model_dump(mode="json", exclude_defaults=True)
    tidal = TidalSpec.model_validate(hall.tidal or {}).model_dump(
        mode="json", exclude_defaults=True
    )
    if tidal:
        head["tidal"] = tidal
    if booking.get("hall"):
        head["booking"] = booking["hall"]

    services = list(await halls_repo.services_of(session, hall.id))
    # Services in use first, in their order; those no longer issued (停办) after them.
    services.sort(key=lambda s: (not s.active, s.sort_order, s.id))
    own_booking = booking.get("services") or {}
    service_rows: list[dict[str, Any]] = []
    for s in services:
        row: dict[str, Any] = {"code": s.code, "name": s.name, "prefix": s.prefix}
        if s.number_width != 3:
            row["width"] = s.number_width
        if s.daily_quota is not None:
            row["daily_quota"] = s.daily_quota
        if s.period_quotas:
            row["period_quotas"] = list(s.period_quotas)
        if s.hours is not None:
            row["hours"] = s.hours
        row["target_wait_minutes"] = s.target_wait_minutes
        row["average_handle_minutes"] = s.average_handle_minutes
        if s.code in own_booking:
            row["booking"] = own_booking[s.code]
        if not s.active:
            row["active"] = False
        service_rows.append(row)

    codes = {s.id: s.code for s in services}
    links: dict[int, dict[str, list[Any]]] = {}
    for link in await windows_repo.window_services_of(session, hall.id):
        if link.role != "tidal" and link.service_id in codes:
            links.setdefault(link.window_id, {})[codes[link.service_id]] = [
                link.weight,
                link.role,
            ]
    window_rows: list[dict[str, Any]] = []
    for w in await windows_repo.windows_of(session, hall.id, active_only=True):
        serves = links.get(w.id, {})
        if w.services_adjusted_at is not None and w.planned_services is not None:
            serves = w.planned_services  # the plan, not the change made on the spot
        row = {"number": w.number}
        if w.name != f"{w.number}号窗口":
            row["name"] = w.name
        if w.kind != "general":
            row["kind"] = w.kind
        row["services"] = {c: float(v[0]) for c, v in serves.items() if v[1] == "primary"}
        secondary = {c: float(v[0]) for c, v in serves.items() if v[1] == "secondary"}
        if secondary:
            row["secondary"] = secondary
        window_rows.append(row)
    return {"hall": head, "services": service_rows, "windows": window_rows}


async def export_hall_file(session: AsyncSession, hall: Hall) -> HallFile:
    """The hall's configuration, checked as ``hall apply`` checks a file."""
    return hall_file_from_dict(await raw_hall_file(session, hall))


def _toml_ready(value: Any) -> Any:
    """Dates as TOML dates; no None (TOML has no null)."""
    if isinstance(value, dict):
        return {k: _toml_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_toml_ready(v) for v in value]
    return value


async def export_text(session: AsyncSession, hall: Hall, *, now: datetime) -> str:
    """The hall file's text: a header, then the TOML (``tomli-w``)."""
    raw = await raw_hall_file(session, hall)
    hall_file_from_dict(raw)  # refuse to write a file ``hall apply`` would refuse
    hours = raw["hall"]["hours"]
    if "closed_dates" in hours:
        hours["closed_dates"] = [date.fromisoformat(d) for d in hours["closed_dates"]]
    header = [
        f"# Hall {hall.code}: exported by `jiaohao hall export` at "
        f"{now.isoformat(timespec='seconds')}.",
        "# `jiaohao hall apply` of this file changes nothing; edit it or the settings page,",
        "# then export again (docs/manage.md).",
    ]
    for w in await windows_repo.windows_of(session, hall.id, active_only=True):
        if w.services_adjusted_at is not None:
            header.append(
                f"# window {w.number}: services changed on the spot at "
                f"{w.services_adjusted_at.isoformat(timespec='minutes')}; this file has its plan."
            )
    return "\n".join(header) + "\n\n" + tomli_w.dumps(_toml_ready(raw))
