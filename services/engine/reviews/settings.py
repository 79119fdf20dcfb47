"""A hall's 好差评 settings. Pure.

Deadlines are local (5, 10 or 15 working days to rectify; contact within 1 working
day in some places), so each is the hall's setting with the national defaults.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.engine.reviews.codes import PRESETS, CodeTable
from services.engine.reviews.visibility import DEFAULT_DELAY_MINUTES, MIN_DELAY_MINUTES

DEFAULT_REASONS = (
    "等候时间长",
    "办理效率低",
    "服务态度差",
    "业务不熟悉",
    "告知不清楚",
    "材料要求多",
    "多次跑腿",
    "环境设施差",
)


class ReviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Working days from the rating: to call the citizen back, to rectify a valid one.
    contact_days: int = Field(default=1, ge=0, le=30)
    rectify_days: int = Field(default=10, ge=1, le=60)
    # A case due within this many working days is flagged (临期).
    due_soon_days: int = Field(default=2, ge=0, le=10)
    # Days after the ticket is finished during which the citizen may rate by the QR
    # code or a link (and after which an unrated ticket counts as 未评价).
    rating_days: int = Field(default=7, ge=1, le=90)
    # "unrated": an unrated ticket stays 未评价; "default": it gets a system-default
    # rating (channel system_default) of ``default_level``, never an active rating.
    unrated: Literal["unrated", "default"] = "unrated"
    default_level: int = Field(default=5, ge=3, le=5)
    # A clerk sees a rating of their own work (its level, comment, case) only this many
    # minutes after both the ticket was finished and the rating given: never while the
    # citizen may still be there (reviews/visibility.py).
    staff_view_delay_minutes: int = Field(
        default=DEFAULT_DELAY_MINUTES, ge=MIN_DELAY_MINUTES, le=24 * 60
    )
    # The callback phone is erased this many days after the case closes.
    phone_retention_days: int = Field(default=30, ge=0, le=365)
    reasons: tuple[str, ...] = DEFAULT_REASONS
    # The platform's code table: a preset, or the hall's own.
    preset: str = "national"
    codes: CodeTable | None = None
    # 行政区划代码 (n..9) written in each exported record.
    region_code: str = Field(default="", pattern=r"^\d{0,9}$")
    # Where an overdue case is posted (a manager's WeChat/SMS gateway), if anywhere.
    alert_webhook: str | None = Field(default=None, max_length=500)
    # The hall's own calendar on top of its opening-hours calendar and the national one.
    closed_dates: tuple[date, ...] = ()
    working_dates: tuple[date, ...] = ()

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}")
        return value

    @field_validator("alert_webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("alert_webhook must be an http(s) address")
        return value
