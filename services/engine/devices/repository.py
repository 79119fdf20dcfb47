"""Loading and saving device health. No rules here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.models import Device
from services.engine.devices.models import DeviceHealthRecord


async def lock_reporter(session: AsyncSession, device_id: int) -> Device | None:
    """The reporting device's row, locked so one reporter's reports apply one at a time."""
    return (
        await session.execute(select(Device).where(Device.id == device_id).with_for_update())
    ).scalar_one_or_none()


async def records_of_reporter(
    session: AsyncSession, hall_id: int, reporter_id: int
) -> Sequence[DeviceHealthRecord]:
    query = select(DeviceHealthRecord).where(
        DeviceHealthRecord.hall_id == hall_id, DeviceHealthRecord.reporter_id == reporter_id
    )
    return (await session.execute(query)).scalars().all()


async def delete_records(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(DeviceHealthRecord).where(DeviceHealthRecord.id.in_(ids)))


async def reporters_of_hall(
    session: AsyncSession, hall_id: int, kinds: Sequence[str]
) -> Sequence[Device]:
    """Active devices of these kinds, and any device that has reported, in name order."""
    reported = select(DeviceHealthRecord.reporter_id).where(DeviceHealthRecord.hall_id == hall_id)
    query = (
        select(Device)
        .where(
            Device.hall_id == hall_id,
            or_(Device.kind.in_(kinds) & Device.active.is_(True), Device.id.in_(reported)),
        )
        .order_by(Device.name, Device.id)
    )
    return (await session.execute(query)).scalars().all()


async def records_of_hall(session: AsyncSession, hall_id: int) -> Sequence[DeviceHealthRecord]:
    query = (
        select(DeviceHealthRecord)
        .where(DeviceHealthRecord.hall_id == hall_id)
        .order_by(DeviceHealthRecord.reporter_id, DeviceHealthRecord.key)
    )
    return (await session.execute(query)).scalars().all()
