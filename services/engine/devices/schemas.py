"""Request and response bodies of the device health endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.engine.auth.permissions import DeviceKind
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


# -- device administration (设备管理) ---------------------------------------------------

DEVICE_NAME = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"  # printable, not blank


# What a hall's manager adds on the devices page; other kinds are the operator's (CLI).
HallDeviceKind = Literal[DeviceKind.KIOSK, DeviceKind.GATEWAY, DeviceKind.DISPLAY]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: HallDeviceKind = Field(
        description="kiosk (取号机), gateway (设备网关) or display (综合屏)"
    )
    name: str = Field(min_length=1, max_length=100, pattern=DEVICE_NAME)


class DeviceNameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=DEVICE_NAME)


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^(keypad|evaluator):[0-9]{1,6}$",
        description='the keypad or pad as the gateway reports it: "keypad:3", "evaluator:3"',
    )
    window: int | None = Field(
        ge=1,
        le=WINDOW_NUMBER_MAX,
        description="the window it serves from now on; null: the gateway's file decides again",
    )


class HardwareOut(BaseModel):
    key: str
    kind: str
    window: int | None = Field(description="the window it serves, as its gateway last reported")
    file_window: int | None = Field(
        description="keypads and pads: the window the gateway's file gives it"
    )
    assigned_window: int | None = Field(
        description="set on the devices page: the gateway serves this window with it"
    )
    status: HealthStatus
    reason: str | None
    last_seen: datetime | None


class DeviceAdminOut(BaseModel):
    """A device of the hall. Never its token: that is shown once, when it is made."""

    id: int
    kind: str
    name: str
    active: bool = Field(description="false: revoked, its token refused for good")
    created_at: datetime
    last_contact: datetime | None
    status: HealthStatus | None = Field(description="kiosks and gateways: online or offline")
    reason: str | None
    hardware: list[HardwareOut] = Field(description="what a kiosk or gateway reported behind it")


class NewTokenOut(BaseModel):
    device: DeviceAdminOut
    token: str = Field(description="the device's token: shown in this answer only")


class AssignmentOut(BaseModel):
    gateway_id: int
    gateway: str
    key: str
    window: int = Field(description="the window it serves")
    file_window: int
    assigned: bool = Field(description="false: the gateway's file decides")
