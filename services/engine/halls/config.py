"""The declarative hall file (TOML): hall, opening hours, calendar, services, windows.

Pure: parses and validates text into a :class:`HallFile`; no database.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.engine.balancing.config import TidalSpec
from services.engine.balancing.policy import POLICIES, Role
from services.engine.core.errors import HallConfigInvalid
from services.engine.halls.opening_hours import (
    Schedule,
    Session,
    parse_sessions,
    weekday_index,
    weekly_from_mapping,
)
from services.engine.tickets.numbering import PeriodQuota
from services.engine.windows.call_policy import InterleaveRatio
from services.engine.windows.states import WindowKind

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursSpec(_Strict):
    """Opening sessions per weekday plus the calendar."""

    weekly: dict[str, list[str]] = Field(default_factory=dict)
    extra: dict[str, list[str]] = Field(default_factory=dict)
    closed_dates: list[date] = Field(default_factory=list)
    # 调休: a date worked although it is a weekend, and which weekday's hours it keeps.
    working_dates: dict[date, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> HoursSpec:
        try:
            self.schedule()
        except ValueError as err:
            raise ValueError(f"hours: {err}") from err
        return self

    def schedule(self) -> Schedule:
        return Schedule(
            weekly=weekly_from_mapping(self.weekly),
            extra=weekly_from_mapping(self.extra),
            closed_dates=frozenset(self.closed_dates),
            working_dates={d: weekday_index(w) for d, w in self.working_dates.items()},
        )


class RulesSpec(_Strict):
    """How the hall calls: recalls, no-shows, the favoured:normal interleave."""

    max_recalls: int = Field(default=3, ge=0, le=10)
    no_show: Literal["void", "requeue"] = "void"
    requeue_places: int = Field(default=3, ge=1, le=50)
    interleave: str = "2:1"
    one_open_ticket_per_person: bool = True
    # Calling policy (叫号策略): "balanced" (primary first, aging by wait/target) or "fifo".
    policy: str = "balanced"

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
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
            raise ValueError("interleave must look like '2:1'")
        return InterleaveRatio(int(match.group(1)), int(match.group(2)))

    def ratio(self) -> InterleaveRatio:
        return self.parse_ratio(self.interleave)


class PeriodQuotaSpec(_Strict):
    hours: str
    limit: int = Field(ge=0)

    def quota(self) -> PeriodQuota:
        return PeriodQuota(Session.parse(self.hours), self.limit)


class BookingSpec(_Strict):
    """Appointments (预约) for a hall: slots, release, cutoffs, arrival window, no-shows.

    ``[hall.booking]`` turns booking on for every active service of the hall;
    a service may override the slot fields (or switch booking off) in its own
    ``booking`` table.
    """

    enabled: bool = True
    capacity_per_slot: int = Field(default=5, ge=0, le=10_000)
    slot_minutes: int = Field(default=30, ge=5, le=24 * 60)
    release_days_ahead: int = Field(default=7, ge=0, le=90)
    release_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    # Booking closes this long before a slot starts.
    book_cutoff_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    one_per_person_per_day: bool = True
    cancel_cutoff_hours: float = Field(default=2.0, ge=0, le=24 * 7)
    arrive_early_minutes: int = Field(default=30, ge=0, le=24 * 60)
    arrive_late_minutes: int = Field(default=15, ge=0, le=24 * 60)
    no_show_limit: int = Field(default=3, ge=1, le=100)
    no_show_period_days: int = Field(default=30, ge=1, le=365)
    suspension_days: int = Field(default=30, ge=0, le=365)
    # The partner's webhook fires when a booked ticket is this many places from the window.
    notify_places_ahead: int = Field(default=3, ge=0, le=100)

    @field_validator("release_time")
    @classmethod
    def _release_time(cls, value: str) -> str:
        hours, minutes = (int(part) for part in value.split(":"))
        if hours > 23 or minutes > 59:
            raise ValueError("release_time must be a time of day, HH:MM")
        return value


class ServiceBookingSpec(_Strict):
    """A service's own booking fields; unset ones follow ``[hall.booking]``."""

    enabled: bool = True
    capacity_per_slot: int | None = Field(default=None, ge=0, le=10_000)
    slot_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    release_days_ahead: int | None = Field(default=None, ge=0, le=90)
    release_time: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    book_cutoff_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    cancel_cutoff_hours: float | None = Field(default=None, ge=0, le=24 * 7)
    arrive_early_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    arrive_late_minutes: int | None = Field(default=None, ge=0, le=24 * 60)

    def over(self, hall: BookingSpec) -> BookingSpec:
        """The hall's booking settings with this service's own laid over them."""
        own = self.model_dump(exclude_none=True)
        return hall.model_copy(update=own)


