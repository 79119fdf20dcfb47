"""Device administration from the manager's pages (设备管理): add, revoke, re-issue,
rename, and which window a keypad or evaluation pad serves.

A device's token is generated here and shown once; only its hash is kept. Revoking is
for good: the token never works again (a lost kiosk's token may turn up later). A
device that is to work again gets a new token (re-issue), never its old one back.
Every change is in the audit log and on the hall bus (``device.changed``,
``device.assigned``); PostgreSQL announces a change of ``devices`` to every engine
process (``jiaohao_access``), which forget the callers they kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.auth import security
from services.engine.auth.models import Device
from services.engine.auth.permissions import Capability, DeviceKind, Principal
from services.engine.auth.service import AccountExists
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, NotFound, Refusal
from services.engine.devices import repository
from services.engine.devices.models import DeviceHealthRecord, HardwareAssignment
from services.engine.devices.rules import (
    HealthStatus,
    assignable,
    reporter_silent,
    silence_reason,
)
from services.engine.events import outbox
from services.engine.halls.models import Hall
from services.engine.windows import repository as windows_repo

REPORTERS = (DeviceKind.KIOSK.value, DeviceKind.GATEWAY.value)


class DeviceRevoked(Refusal):
    code = "device_revoked"
    title = "The device is revoked"


class StationKind(Refusal):
    """A remote station's hall takes only a station device; a station device only it."""

    code = "station_kind"
    title = "A station device belongs to a remote station, and only there"


@dataclass(frozen=True)
class HardwareView:
    record: DeviceHealthRecord
    status: str
    reason: str | None
    file_window: int | None  # the window the gateway's file gives it (keypads and pads)
    assigned_window: int | None  # set on the devices page, overriding the file


@dataclass(frozen=True)
class DeviceView:
    device: Device
    status: str | None  # online / offline for kiosks and gateways; None for displays
    reason: str | None
    hardware: list[HardwareView]


async def _devices_of_hall(session: AsyncSession, hall_id: int) -> Sequence[Device]:
    query = (
        select(Device)
        .where(Device.hall_id == hall_id)
        .order_by(Device.active.desc(), Device.kind, Device.name)
    )
    return (await session.execute(query)).scalars().all()


async def _assignments(session: AsyncSession, hall_id: int) -> Sequence[HardwareAssignment]:
    query = (
        select(HardwareAssignment)
        .where(HardwareAssignment.hall_id == hall_id)
        .order_by(HardwareAssignment.gateway_id, HardwareAssignment.key)
    )
    return (await session.execute(query)).scalars().all()


async def list_devices(
    *, session: AsyncSession, hall: Hall, silent_after: float, now: datetime | None = None
) -> list[DeviceView]:
    """Every device of the hall (revoked ones too, last), with the hardware behind each
    kiosk and gateway as it last reported, and where its keypads and pads are assigned."""
    now = now or utcnow()
    records: dict[int, list[DeviceHealthRecord]] = defaultdict(list)
    for record in await repository.records_of_hall(session, hall.id):
        records[record.reporter_id].append(record)
    assigned = {(a.gateway_id, a.key): a.window for a in await _assignments(session, hall.id)}
    views = []
    for device in await _devices_of_hall(session, hall.id):
        status: str | None = None
        reason: str | None = None
        silent = False
        if device.kind in REPORTERS:
            silent = not device.active or reporter_silent(device.last_seen_at, now, silent_after)
            status = (HealthStatus.OFFLINE if silent else HealthStatus.ONLINE).value
            if not device.active:
                reason = "revoked"
            elif silent:
                reason = silence_reason(device.last_seen_at, silent_after)
        hardware = []
        for r in records.get(device.id, []):
            place = assignable(r.key)
            hardware.append(
                HardwareView(
                    r,
                    HealthStatus.OFFLINE.value if silent else r.status,
                    f"{device.name}: {reason}" if silent else r.reason,
                    place[1] if place else None,
                    assigned.get((device.id, r.key)),
                )
            )
        views.append(DeviceView(device, status, reason, hardware))
    return views


