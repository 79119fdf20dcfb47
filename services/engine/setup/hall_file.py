"""The declarative hall file (TOML): hall, opening hours, calendar, services, windows.

Pure: parses and validates text into a :class:`HallFile`; no database.
``setup.apply`` writes one into the database.
"""

from __future__ import annotations

import re
import tomllib
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator

from services.engine.balancing.config import TidalSpec
from services.engine.balancing.policy import Role
from services.engine.bookings.rules import BookingSpec, ServiceBookingSpec
from services.engine.core.errors import HallConfigInvalid
from services.engine.core.inputs import WINDOW_NUMBER_MAX
from services.engine.halls.opening_hours import SettingError, weekly_from_mapping
from services.engine.halls.settings import HoursSpec, PeriodQuotaSpec, RulesSpec
from services.engine.halls.settings import Strict as _Strict
from services.engine.windows.states import WindowKind

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REGION_CODE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$")


class ServiceSpec(_Strict):
    code: str
    name: str = Field(min_length=1, max_length=200)
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    width: int = Field(default=3, ge=1, le=6)
    daily_quota: int | None = Field(default=None, ge=0)
    period_quotas: list[PeriodQuotaSpec] = Field(default_factory=list)
    hours: dict[str, list[str]] | None = None
    target_wait_minutes: int = Field(default=20, ge=1)
    average_handle_minutes: float = Field(default=8.0, gt=0)
    booking: ServiceBookingSpec | None = None
    # False: not issued (停办); kept so that its tickets and settings stay. A service
    # dropped from the file is retired the same way.
    active: bool = True

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise SettingError(
                "service code: lower-case letters, digits, - and _",
                "业务代码只能由小写字母、数字、- 和 _ 组成",
            )
        return value

    @model_validator(mode="after")
    def _valid(self) -> ServiceSpec:
        if self.hours is not None:
            weekly_from_mapping(self.hours)
        quotas = sorted(q.quota().session for q in self.period_quotas)
        for a, b in pairwise(quotas):
            if b.start < a.end:
                raise SettingError(
                    f"period quotas {a} and {b} overlap", f"分时段限号的时段 {a} 与 {b} 重叠"
                )
        return self


class WindowSpec(_Strict):
    number: int = Field(ge=1, le=WINDOW_NUMBER_MAX)
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


class RegionEntry(_Strict):
    """One region of the tree (``[[region]]``): its 行政区划 code and name; the parent is
    implied by the code (regions/rules.py) unless given."""

    code: str
    name: str = Field(min_length=1, max_length=100)
    parent: str | None = None

    @field_validator("code", "parent")
    @classmethod
    def _region_code(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_CODE.match(value):
            raise ValueError("a region code is 6, 9 or 12 digits (行政区划代码)")
        return value


class HallSpec(_Strict):
    code: str
    name: str
    # The region the hall serves (行政区划代码); absent: left as it is (the admin page).
    region: str | None = None
    timezone: str = "Asia/Shanghai"
    notice: str = ""
    hours: HoursSpec = Field(default_factory=HoursSpec)
    rules: RulesSpec = Field(default_factory=RulesSpec)
    tidal: TidalSpec = Field(default_factory=TidalSpec)
    # A window's services changed on the spot (the manager's dashboard) survive
    # ``hall apply`` only when this is true; otherwise the file wins (docs/manage.md).
    keep_adjustments: bool = False
    # Appointments (预约); absent means the hall takes no bookings.
    booking: BookingSpec | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError("hall code: lower-case letters, digits, - and _")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_CODE.match(value):
            raise ValueError("a region code is 6, 9 or 12 digits (行政区划代码)")
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
    # The regions above the hall, widest first (``[[region]]``), added or renamed on apply.
    region: list[RegionEntry] = Field(default_factory=list)
    services: list[ServiceSpec] = Field(default_factory=list)
    windows: list[WindowSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> HallFile:
        codes = [s.code for s in self.services]
        if len(set(codes)) != len(codes):
            raise SettingError(
                "service codes must be unique in a hall", "业务代码在同一大厅内不能重复"
            )
        prefixes = [s.prefix for s in self.services]
        if len(set(prefixes)) != len(prefixes):
            clash = sorted({p for p in prefixes if prefixes.count(p) > 1})
            raise SettingError(
                "ticket prefixes must be unique in a hall (A001 must mean one service)",
                f"取号前缀 {'、'.join(clash)} 已被其他业务使用：同一大厅内每个业务的前缀必须不同",
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
                raise SettingError(
                    f"tidal rule for unknown service {rule.service!r}",
                    f"潮汐规则引用了不存在的业务“{rule.service}”",
                )
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


def booking_config_of(spec: HallFile) -> dict[str, Any]:
    """The booking sections of a hall file, as stored (``{"hall": ..., "services": ...}``)."""
    return {
        "hall": spec.hall.booking.model_dump(mode="json") if spec.hall.booking else None,
        "services": {
            s.code: s.booking.model_dump(mode="json", exclude_none=True)
            for s in spec.services
            if s.booking is not None
        },
    }
