"""A remote station's daily figures (村级服务站上报): ``PUT .../stats/days/{date}`` from
``jiaohao stats push`` with a station device's token, and the receipts for the district.

The body is the day's facts without anything personal (statistics/push_rules.py); it is
validated strictly (every field's type and range, no other field, at most
``push_rules.MAX_TICKETS`` tickets) before anything is read.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from services.engine.auth.permissions import Capability
from services.engine.core.inputs import WINDOW_NUMBER_MAX
from services.engine.deps import HallAccess, ReportAccess, SessionDep, hall_access
from services.engine.statistics import push, push_rules
from services.engine.statistics.push_rules import (
    MAX_SECONDS,
    MAX_SERVICES,
    MAX_TICKETS,
    MAX_WINDOW_LINES,
)
from services.engine.statistics.router import From, To
from services.engine.statistics.service import check_period

router = APIRouter(prefix="/api/v1/halls/{hall}/stats", tags=["statistics"])

PushAccess = Annotated[HallAccess, Depends(hall_access(Capability.PUSH_STATS))]
Day = Annotated[date, Path(description="the business day (the hall's date)")]

Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Strict = ConfigDict(extra="forbid", allow_inf_nan=False)
Priority = Literal["normal", "appointment", "priority", "green"]
Source = Literal["kiosk", "booking", "staff", "api"]
Status = Literal[
    "waiting",
    "called",
    "serving",
    "done",
    "no_show",
    "cancelled",
    "transferred",
    "held",
    "held_expired",
]
Outcome = Literal["done", "accepted", "told_missing", "consulted", "referred"]
# push_rules.PAUSE_REASONS, and "" for open time.
Reason = Literal["", "午休", "临时离岗", "系统故障", "设备故障", "会议", "培训", "其他"]


class ServiceIn(BaseModel):
    model_config = Strict

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    target_wait_minutes: int = Field(ge=1, le=1440)
    average_handle_minutes: float = Field(ge=0, le=1440)


class TicketIn(BaseModel):
    """One ticket of the day: no id, no number, no person, no clerk."""

    model_config = Strict

    day: date = Field(description="the local day it was issued")
    hour: int = Field(ge=0, le=23, description="the local hour it was issued")
    service: str = Field(min_length=1, max_length=64)
    window: int | None = Field(default=None, ge=1, le=WINDOW_NUMBER_MAX)
    priority: Priority
    source: Source
    status: Status
    outcome: Outcome | None = None
    continuation: bool = Field(description="a transfer's continuation (not a new visitor)")
    ever_held: bool
    wait_s: Seconds | None = None
    handling_s: Seconds | None = None
    rating: int | None = Field(default=None, ge=1, le=5, description="好差评 level")


class WindowIn(BaseModel):
    model_config = Strict

    window: int = Field(ge=1, le=WINDOW_NUMBER_MAX)
    kind: Literal["open", "paused"]
    reason: Reason = Field(default="", description="paused: 午休, 临时离岗, 系统故障... 其他")
    seconds: Seconds


class DayFiguresIn(BaseModel):
    model_config = Strict

    format: Literal[1]
    business_date: date
    services: list[ServiceIn] = Field(max_length=MAX_SERVICES)
    tickets: list[TicketIn] = Field(max_length=MAX_TICKETS)
    windows: list[WindowIn] = Field(max_length=MAX_WINDOW_LINES)

    def figures(self) -> push_rules.DayFigures:
        return push_rules.DayFigures(
            business_date=self.business_date,
            services=[push_rules.PushedService(**s.model_dump()) for s in self.services],
            tickets=[push_rules.PushedTicket(**t.model_dump()) for t in self.tickets],
            windows=[push_rules.PushedWindow(**w.model_dump()) for w in self.windows],
        )


class ReceivedOut(BaseModel):
    hall: str
    business_date: date
    result: Literal["stored", "replaced", "unchanged"]
    tickets: int
    windows: int
    first_at: str = Field(description="when the day first arrived")
    changed_at: str = Field(description="when its figures were last stored")


@router.put("/days/{business_date}", response_model=ReceivedOut)
async def push_day(
    access: PushAccess, session: SessionDep, business_date: Day, body: DayFiguresIn
) -> ReceivedOut:
    """A remote station's closed business day (its station device only): replaces the
    day's figures; the same figures again change nothing (safe to retry)."""
    found = await push.receive_day(
        session=session,
        hall=access.hall,
        principal=access.principal,
        business_date=business_date,
        figures=body.figures(),
    )
    return ReceivedOut(
        hall=access.hall.code,
        business_date=found.business_date,
        result=found.result,
        tickets=found.tickets,
        windows=found.windows,
        first_at=found.first_at.isoformat(),
        changed_at=found.changed_at.isoformat(),
    )


class ReceiptOut(BaseModel):
    business_date: date
    tickets: int
    windows: int
    first_at: str
    changed_at: str
    pushes: int


class ReceiptsOut(BaseModel):
    hall: str
    first: date
    last: date
    days: list[ReceiptOut]


@router.get("/days", response_model=ReceiptsOut)
async def pushed_days(
    access: ReportAccess, session: SessionDep, first: From, last: To
) -> ReceiptsOut:
    """The days a remote station has pushed, and when (a day missing has not arrived)."""
    check_period(first, last)
    found = await push.received_days(session=session, hall=access.hall, first=first, last=last)
    await session.commit()
    return ReceiptsOut(
        hall=access.hall.code,
        first=first,
        last=last,
        days=[
            ReceiptOut(
                business_date=r.business_date,
                tickets=r.tickets,
                windows=r.windows,
                first_at=r.first_at.isoformat(),
                changed_at=r.changed_at.isoformat(),
                pushes=r.pushes,
            )
            for r in found
        ],
    )