async def _device(session: AsyncSession, hall: Hall, device_id: int) -> Device:
    device = (
        await session.execute(
            select(Device)
            .where(Device.id == device_id, Device.hall_id == hall.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if device is None:
        raise NotFound(f"no device {device_id} in this hall")
    return device


async def device_id_by_name(session: AsyncSession, hall: Hall, name: str) -> int:
    """The id of the hall's device of this name (the command line names devices)."""
    found = (
        await session.execute(
            select(Device.id).where(Device.hall_id == hall.id, Device.name == name)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no device {name!r} in hall {hall.code}")
    return int(found)


async def _name_free(session: AsyncSession, hall: Hall, name: str, but: int | None = None) -> None:
    query = select(Device.id).where(Device.hall_id == hall.id, Device.name == name)
    if but is not None:
        query = query.where(Device.id != but)
    if (await session.execute(query)).first():
        raise AccountExists(f"device {name!r} exists in this hall", name=name)


# A change's audit action, and its word in the ``device.changed`` event.
_CHANGES = {"add": "added", "revoke": "revoked", "reissue": "reissued", "rename": "renamed"}


def _changed(
    session: AsyncSession,
    hall: Hall,
    change: str,
    device: Device,
    *,
    actor: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """A change of a device: its audit entry (``device.<change>``, who, before, after) and
    ``device.changed`` on the hall bus (the dashboard and the devices page re-read)."""
    audit.record(
        session,
        hall.id,
        f"device.{change}",
        f"device {device.name}",
        actor=actor,
        at=utcnow(),
        before=before,
        after=after,
    )
    payload: dict[str, Any] = {
        "action": _CHANGES[change],
        "device_id": device.id,
        "name": device.name,
        "kind": device.kind,
        "active": device.active,
    }
    outbox.stage(session, hall.id, "device.changed", payload)


def _described(device: Device) -> dict[str, Any]:
    return {"name": device.name, "kind": device.kind, "active": device.active}


async def add(
    *, session: AsyncSession, hall: Hall, kind: DeviceKind, name: str, actor: str
) -> tuple[Device, str]:
    """A new kiosk, gateway or display of the hall; its token (returned) is shown once.
    A remote station registered here (``halls.remote``) gets a station device only."""
    if (kind is DeviceKind.STATION) != bool(hall.remote):
        raise StationKind(
            f"hall {hall.code} is a remote station: only a station device"
            if hall.remote
            else f"hall {hall.code} runs here: a station device is for a remote station"
        )
    await _name_free(session, hall, name)
    token = security.new_device_token()
    device = Device(
        hall_id=hall.id,
        kind=kind.value,
        name=name,
        token_hash=security.device_token_hash(token),
        active=True,
        created_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    _changed(session, hall, "add", device, actor=actor, after=_described(device))
    await outbox.commit(session)
    return device, token


async def revoke(*, session: AsyncSession, hall: Hall, device_id: int, actor: str) -> Device:
    """吊销: the token stops working at once, for good (a new one: ``reissue``)."""
    device = await _device(session, hall, device_id)
    if device.active:
        device.active = False
        _changed(
            session,
            hall,
            "revoke",
            device,
            actor=actor,
            before={"active": True},
            after={"active": False},
        )
    await outbox.commit(session)
    return device


async def reissue(
    *, session: AsyncSession, hall: Hall, device_id: int, actor: str
) -> tuple[Device, str]:
    """重新发放令牌: a new token (returned, shown once); the old one, revoked or not,
    never works again. The device keeps its name, its health and its assignments."""
    device = await _device(session, hall, device_id)
    token = security.new_device_token()
    before = device.active
    device.token_hash = security.device_token_hash(token)
    device.active = True
    _changed(
        session,
        hall,
        "reissue",
        device,
        actor=actor,
        before={"active": before},
        after={"active": True, "token": "new"},
    )
    await outbox.commit(session)
    return device, token


async def rename(
    *, session: AsyncSession, hall: Hall, device_id: int, name: str, actor: str
) -> Device:
    device = await _device(session, hall, device_id)
    if device.name != name:
        await _name_free(session, hall, name, but=device.id)
        before = device.name
        device.name = name
        _changed(
            session,
            hall,
            "rename",
            device,
            actor=actor,
            before={"name": before},
            after={"name": name},
        )
    await outbox.commit(session)
    return device


@dataclass(frozen=True)
class Assignment:
    gateway: Device
    key: str
    file_window: int
    window: int  # where it serves now (the file's window when not assigned)
    before: int
    assigned: bool


async def assign(
    *,
    session: AsyncSession,
    hall: Hall,
    gateway_id: int,
    key: str,
    window: int | None,
    actor: str,
) -> Assignment:
    """A keypad or evaluation pad behind a gateway serves ``window`` from now on (None, or
    its file's window: back to what the gateway's file says). The gateway follows the
    ``device.assigned`` event (docs/gateway.md)."""
    gateway = await _device(session, hall, gateway_id)
    if gateway.kind != DeviceKind.GATEWAY.value:
        raise NotFound(f"device {gateway.name} is a {gateway.kind}, not a gateway")
    if not gateway.active:
        raise DeviceRevoked(f"gateway {gateway.name} is revoked")
    place = assignable(key)
    if place is None:
        raise NotFound(f"{key!r} is not a keypad or evaluation pad (keypad:N, evaluator:N)")
    reported = await repository.records_of_reporter(session, hall.id, gateway.id)
    if not any(r.key == key for r in reported):
        raise NotFound(f"gateway {gateway.name} has not reported a device {key}")
    file_window = place[1]
    if window is not None and await windows_repo.get_window(session, hall.id, window) is None:
        raise NotFound(f"no window {window} in this hall")
    row = (
        await session.execute(
            select(HardwareAssignment)
            .where(HardwareAssignment.gateway_id == gateway.id, HardwareAssignment.key == key)
            .with_for_update()
        )
    ).scalar_one_or_none()
    before = row.window if row is not None else file_window
    after = file_window if window is None else window
    now = utcnow()
    if after == file_window:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(
            HardwareAssignment(
                hall_id=hall.id,
                gateway_id=gateway.id,
                key=key,
                window=after,
                assigned_at=now,
                assigned_by=actor,
            )
        )
    else:
        row.window, row.assigned_at, row.assigned_by = after, now, actor
    if after != before:
        audit.record(
            session,
            hall.id,
            "device.assign",
            f"device {gateway.name}/{key}",
            actor=actor,
            at=now,
            before={"window": before},
            after={"window": after},
        )
        outbox.stage(
            session,
            hall.id,
            "device.assigned",
            {
                "gateway_id": gateway.id,
                "gateway": gateway.name,
                "key": key,
                "window": after,
                "file_window": file_window,
                "before": before,
            },
        )
    await outbox.commit(session)
    return Assignment(gateway, key, file_window, after, before, after != file_window)


async def assignments_for(
    *, session: AsyncSession, hall: Hall, principal: Principal
) -> list[tuple[Device, HardwareAssignment]]:
    """The assignments a caller may read: a gateway its own; a manager the hall's."""
    if principal.kind == "device":
        if principal.role != DeviceKind.GATEWAY.value:
            raise Forbidden("only a gateway or a manager reads device assignments")
    elif not principal.can(Capability.MANAGE):
        raise Forbidden("only a gateway or a manager reads device assignments")
    gateways = {d.id: d for d in await _devices_of_hall(session, hall.id)}
    return [
        (gateways[a.gateway_id], a)
        for a in await _assignments(session, hall.id)
        if principal.kind != "device" or a.gateway_id == principal.id
    ]
