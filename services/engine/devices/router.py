"""Device health endpoints: kiosks and gateways report, everybody in the hall may read."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from services.engine.auth.models import Device
from services.engine.core.problems import problem_responses
from services.engine.deps import (
    AccessCacheDep,
    ManageAccess,
    ReadAccess,
    RowId,
    SessionDep,
    SettingsDep,
)
from services.engine.devices import admin, service
from services.engine.devices.rules import DeviceState, HealthStatus, assignable
from services.engine.devices.schemas import (
    AssignmentIn,
    AssignmentOut,
    DeviceAdminOut,
    DeviceIn,
    DeviceNameIn,
    DeviceOut,
    HallDevicesOut,
    HardwareOut,
    HealthReportIn,
    HealthReportOut,
    NewTokenOut,
    ReporterOut,
)
from services.engine.pages import CSS, JS, hall_page, page_file

router = APIRouter(prefix="/api/v1/halls/{hall}/devices", tags=["devices"])
pages = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"devices.js": JS, "devices.css": CSS}


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


# -- device administration (设备管理): the hall's managers and admins ------------------------


def _admin_out(view: admin.DeviceView) -> DeviceAdminOut:
    d = view.device
    return DeviceAdminOut(
        id=d.id,
        kind=d.kind,
        name=d.name,
        active=d.active,
        created_at=d.created_at,
        last_contact=d.last_seen_at,
        status=HealthStatus(view.status) if view.status else None,
        reason=view.reason,
        hardware=[
            HardwareOut(
                key=h.record.key,
                kind=h.record.kind,
                window=h.record.window,
                file_window=h.file_window,
                assigned_window=h.assigned_window,
                status=HealthStatus(h.status),
                reason=h.reason,
                last_seen=h.record.last_seen,
            )
            for h in view.hardware
        ],
    )


def _bare_out(device: Device) -> DeviceAdminOut:
    """A device just changed: its row, without the health read again."""
    return _admin_out(admin.DeviceView(device, None, None, []))


@router.get("/admin", response_model=list[DeviceAdminOut])
async def admin_list(
    access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> list[DeviceAdminOut]:
    """Every device of the hall, revoked ones last: kind, name, whether its token works,
    when it was added and last heard from, and the hardware behind each kiosk and gateway
    (from their health reports) with the window each keypad and pad serves. Never a token."""
    views = await admin.list_devices(
        session=session, hall=access.hall, silent_after=settings.device_silent_seconds
    )
    out = [_admin_out(v) for v in views]
    await session.rollback()
    return out


@router.post("/admin", response_model=NewTokenOut, status_code=201)
async def admin_add(
    body: DeviceIn, access: ManageAccess, session: SessionDep, cache: AccessCacheDep
) -> NewTokenOut:
    """Add a kiosk, gateway or display. Its token is in this answer only (keep it: the
    engine keeps its hash). ``account_exists`` (409) for a name in use in the hall."""
    device, token = await admin.add(
        session=session,
        hall=access.hall,
        kind=body.kind,
        name=body.name.strip(),
        actor=access.principal.actor,
    )
    cache.forget()
    return NewTokenOut(device=_bare_out(device), token=token)


@router.post("/admin/{device_id}/revoke", response_model=DeviceAdminOut)
async def admin_revoke(
    device_id: RowId, access: ManageAccess, session: SessionDep, cache: AccessCacheDep
) -> DeviceAdminOut:
    """吊销: the device's token is refused from now on, in every engine process, and its
    open bus connection is closed (4401). For good: a device to work again gets a new
    token (``reissue``)."""
    device = await admin.revoke(
        session=session, hall=access.hall, device_id=device_id, actor=access.principal.actor
    )
    cache.forget()  # this process at once; the others hear PostgreSQL's announcement
    return _bare_out(device)


@router.post("/admin/{device_id}/reissue", response_model=NewTokenOut)
async def admin_reissue(
    device_id: RowId, access: ManageAccess, session: SessionDep, cache: AccessCacheDep
) -> NewTokenOut:
    """重新发放令牌: a new token, in this answer only; the old one never works again. The
    device (revoked or not) works again with the new token, keeping its name, its
    reported hardware and its assignments."""
    device, token = await admin.reissue(
        session=session, hall=access.hall, device_id=device_id, actor=access.principal.actor
    )
    cache.forget()
    return NewTokenOut(device=_bare_out(device), token=token)


@router.put("/admin/{device_id}/name", response_model=DeviceAdminOut)
async def admin_rename(
    device_id: RowId,
    body: DeviceNameIn,
    access: ManageAccess,
    session: SessionDep,
    cache: AccessCacheDep,
) -> DeviceAdminOut:
    """Rename a device (its token is unchanged)."""
    device = await admin.rename(
        session=session,
        hall=access.hall,
        device_id=device_id,
        name=body.name.strip(),
        actor=access.principal.actor,
    )
    cache.forget()
    return _bare_out(device)


def _assignment_out(a: admin.Assignment) -> AssignmentOut:
    return AssignmentOut(
        gateway_id=a.gateway.id,
        gateway=a.gateway.name,
        key=a.key,
        window=a.window,
        file_window=a.file_window,
        assigned=a.assigned,
    )


@router.put("/admin/{device_id}/assignments", response_model=AssignmentOut)
async def admin_assign(
    device_id: RowId, body: AssignmentIn, access: ManageAccess, session: SessionDep
) -> AssignmentOut:
    """Which window a keypad or evaluation pad behind this gateway serves (``window``
    null: what the gateway's file says). The gateway follows at once (docs/gateway.md)."""
    return _assignment_out(
        await admin.assign(
            session=session,
            hall=access.hall,
            gateway_id=device_id,
            key=body.key,
            window=body.window,
            actor=access.principal.actor,
        )
    )


@router.get("/assignments", response_model=list[AssignmentOut])
async def assignments(access: ReadAccess, session: SessionDep) -> list[AssignmentOut]:
    """The keypads and pads assigned to another window than their gateway's file says:
    a gateway reads its own (at start and on ``device.assigned``), a manager the hall's."""
    found = await admin.assignments_for(
        session=session, hall=access.hall, principal=access.principal
    )
    out = []
    for gateway, a in found:
        place = assignable(a.key)
        file_window = place[1] if place else a.window
        out.append(
            AssignmentOut(
                gateway_id=gateway.id,
                gateway=gateway.name,
                key=a.key,
                window=a.window,
                file_window=file_window,
                assigned=True,
            )
        )
    await session.rollback()
    return out


# -- the page ---------------------------------------------------------------------------


@pages.get("/manage/{hall}/devices", response_class=HTMLResponse, responses=problem_responses(404))
async def devices_page(hall: str, session: SessionDep) -> HTMLResponse:
    """设备管理: the hall's devices for its managers (log in with a manager or admin account)."""
    return await hall_page(session, hall, STATIC / "devices.html")


@pages.get("/manage/device-assets/{name}", include_in_schema=False)
async def devices_asset(name: str) -> FileResponse:
    return page_file(STATIC, ASSETS, name)
