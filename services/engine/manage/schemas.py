"""What the manager's dashboard API says."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.engine.core.inputs import WINDOW_NUMBER_MAX


class LinkOut(BaseModel):
    service: str
    weight: float
    role: str = Field(description="primary (主办), secondary (协办) or tidal (潮汐)")


class WindowTileOut(BaseModel):
    number: int
    name: str
    kind: str
    active: bool
    state: str = Field(description="closed, idle, calling, serving, paused")
    state_since: datetime
    minutes_in_state: float
    pause_reason: str | None
    staff: str | None = Field(description="the clerk signed in (account name)")
    staff_since: datetime | None
    current_ticket: str | None
    current_service: str | None
    in_hand_since: datetime | None
    started_at: datetime | None
    cases_today: int
    services: list[LinkOut]
    pause_too_long: bool
    case_too_long: bool
    adjusted_at: datetime | None = Field(description="services changed on the spot since")
    planned_services: list[LinkOut] | None = Field(
        description="what it served before the on-the-spot change (the hall file's plan)"
    )


class QueueOut(BaseModel):
    service: str
    name: str
    prefix: str
    waiting: int
    by_class: dict[str, int]
    oldest_wait_minutes: float | None
    target_wait_minutes: int
    over_target_minutes: float
    estimated_wait_minutes: int | None
    issued_today: int
    served_today: int
    no_show_today: int
    quota_left: int | None
    windows: list[int]
    open_windows: list[int]
    open_now: bool


class AlertOut(BaseModel):
    id: int
    kind: str
    key: str
    severity: str
    data: dict[str, Any]
    opened_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolution: str | None


class DeviceLineOut(BaseModel):
    reporter: str
    reporter_kind: str
    key: str
    kind: str
    window: int | None
    status: str
    reason: str | None
    last_contact: datetime | None


class TidalLogOut(BaseModel):
    at: datetime
    service: str
    mode: str
    action: str
    windows: list[int]
    reason: str


class TidalPanelOut(BaseModel):
    mode: str
    windows: list[int]
    log: list[TidalLogOut]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any


class HallHeadOut(BaseModel):
    code: str
    name: str
    timezone: str
    notice: str
    pause_alert_minutes: int
    long_case_factor: float


class OverviewOut(BaseModel):
    now: datetime
    hall: HallHeadOut
    windows: list[WindowTileOut]
    queues: list[QueueOut] = Field(description="the furthest over its target first")
    alerts: list[AlertOut] = Field(description="open alerts, oldest first")
    closed_alerts: list[AlertOut] = Field(description="the latest cleared or resolved")
    tidal: TidalPanelOut
    devices: list[DeviceLineOut]
    audit: list[AuditOut] = Field(description="the latest changes, newest first")


class LinkIn(BaseModel):
    service: str = Field(min_length=1, max_length=64)
    weight: float = Field(default=1.0, gt=0, le=100)
    role: Literal["primary", "secondary"] = "primary"


class WindowServicesIn(BaseModel):
    services: list[LinkIn] = Field(min_length=1, max_length=50)


class WindowServicesOut(BaseModel):
    window: int = Field(ge=1, le=WINDOW_NUMBER_MAX)
    before: list[LinkOut]
    after: list[LinkOut]
    adjusted: bool


class NoticeIn(BaseModel):
    notice: str = Field(max_length=2000)


class NoticeOut(BaseModel):
    notice: str


class TidalResolveOut(BaseModel):
    alert: AlertOut
    windows_changed: list[int]


class AccountOut(BaseModel):
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class AccountIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["staff", "manager"] = "staff"


class NewPasswordOut(BaseModel):
    account: AccountOut
    password: str = Field(description="shown this once; only its hash is kept")
