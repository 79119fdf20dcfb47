"""Request and response bodies for window actions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.engine.core.inputs import ROW_ID_END, WINDOW_NUMBER_MAX
from services.engine.tickets.schemas import TicketOut
from services.engine.windows.states import WindowKind, WindowState


class CallTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: int = Field(ge=1, lt=ROW_ID_END)
    reason: str = Field(
        min_length=1, max_length=200, description="why this ticket is called out of turn"
    )


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
