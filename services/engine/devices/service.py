"""Use cases for device health: a reporter's report, and the hall's overview."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.models import Device
from services.engine.auth.permissions import DeviceKind, Principal
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, Unauthorized
from services.engine.devices import repository
from services.engine.devices.models import DeviceHealthRecord
from services.engine.devices.rules import (
    DeviceState,
    HealthStatus,
    check_report,
    diff,
    reporter_silent,
    silence_reason,
)
from services.engine.events import outbox
from services.engine.halls.models import Hall

# Who owns hardware and reports on it: the kiosk (its printer) and the gateway (buses).
REPORTER_KINDS = (DeviceKind.KIOSK.value, DeviceKind.GATEWAY.value)


def ensure_reporter(principal: Principal) -> None:
    """Only a kiosk or a gateway reports device health (staff and displays do not)."""
    if principal.kind != "device" or principal.role not in REPORTER_KINDS:
        raise Forbidden("only a kiosk or a gateway device reports device health")


@dataclass(frozen=True)
class ReportResult:
    reporter: Device
    accepted: int
    changed: list[str]  # keys that were added, changed or removed


def _state(record: DeviceHealthRecord) -> DeviceState:
    return DeviceState(
        record.key, record.kind, record.window, record.status, record.reason, record.last_seen
    )


def _payload(reporter: Device, device: DeviceState, *, removed: bool = False) -> dict[str, Any]:
    return {
        "reporter": reporter.name,
        "reporter_id": reporter.id,
        "reporter_kind": reporter.kind,
        "key": device.key,
        "kind": device.kind,
        "window": device.window,
        "status": device.status,
        "reason": device.reason,
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
        "removed": removed,
    }


async def report_health(
    *,
    session: AsyncSession,
    hall: Hall,
    principal: Principal,
    devices: list[DeviceState],
    silent_after: float,
    now: datetime | None = None,
) -> ReportResult:
    """Store a reporter's complete list of devices; a ``device.health`` event per change.

    The reporter's own contact time is recorded too; a reporter heard from again after
    being silent (or for the first time) gets an event of its own (key ``reporter``).
    """
    ensure_reporter(principal)
    now = now or utcnow()
    listed = check_report(devices)
    reporter = await repository.lock_reporter(session, principal.id)
    if reporter is None or not reporter.active:
        raise Unauthorized("unknown or revoked device token")
    stored = {r.key: r for r in await repository.records_of_reporter(session, hall.id, reporter.id)}
    changes = diff({k: _state(r) for k, r in stored.items()}, listed)
    for device in changes.added:
        session.add(
            DeviceHealthRecord(
                hall_id=hall.id,
                reporter_id=reporter.id,
                key=device.key,
                kind=device.kind,
                window=device.window,
                status=device.status,
                reason=device.reason or None,
                last_seen=device.last_seen,
                changed_at=now,
                reported_at=now,
            )
        )
    changed_keys = {d.key for d in changes.changed}
    for device in changes.changed + changes.unchanged:
        record = stored[device.key]
        if device.key in changed_keys:
            record.kind, record.window = device.kind, device.window
            record.status, record.reason = device.status, device.reason or None
            record.changed_at = now
        record.last_seen = device.last_seen
        record.reported_at = now
    await repository.delete_records(session, [stored[d.key].id for d in changes.removed])
    if reporter_silent(reporter.last_seen_at, now, silent_after):
        back = DeviceState(
            "reporter",
            reporter.kind,
            None,
            HealthStatus.ONLINE.value,
            "first report" if reporter.last_seen_at is None else "reporting again",
            now,
        )
        outbox.stage(session, hall.id, "device.health", _payload(reporter, back))
    for device in changes.added + changes.changed:
        outbox.stage(session, hall.id, "device.health", _payload(reporter, device))
    for device in changes.removed:
        outbox.stage(session, hall.id, "device.health", _payload(reporter, device, removed=True))
    reporter.last_seen_at = now
    await session.flush()
    await outbox.commit(session)
    keys = [d.key for d in changes.added + changes.changed + changes.removed]
    return ReportResult(reporter, len(listed), keys)


@dataclass(frozen=True)
class DeviceView:
    record: DeviceHealthRecord
    status: str  # what to believe now: the reported status, or offline if the reporter is silent
    reason: str | None


@dataclass(frozen=True)
class ReporterView:
    reporter: Device
    status: str
    reason: str | None
    devices: list[DeviceView]


async def hall_health(
    *, session: AsyncSession, hall: Hall, silent_after: float, now: datetime | None = None
) -> list[ReporterView]:
    """Every kiosk and gateway of the hall, its last contact and its devices' status."""
    now = now or utcnow()
    reporters = await repository.reporters_of_hall(session, hall.id, REPORTER_KINDS)
    by_reporter: dict[int, list[DeviceHealthRecord]] = defaultdict(list)
    for record in await repository.records_of_hall(session, hall.id):
        by_reporter[record.reporter_id].append(record)
    views = []
    for reporter in reporters:
        silent = reporter_silent(reporter.last_seen_at, now, silent_after)
        reason = silence_reason(reporter.last_seen_at, silent_after) if silent else None
        devices = [
            DeviceView(r, HealthStatus.OFFLINE.value, f"{reporter.name}: {reason}")
            if silent
            else DeviceView(r, r.status, r.reason)
            for r in by_reporter.get(reporter.id, [])
        ]
        status = HealthStatus.OFFLINE if silent else HealthStatus.ONLINE
        views.append(ReporterView(reporter, status.value, reason, devices))
    return views
