"""Request and response bodies for window actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.engine.core.inputs import ROW_ID_END, WINDOW_NUMBER_MAX
from services.engine.tickets.schemas import TicketOut
from services.engine.tickets.states import HoldKind, Outcome
from services.engine.windows.states import WindowKind, WindowState


class CallTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: int | None = Field(default=None, ge=1, lt=ROW_ID_END)
    number: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="the printed number the clerk reads from the slip (today's), e.g. A023",
    )
    reason: str = Field(
        min_length=1, max_length=200, description="why this ticket is called out of turn"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CallTicketIn:
        if (self.ticket_id is None) == (self.number is None):
            raise ValueError("give exactly one of ticket_id or number")
        return self


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome | None = Field(
        default=None,
        description=(
            "办理结果: done 办结, accepted 受理 (the back office continues), told_missing "
            "一次性告知, consulted 咨询, referred 转办; required when the hall says so"
        ),
    )


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: HoldKind = Field(
        description=(
            "missing_documents 补材料, documents_left 材料留窗口, waiting 等待审批/刻章/缴费"
        )
    )
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class CallBackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: int | None = Field(default=None, ge=1, lt=ROW_ID_END)
    number: str | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _at_most_one(self) -> CallBackIn:
        if self.ticket_id is not None and self.number is not None:
            raise ValueError("give ticket_id or number, not both")
        return self


class HeldOut(BaseModel):
    ticket_id: int
    number: str
    service: str
    service_name: str
    priority: str
    kind: HoldKind | None
    reason: str | None
    held_since: datetime
    staff_user_id: int | None


class WindowLogOut(BaseModel):
    at: datetime
    window: int
    action: str = Field(description="sign_in, sign_out, open, close, pause, resume")
    actor: str
    staff_user_id: int | None
    staff: str | None = Field(description="the clerk's account name")
    detail: dict[str, Any]


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=200, description="暂停原因, e.g. 午休, 系统故障, 临时离岗"
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(default=None, description="service code to pass the ticket to")
    window: int | None = Field(
        default=None, ge=1, le=WINDOW_NUMBER_MAX, description="window number to pass the ticket to"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TransferIn:
        if (self.service is None) == (self.window is None):
            raise ValueError("give exactly one of service or window")
        return self


class WindowOut(BaseModel):
    number: int
    name: str
    kind: WindowKind
    state: WindowState
    pause_reason: str | None
    staff_user_id: int | None
    staff: str | None = Field(default=None, description="the account signed in (签到) here")
    staff_since: datetime | None = None
    current_ticket: str | None = Field(description="the number in hand, e.g. A023")
    current_ticket_id: int | None
    services: dict[str, float] = Field(default_factory=dict)
    state_changed_at: datetime
    active: bool


class WindowActionOut(BaseModel):
    window: WindowOut
    ticket: TicketOut | None = None
    outcome: str | None = Field(
        default=None, description="e.g. no_show after too many recalls, or requeued"
    )


class HistoryLineOut(BaseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    window: int | None
    detail: dict[str, Any]


class InHandOut(BaseModel):
    ticket_id: int
    number: str
    service: str
    service_name: str
    status: str
    priority: str
    source: str
    issued_at: datetime
    called_at: datetime | None
    started_at: datetime | None
    recall_count: int
    held_seconds: int
    transferred_from: int | None
    history: list[HistoryLineOut]


class QueueNextOut(BaseModel):
    ticket_id: int
    number: str
    priority: str
    queued_at: datetime
    sent_here: bool = Field(description="transferred to this window (转移到本窗口)")


class QueueLineOut(BaseModel):
    service: str
    service_name: str
    role: str = Field(description="primary, secondary or tidal")
    weight: float
    waiting: int
    oldest_since: datetime | None
    target_wait_minutes: int
    next: list[QueueNextOut]


class LastFinishedOut(BaseModel):
    ticket_id: int
    number: str
    finished_at: datetime | None
    outcome: str | None
    rated: bool = Field(description="已评价 / 未评价 (the level is not shown to the clerk)")


class ConsoleOut(BaseModel):
    """What the window console (软件呼叫器) shows of a window, at ``now``."""

    now: datetime
    window: WindowOut
    in_hand: InHandOut | None
    held: list[HeldOut]
    queues: list[QueueLineOut]
    today: dict[str, int] = Field(
        description="steps at this window today by action: call, recall, finish, no_show, "
        "hold, call_back, transfer, ..."
    )
    outcomes: dict[str, int] = Field(description="cases finished today by outcome ('' none)")
    last_finished: LastFinishedOut | None
    outcome_required: bool
    max_recalls: int
