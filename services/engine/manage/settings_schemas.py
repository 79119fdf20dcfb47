"""What the settings page (大厅设置) sends and reads.

The bodies declare types only: the bounds and the rules are the hall file's
(``setup.hall_file``), checked by ``setup.edit`` and refused in Chinese
(``settings_invalid``), so that the page and ``hall apply`` cannot disagree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodQuotaIn(_In):
    hours: str = Field(max_length=20, description="HH:MM-HH:MM")
    limit: int


class ServiceIn(_In):
    """The fields to change; a field left out stays. ``daily_quota`` or ``hours`` null:
    no daily quota, the hall's hours."""

    name: str | None = Field(default=None, max_length=200)
    prefix: str | None = Field(default=None, max_length=8)
    daily_quota: int | None = None
    period_quotas: list[PeriodQuotaIn] | None = Field(default=None, max_length=48)
    hours: dict[str, list[str]] | None = Field(default=None, max_length=14)
    target_wait_minutes: int | None = None
    average_handle_minutes: float | None = None
    active: bool | None = None


class NewServiceIn(ServiceIn):
    code: str = Field(max_length=64, description="lower-case letters, digits, - and _")
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=8)


class HoursIn(_In):
    """Opening hours and the calendar: the fields to change; a field left out stays."""

    weekly: dict[str, list[str]] | None = Field(default=None, max_length=14)
    extra: dict[str, list[str]] | None = Field(default=None, max_length=14)
    closed_dates: list[date] | None = Field(default=None, max_length=1000)
    working_dates: dict[date, str] | None = Field(default=None, max_length=1000)
    national_calendar: bool | None = None
    makeup_weekday: str | None = Field(default=None, max_length=16)


class RulesIn(_In):
    """Calling rules (叫号规则): the fields to change; a field left out stays."""

    max_recalls: int | None = None
    no_show: str | None = Field(default=None, max_length=16)
    requeue_places: int | None = None
    interleave: str | None = Field(default=None, max_length=16)
    one_open_ticket_per_person: bool | None = None
    policy: str | None = Field(default=None, max_length=32)
    kiosk_classes: list[str] | None = Field(default=None, max_length=3)
    outcome_required: bool | None = None
    low_volume_cases_per_month: int | None = None
    pause_alert_minutes: int | None = None
    long_case_factor: float | None = None


class ServiceOut(BaseModel):
    code: str
    name: str
    prefix: str
    width: int
    daily_quota: int | None
    period_quotas: list[dict[str, Any]]
    hours: dict[str, list[str]] | None
    target_wait_minutes: int
    average_handle_minutes: float
    active: bool
    windows: list[int] = Field(description="the active windows serving it (not tidal)")


class NationalDayOut(BaseModel):
    date: date
    holiday: str = Field(description="the holiday, in Chinese")
    working: bool = Field(description="true: a 调休 working day; false: a day off")
    open: bool = Field(description="whether the hall opens that day, all said")


class CalendarYearOut(BaseModel):
    year: int
    known: bool = Field(description="false: the installed national calendar lacks this year")
    days: list[NationalDayOut]


class CalendarOut(BaseModel):
    follows_national: bool
    first_year: int
    last_year: int
    unknown_years: list[int] = Field(description="this year or next, not known yet")
    warning: str | None = Field(description="in Chinese, when a year is unknown")
    years: list[CalendarYearOut]


class SettingsOut(BaseModel):
    hall: str
    name: str
    timezone: str
    hours: dict[str, Any]
    rules: dict[str, Any]
    services: list[ServiceOut]
    calendar: CalendarOut
    policies: list[str]


class ChangeOut(BaseModel):
    target: str
    changed: bool
    before: dict[str, Any]
    after: dict[str, Any]
    settings: SettingsOut
