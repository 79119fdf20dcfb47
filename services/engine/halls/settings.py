"""A hall's own settings, as its hall file gives them and its row keeps them. Pure.

Opening hours and calendar (``HoursSpec``), calling rules (``RulesSpec``), a
service's period quotas (分时段限号). Every domain reads them through
``halls.service.hours_of`` / ``rules_of``; the hall file (``setup.hall_file``)
is built from them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.engine.balancing.interleave import InterleaveRatio
from services.engine.balancing.policy import POLICIES
from services.engine.halls.national import national_calendar
from services.engine.halls.opening_hours import (
    Schedule,
    Session,
    SettingError,
    weekday_index,
    weekly_from_mapping,
)


class Strict(BaseModel):
    """Settings refuse unknown keys and never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursSpec(Strict):
    """Opening sessions per weekday plus the calendar: the national one (法定节假日 and
    调休, ``halls.national``) unless ``national_calendar`` is false, and the hall's own
    closed and working dates on top of it."""

    weekly: dict[str, list[str]] = Field(default_factory=dict)
    extra: dict[str, list[str]] = Field(default_factory=dict)
    closed_dates: list[date] = Field(default_factory=list)
    # 调休: a date worked although it is a weekend, and which weekday's hours it keeps.
    working_dates: dict[date, str] = Field(default_factory=dict)
    # Closed on national public holidays, open on the national 调休 working days (with
    # the hours of ``makeup_weekday``). False for a hall that opens whatever the
    # calendar says (a 24-hour self-service area).
    national_calendar: bool = True
    makeup_weekday: str = "mon"

    @model_validator(mode="after")
    def _valid(self) -> HoursSpec:
        try:
            self.schedule()
        except SettingError as err:
            raise SettingError(f"hours: {err}", err.zh) from err
        except ValueError as err:
            raise ValueError(f"hours: {err}") from err
        both = sorted(set(self.closed_dates) & set(self.working_dates))
        if both:
            days = ", ".join(d.isoformat() for d in both)
            raise SettingError(
                f"hours: {days} cannot be both closed and a working date",
                f"{days} 不能既是闭厅日又是调休上班日",
            )
        return self

    def schedule(self) -> Schedule:
        return Schedule(
            weekly=weekly_from_mapping(self.weekly),
            extra=weekly_from_mapping(self.extra),
            closed_dates=frozenset(self.closed_dates),
            working_dates={d: weekday_index(w) for d, w in self.working_dates.items()},
            national=national_calendar() if self.national_calendar else None,
            makeup_weekday=weekday_index(self.makeup_weekday),
        )


class RulesSpec(Strict):
    """How the hall calls: recalls, no-shows, the favoured:normal interleave."""

    max_recalls: int = Field(default=3, ge=0, le=10)
    no_show: Literal["void", "requeue"] = "void"
    requeue_places: int = Field(default=3, ge=1, le=50)
    interleave: str = "2:1"
    one_open_ticket_per_person: bool = True
    # Calling policy (叫号策略): "balanced" (primary first, aging by wait/target) or "fifo".
    policy: str = "balanced"
    # The classes a kiosk (自助取号机) may issue: green-channel and priority tickets are
    # given by staff at the guide desk (导办台) unless the hall lets its kiosks offer
    # them; appointments come only from a booking's check-in.
    kiosk_classes: tuple[Literal["normal", "priority", "green"], ...] = ("normal",)
    # 办理结果: the hall's clerks must record each case's outcome when finishing it
    # (a keypad has no key for it: its 办结 records none).
    outcome_required: bool = False
    # 忙闲不均: a window with fewer cases than this in a month is reported as little used
    # (a seed: "个别窗口还存在每月业务量低于10件的现象").
    low_volume_cases_per_month: int = Field(default=10, ge=0, le=100000)
    # The manager's dashboard (实时监控): a pause longer than this many minutes is an
    # alert, and a case longer than this multiple of its service's mean is highlighted.
    pause_alert_minutes: int = Field(default=15, ge=1, le=480)
    long_case_factor: float = Field(default=2.0, ge=1.0, le=20.0)

    def kiosk_may_issue(self, priority: str) -> bool:
        return priority in self.kiosk_classes

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in POLICIES:
            raise SettingError(
                f"policy must be one of {', '.join(POLICIES)}",
                f"叫号策略须为 {', '.join(POLICIES)} 之一",
            )
        return value

    @field_validator("interleave")
    @classmethod
    def _ratio(cls, value: str) -> str:
        cls.parse_ratio(value)
        return value

    @staticmethod
    def parse_ratio(value: str) -> InterleaveRatio:
        match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", value)
        if not match:
            raise SettingError("interleave must look like '2:1'", "优先与普通号交替比例应形如 2:1")
        return InterleaveRatio(int(match.group(1)), int(match.group(2)))

    def ratio(self) -> InterleaveRatio:
        return self.parse_ratio(self.interleave)


@dataclass(frozen=True)
class PeriodQuota:
    """A quota for a part of the day (分时段限号), e.g. 08:30-10:00 at most 40 tickets."""

    session: Session
    limit: int


def quota_period_at(quotas: Sequence[PeriodQuota], local: datetime) -> PeriodQuota | None:
    """The period quota in force at a local time, if any."""
    minute = local.hour * 60 + local.minute + local.second / 60
    for quota in quotas:
        if quota.session.contains(minute):
            return quota
    return None


class PeriodQuotaSpec(Strict):
    hours: str
    limit: int = Field(ge=0)

    def quota(self) -> PeriodQuota:
        return PeriodQuota(Session.parse(self.hours), self.limit)


def service_schedule(hall_hours: HoursSpec, service_hours: dict[str, list[str]] | None) -> Schedule:
    """The hours a service can be issued: the hall's, cut to the service's own."""
    schedule = hall_hours.schedule()
    if service_hours is None:
        return schedule
    return schedule.restricted_to(weekly_from_mapping(service_hours))


def sessions_text(sessions: tuple[Session, ...]) -> list[str]:
    return [str(s) for s in sessions]