class ServiceSpec(_Strict):
    code: str
    name: str
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    width: int = Field(default=3, ge=1, le=6)
    daily_quota: int | None = Field(default=None, ge=0)
    period_quotas: list[PeriodQuotaSpec] = Field(default_factory=list)
    hours: dict[str, list[str]] | None = None
    target_wait_minutes: int = Field(default=20, ge=1)
    average_handle_minutes: float = Field(default=8.0, gt=0)
    booking: ServiceBookingSpec | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError("service code: lower-case letters, digits, - and _")
        return value

    @model_validator(mode="after")
    def _valid(self) -> ServiceSpec:
        if self.hours is not None:
            weekly_from_mapping(self.hours)
        quotas = sorted(q.quota().session for q in self.period_quotas)
        for a, b in pairwise(quotas):
            if b.start < a.end:
                raise ValueError(f"period quotas {a} and {b} overlap")
        return self


class WindowSpec(_Strict):
    number: int = Field(ge=1, le=9999)
    name: str | None = None
    kind: WindowKind = WindowKind.GENERAL
    # service code -> weight (higher is preferred); a list means weight 1 each.
    services: dict[str, float] | list[str]
    # Services it helps when their queue has aged (a list means weight 0.5 each).
    secondary: dict[str, float] | list[str] = Field(default_factory=dict)

    def weights(self) -> dict[str, float]:
        if isinstance(self.services, list):
            return dict.fromkeys(self.services, 1.0)
        return dict(self.services)

    def secondary_weights(self) -> dict[str, float]:
        if isinstance(self.secondary, list):
            return dict.fromkeys(self.secondary, 0.5)
        return dict(self.secondary)

    def links(self) -> dict[str, tuple[float, Role]]:
        """Service code -> (weight, role), primary and secondary."""
        out = {code: (w, Role.SECONDARY) for code, w in self.secondary_weights().items()}
        out.update({code: (w, Role.PRIMARY) for code, w in self.weights().items()})
        return out


class HallSpec(_Strict):
    code: str
    name: str
    timezone: str = "Asia/Shanghai"
    notice: str = ""
    hours: HoursSpec = Field(default_factory=HoursSpec)
    rules: RulesSpec = Field(default_factory=RulesSpec)
    tidal: TidalSpec = Field(default_factory=TidalSpec)
    # Appointments (预约); absent means the hall takes no bookings.
    booking: BookingSpec | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError("hall code: lower-case letters, digits, - and _")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown timezone {value!r}") from err
        return value


class HallFile(_Strict):
    hall: HallSpec
    services: list[ServiceSpec] = Field(default_factory=list)
    windows: list[WindowSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> HallFile:
        codes = [s.code for s in self.services]
        if len(set(codes)) != len(codes):
            raise ValueError("service codes must be unique in a hall")
        prefixes = [s.prefix for s in self.services]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(
                "ticket prefixes must be unique in a hall (A001 must mean one service)"
            )
        numbers = [w.number for w in self.windows]
        if len(set(numbers)) != len(numbers):
            raise ValueError("window numbers must be unique in a hall")
        for window in self.windows:
            both = set(window.weights()) & set(window.secondary_weights())
            if both:
                raise ValueError(
                    f"window {window.number}: {sorted(both)} cannot be primary and secondary"
                )
            for code, (weight, _role) in window.links().items():
                if code not in codes:
                    raise ValueError(f"window {window.number} serves unknown service {code!r}")
                if weight <= 0:
                    raise ValueError(f"window {window.number}: weight for {code!r} must be > 0")
        for number in self.hall.tidal.windows:
            if number not in numbers:
                raise ValueError(f"tidal window {number} is not a window of the hall")
        for rule in self.hall.tidal.rules:
            if rule.service not in codes:
                raise ValueError(f"tidal rule for unknown service {rule.service!r}")
        return self


def parse_hall_file(text: str) -> HallFile:
    """Parse a hall TOML file, refusing anything inconsistent with a clear message."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise HallConfigInvalid(f"not valid TOML: {err}") from err
    return hall_file_from_dict(raw)


def hall_file_from_dict(raw: dict[str, Any]) -> HallFile:
    try:
        return HallFile.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(_problem(e["loc"], e["msg"]) for e in err.errors())
        raise HallConfigInvalid(f"hall file refused: {problems}") from err


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    """``services.1.prefix: ...``; a problem of the whole file names no location."""
    msg = msg.removeprefix("Value error, ")
    where = ".".join(str(p) for p in loc)
    return f"{where}: {msg}" if where else msg


def service_schedule(hall_hours: HoursSpec, service_hours: dict[str, list[str]] | None) -> Schedule:
    """The hours a service can be issued: the hall's, cut to the service's own."""
    schedule = hall_hours.schedule()
    if service_hours is None:
        return schedule
    return schedule.restricted_to(weekly_from_mapping(service_hours))


def sessions_text(sessions: tuple[Session, ...]) -> list[str]:
    return [str(s) for s in sessions]


__all__ = [
    "BookingSpec",
    "HallFile",
    "HallSpec",
    "HoursSpec",
    "RulesSpec",
    "ServiceBookingSpec",
    "ServiceSpec",
    "WindowSpec",
    "parse_hall_file",
    "parse_sessions",
    "service_schedule",
]
