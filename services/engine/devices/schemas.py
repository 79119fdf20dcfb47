"""Request and response bodies of the device health endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.engine.core.inputs import WINDOW_NUMBER_MAX, StorableTime
from services.engine.devices.rules import MAX_DEVICES_PER_REPORT, HardwareKind, HealthStatus


class DeviceHealthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$",
        description='unique per reporter: "led:3", "keypad:3", "printer", "bus:hall"',
    )
    kind: HardwareKind
    window: int | None = Field(
        default=None, ge=1, le=WINDOW_NUMBER_MAX, description="the window it serves"
    )
    status: HealthStatus
    reason: str | None = Field(default=None, max_length=200, description="why, when not online")
    last_seen: StorableTime | None = Field(
        default=None, description="when the device last answered its reporter"
    )


class HealthReportIn(BaseModel):
    """A kiosk's or gateway's complete list of its devices (devices it leaves out are gone)."""

    model_config = ConfigDict(extra="forbid")

    devices: list[DeviceHealthIn] = Field(max_length=MAX_DEVICES_PER_REPORT)


class HealthReportOut(BaseModel):
    reporter: str
    accepted: int = Field(description="devices in the report")
    changed: list[str] = Field(description="keys added, changed or removed by this report")


class DeviceOut(BaseModel):
    key: str
    kind: str
    window: int | None
    status: HealthStatus = Field(description="offline when the reporter itself is silent")
    reported_status: HealthStatus = Field(description="what the reporter last said")
    reason: str | None
    last_seen: datetime | None
    changed_at: datetime
    reported_at: datetime


class ReporterOut(BaseModel):
    id: int
    name: str
    kind: str = Field(description="kiosk or gateway")
    status: HealthStatus = Field(description="offline when silent for too long, or never heard")
    reason: str | None
    last_contact: datetime | None
    devices: list[DeviceOut]


class HallDevicesOut(BaseModel):
    silent_after_seconds: float
    reporters: list[ReporterOut]
