"""Set a hall up from its hall file (``jiaohao hall apply``): hall, services, windows,
booking settings, in one transaction. Applying the same file twice changes nothing.

The file wins over the settings page (大厅设置): a value the page set, still in force,
is set back to the file's, and the report says so with who changed it and when
(``jiaohao hall export`` first keeps the page's changes in the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.bookings.repository import save_config as save_booking_config
from services.engine.core.db import utcnow
from services.engine.events import outbox
from services.engine.halls import repository
from services.engine.halls.models import Hall, Service
from services.engine.regions.service import RegionSpec, apply_hall_regions
from services.engine.setup.hall_file import HallFile, booking_config_of
from services.engine.windows import repository as windows_repo
from services.engine.windows.models import Window, WindowService


@dataclass
class ApplyReport:
    """What applying a hall file changed (empty when nothing did)."""

    hall_code: str
    created_hall: bool = False
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created_hall or bool(self.changes)


# The settings page's latest change of each value: (target, key) -> (value set, "by X at T").
PageEdits = dict[tuple[str, str], tuple[Any, str]]


def _page_note(edits: PageEdits, target: str, key: str, current: Any, new: Any) -> str:
    """Names the page's change when the value in force is the one the page set."""
    if target in ("hours", "rules"):  # a section of the hall: per key inside it
        notes = sorted(
            f"{k} {note}"
            for (t, k), (value, note) in edits.items()
            if t == target and (current or {}).get(k) == value and (new or {}).get(k) != value
        )
        return ", ".join(notes)
    found = edits.get((target, key))
    return found[1] if found is not None and found[0] == current else ""


def _assign(
    obj: Any,
    values: dict[str, Any],
    label: str,
    report: ApplyReport,
    edits: PageEdits | None = None,
    target: str = "",
) -> None:
    for key, value in values.items():
        current = getattr(obj, key)
        if current != value:
            line = f"{label}: {key} {current!r} -> {value!r}"
            page_target = key if target == "hall" else target
            note = _page_note(edits or {}, page_target, key, current, value)
            if note:
                line += f" (overwrites the settings page's change {note})"
            report.changes.append(line)
            setattr(obj, key, value)


async def _page_edits(session: AsyncSession, hall_id: int) -> PageEdits:
    """The settings page's latest change of each value (``settings.*`` audit entries)."""
    out: PageEdits = {}
    since = datetime(2000, 1, 1, tzinfo=UTC)
    for entry in reversed(await audit.entries(session, hall_id, since=since, limit=100000)):
        if entry.action.startswith("settings.") and isinstance(entry.after, dict):
            when = entry.at.isoformat(timespec="minutes")
            for key, value in entry.after.items():
                out[(entry.target, key)] = (value, f"by {entry.actor} at {when}")
    return out


