"""Device health endpoints: kiosks and gateways report, everybody in the hall may read."""

from __future__ import annotations

from fastapi import APIRouter

from services.engine.deps import ReadAccess, SessionDep, SettingsDep
from services.engine.devices import service
from services.engine.devices.rules import DeviceState, HealthStatus
from services.engine.devices.schemas import (
    DeviceOut,
    HallDevicesOut,
    HealthReportIn,
    HealthReportOut,
    ReporterOut,
)

router = APIRouter(prefix="/api/v1/halls/{hall}/devices", tags=["devices"])


@router.put("/health", response_model=HealthReportOut)
async def report_health(
    body: HealthReportIn, access: ReadAccess, session: SessionDep, settings: SettingsDep
) -> HealthReportOut:
    """A kiosk or gateway reports the health of every device it owns (its whole list).

    Each change of a device (status, reason, kind or window; added or removed) becomes a
    ``device.health`` event on the hall bus.
    """
    service.ensure_reporter(access.principal)
    result = await service.report_health(
        session=session,
        hall=access.hall,
        principal=access.principal,
        devices=[
            DeviceState(d.key, d.kind.value, d.window, d.status.value, d.reason, d.last_seen)
            for d in body.devices
        ],
        silent_after=settings.device_silent_seconds,
    )
    return HealthReportOut(
        reporter=result.reporter.name, accepted=result.accepted, changed=result.changed
    )


@router.get("", response_model=HallDevicesOut)
async def list_devices(
    access: ReadAccess, session: SessionDep, settings: SettingsDep
) -> HallDevicesOut:
    """Every kiosk and gateway of the hall with its last contact, and each device's status.

    A reporter not heard from for ``JIAOHAO_DEVICE_SILENT_SECONDS`` is offline, and so is
    every device behind it (``reported_status`` keeps what it last said).
    """
    silent_after = settings.device_silent_seconds
    views = await service.hall_health(session=session, hall=access.hall, silent_after=silent_after)
    out = HallDevicesOut(
        silent_after_seconds=silent_after,
        reporters=[
            ReporterOut(
                id=v.reporter.id,
                name=v.reporter.name,
                kind=v.reporter.kind,
                status=HealthStatus(v.status),
                reason=v.reason,
                last_contact=v.reporter.last_seen_at,
                devices=[
                    DeviceOut(
                        key=d.record.key,
                        kind=d.record.kind,
                        window=d.record.window,
                        status=HealthStatus(d.status),
                        reported_status=HealthStatus(d.record.status),
                        reason=d.reason,
                        last_seen=d.record.last_seen,
                        changed_at=d.record.changed_at,
                        reported_at=d.record.reported_at,
                    )
                    for d in v.devices
                ],
            )
            for v in views
        ],
    )
    await session.rollback()  # end the read transaction (SQLite holds its lock)
    return out
