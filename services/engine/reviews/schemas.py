"""Request and response bodies of the 好差评 loop."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StepIn(BaseModel):
    """One step of a case; each step reads the fields it needs (see states.Step)."""

    model_config = ConfigDict(extra="forbid")

    # 回访
    channel: Literal["phone", "sms", "wechat", "visit", "other"] | None = None
    result: Literal["reached", "unreachable", "declined"] | None = None
    notes: str | None = Field(default=None, max_length=1000)
    # 核实 / 申诉 / 复核
    valid: bool | None = None
    reason: str | None = Field(default=None, max_length=500)
    upheld: bool | None = None
    # 整改
    measure: str | None = Field(default=None, max_length=1000)
    responsible: str | None = Field(default=None, max_length=100)
    # 反馈
    reply: str | None = Field(default=None, max_length=1000)
    publish_comment: bool | None = None
    # 回访满意度
    satisfaction: Literal["satisfied", "basic", "unsatisfied", "no_answer"] | None = None


class StepOut(BaseModel):
    at: datetime
    step: str
    actor: str
    detail: dict[str, object]


class CaseOut(BaseModel):
    id: int
    ticket_id: int
    number: str
    service: str
    window: int | None
    staff_user_id: int | None
    level: int
    reasons: list[str]
    comment: str | None
    channel: str
    state: str
    state_text: str
    opened_at: datetime
    contact_due: date
    rectify_due: date
    deadline_provisional: bool = Field(
        default=False,
        description="the deadlines cross a year whose national holidays are not published "
        "yet: counted Monday to Friday (docs/reviews.md)",
    )
    working_days_left: int | None = Field(
        description="working days to the deadline now running (None once rectified)"
    )
    due_soon: bool
    overdue: bool
    valid: bool | None
    invalid_reason: str | None
    appeal: str | None
    measure: str | None
    responsible: str | None
    rectified_at: datetime | None
    reply: str | None
    replied_at: datetime | None
    publish_comment: bool
    satisfaction: str | None
    closed_at: datetime | None
    has_phone: bool = Field(description="a callback phone is kept (read it through /phone)")
    phone_erased_at: datetime | None
    steps: list[StepOut] = Field(default_factory=list)


class PhoneOut(BaseModel):
    phone: str


class SweepOut(BaseModel):
    overdue: list[int]
    phones_erased: int
    defaults: int
    notified: int = Field(description="overdue cases posted to the hall's alert_webhook")


class PublicRatingIn(BaseModel):
    """A citizen's rating through the ticket's signed link (QR code, SMS/WeChat)."""

    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(default=None, max_length=500)
    items: dict[Literal["efficiency", "skill", "attitude"], int] | None = None
    callback_phone: str | None = Field(default=None, max_length=20)


class PartnerRatingOut(BaseModel):
    ticket_id: int
    level: int
    channel: str
    case_opened: bool = Field(description="a 差评 opened a bad-review case")


class StaffStepOut(BaseModel):
    """A step of the case's timeline as the rated clerk sees it: what and when."""

    at: datetime
    step: str


class StaffCaseOut(BaseModel):
    """A bad-review case as the rated staff member sees it (我的评价): no callback phone,
    nothing of the citizen's own, no record of the phone's readings, no contact notes."""

    id: int
    number: str
    service: str
    window: int | None
    level: int
    reasons: list[str]
    comment: str | None
    state: str
    state_text: str
    opened_at: datetime
    contact_due: date
    rectify_due: date
    deadline_provisional: bool
    working_days_left: int | None
    due_soon: bool
    overdue: bool
    valid: bool | None
    appeal: str | None = Field(description="None, filed, upheld or rejected")
    appeal_reason: str | None = Field(description="the appeal's reason, or the verification's")
    may_appeal: bool = Field(description="the clerk may still appeal it (once, before 整改)")
    measure: str | None
    rectified_at: datetime | None
    reply: str | None = Field(description="the reply to the citizen, as published")
    replied_at: datetime | None
    satisfaction: str | None
    closed_at: datetime | None
    steps: list[StaffStepOut] = Field(default_factory=list)


class MyRatingOut(BaseModel):
    ticket_id: int
    number: str
    service: str
    window: int | None
    level: int
    channel: str
    reasons: list[str]
    comment: str | None
    rated_at: datetime
    case_id: int | None


class MyRatingsOut(BaseModel):
    first: date
    last: date
    delay_minutes: int = Field(
        description="a rating shows this long after both 办结 and the rating (visibility rule)"
    )
    held_back: int = Field(description="ratings given but not shown yet")
    levels: dict[str, int] = Field(
        description="shown ratings per level, 5 ... 1 (invalid ones after 申诉复核 left out)"
    )
    defaults: int = Field(description="shown system-default ratings (not the citizen's)")
    excluded: int = Field(description="shown bad reviews found invalid by 申诉复核")
    good_percent: str | None = Field(description="好评率 of the shown ratings (docs/reviews.md)")
    ratings: list[MyRatingOut]
