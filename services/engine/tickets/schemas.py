"""Request and response bodies for tickets and queues."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.engine.tickets.states import PriorityClass, TicketStatus


class IssueTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64, description="service code, e.g. 'business'")
    priority: PriorityClass = PriorityClass.NORMAL
    id_number: str | None = Field(
        default=None, min_length=6, max_length=32, description="身份证号; only a keyed hash is kept"
    )
    phone: str | None = Field(
        default=None,
        min_length=5,
        max_length=20,
        description="only a keyed hash and the last 4 digits are kept",
    )


class TicketOut(BaseModel):
    id: int
    number: str
    service: str
    service_name: str
    status: TicketStatus
    priority: PriorityClass
    source: str
    waiting_ahead: int | None = Field(description="前方还有N人 (waiting tickets only)")
    estimated_wait_minutes: int | None = Field(
        default=None,
        description="预计等待M分钟 (waiting tickets; none when no open window serves the service)",
    )
    wait_text: str | None = Field(
        default=None,
        description="前方还有N人，预计等待M分钟; N counts who is called before it (green and "
        "priority tickets go first)",
    )
    issued_at: datetime
    business_date: date
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recall_count: int = 0
    held_at: datetime | None = Field(default=None, description="挂起 since (held tickets)")
    hold_kind: str | None = Field(default=None, description="why it was last held (挂起)")
    hold_reason: str | None = None
    held_seconds: int = Field(default=0, description="time on hold so far (not handling time)")
    outcome: str | None = Field(default=None, description="办理结果 of a finished case")
    window: int | None = Field(default=None, description="the window that called it")
    target_window: int | None = None
    transferred_to: int | None = None
    transferred_from: int | None = None
    phone_tail: str | None = None
    status_url: str | None = Field(
        default=None,
        description="public status page of the ticket (print it as the QR code); signed, "
        "no account needed",
    )


class TicketsOut(BaseModel):
    tickets: list[TicketOut]


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)


class QueueOut(BaseModel):
    service: str
    name: str
    prefix: str
    waiting: int
    windows: list[int]
    open_windows: list[int]
    open_now: bool
    next_opening: datetime | None
    issued_today: int
    quota_left: int | None
    target_wait_minutes: int
    estimated_wait_minutes: int | None = Field(
        default=None, description="estimated wait for a normal ticket taken now"
    )
    wait_text: str | None = None


class QueuesOut(BaseModel):
    hall: str
    queues: list[QueueOut]