async def apply_hall_file(*, session: AsyncSession, spec: HallFile) -> ApplyReport:
    """Create or update a hall from its file; never deletes tickets (retires instead)."""
    report = ApplyReport(spec.hall.code)
    hall = await repository.get_hall_by_code(session, spec.hall.code)
    hall_values: dict[str, Any] = {
        "name": spec.hall.name,
        "timezone": spec.hall.timezone,
        "notice": spec.hall.notice,
        "hours": spec.hall.hours.model_dump(mode="json"),
        "rules": spec.hall.rules.model_dump(mode="json"),
        "tidal": spec.hall.tidal.model_dump(mode="json"),
    }
    edits: PageEdits = {}
    if hall is None:
        hall = Hall(code=spec.hall.code, event_seq=0, **hall_values)
        session.add(hall)
        await session.flush()
        report.created_hall = True
    else:
        edits = await _page_edits(session, hall.id)
        _assign(hall, hall_values, "hall", report, edits, "hall")
    # Kept for ``hall export``; a flag of apply's own, not part of the hall's report.
    hall.keep_adjustments = spec.hall.keep_adjustments
    report.changes += await apply_hall_regions(
        session=session,
        hall=hall,
        regions=[RegionSpec(r.code, r.name, r.parent, r.parent is not None) for r in spec.region],
        region_code=spec.hall.region,
    )

    existing_services = {s.code: s for s in await repository.services_of(session, hall.id)}
    services_by_code: dict[str, Service] = {}
    for order, svc in enumerate(spec.services):
        values: dict[str, Any] = {
            "name": svc.name,
            "prefix": svc.prefix,
            "number_width": svc.width,
            "daily_quota": svc.daily_quota,
            "period_quotas": [q.model_dump(mode="json") for q in svc.period_quotas],
            "hours": svc.hours,
            "target_wait_minutes": svc.target_wait_minutes,
            "average_handle_minutes": svc.average_handle_minutes,
            "sort_order": order,
            "active": svc.active,
        }
        service = existing_services.pop(svc.code, None)
        if service is not None and not svc.active:
            del values["sort_order"]  # a stopped service keeps its place (exports list it last)
        if service is None:
            service = Service(hall_id=hall.id, code=svc.code, **values)
            session.add(service)
            report.changes.append(f"service {svc.code}: created")
        else:
            _assign(service, values, f"service {svc.code}", report, edits, f"service {svc.code}")
        services_by_code[svc.code] = service
    for retired in existing_services.values():
        # Tickets keep pointing at it, so a service dropped from the file is retired.
        _assign(retired, {"active": False}, f"service {retired.code}", report)
    await session.flush()

    existing_windows = {w.number: w for w in await windows_repo.windows_of(session, hall.id)}
    codes_by_id = {s.id: s.code for s in services_by_code.values()}
    links = {
        (ws.window_id, ws.service_id): ws
        for ws in await windows_repo.window_services_of(session, hall.id)
    }
    for win in spec.windows:
        values = {"name": win.name or f"{win.number}号窗口", "kind": win.kind.value, "active": True}
        window = existing_windows.pop(win.number, None)
        if window is None:
            window = Window(hall_id=hall.id, number=win.number, state="closed", **values)
            session.add(window)
            await session.flush()
            report.changes.append(f"window {win.number}: created")
        else:
            _assign(window, values, f"window {win.number}", report)
        wanted = {services_by_code[code].id: link for code, link in win.links().items()}
        if window.services_adjusted_at is not None:
            planned = {code: [w, r.value] for code, (w, r) in sorted(win.links().items())}
            when = window.services_adjusted_at.isoformat(timespec="minutes")
            if spec.hall.keep_adjustments:
                # The manager's change stands; the file's plan is what it differs from.
                kept = {k: v for k, v in links.items() if k[0] == window.id}
                for key in kept:
                    links.pop(key)
                now_serves = {
                    codes_by_id.get(sid, str(sid)): [link.weight, link.role]
                    for (_, sid), link in sorted(kept.items())
                    if link.role != "tidal"
                }
                if now_serves != planned:
                    report.changes.append(
                        f"window {win.number}: keeps its services changed on the spot at {when}"
                        f" (keep_adjustments): {now_serves} instead of the file's {planned}"
                    )
                if window.planned_services != planned:
                    window.planned_services = planned
                continue
            report.changes.append(
                f"window {win.number}: services changed on the spot at {when} reset to the file"
            )
            window.services_adjusted_at, window.planned_services = None, None
        for service_id, (weight, role) in wanted.items():
            link = links.pop((window.id, service_id), None)
            if link is None:
                session.add(
                    WindowService(
                        window_id=window.id, service_id=service_id, weight=weight, role=role.value
                    )
                )
                report.changes.append(f"window {win.number}: serves service #{service_id}")
            else:
                if link.weight != weight:
                    report.changes.append(f"window {win.number}: weight {link.weight} -> {weight}")
                    link.weight = weight
                if link.role != role.value:
                    report.changes.append(f"window {win.number}: role {link.role} -> {role.value}")
                    link.role = role.value
    for (window_id, service_id), _link in list(links.items()):
        if any(w.id == window_id for w in existing_windows.values()):
            continue  # links of retired windows are kept as they were
        if _link.role == "tidal":
            continue  # added by the tidal rules, which remove it again
        await session.execute(
            delete(WindowService).where(
                WindowService.window_id == window_id, WindowService.service_id == service_id
            )
        )
        report.changes.append(f"window #{window_id}: no longer serves service #{service_id}")
    for retired_window in existing_windows.values():
        _assign(retired_window, {"active": False}, f"window {retired_window.number}", report)
    if await save_booking_config(session, hall.id, booking_config_of(spec)):
        report.changes.append("booking settings updated")

    if report.changed:
        hall.updated_at = utcnow()
        outbox.stage(session, hall.id, "hall.updated", {"hall": hall.code})
    await outbox.commit(session)
    return report
