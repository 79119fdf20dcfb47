"""Scenario files (deploy/scenarios/*.toml): a hall's day as numbers.

A scenario gives the day's hours and expected visitors, an arrival profile per
hour (a morning peak, a lunch dip), the services (share of visitors, handle
time distribution, target wait), the windows (their primary and secondary
services for the balanced policy and their own services under today's
dedicated practice), and the share of priority tickets, appointments and
no-shows.
"""

from __future__ import annotations

import re
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.engine.balancing.policy import Link, Role
from services.engine.balancing.tidal import TidalMode

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScenarioInvalid(ValueError):
    """A scenario file that cannot be simulated, with the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(value: str) -> int:
    match = _HHMM.match(value)
    if not match:
        raise ValueError(f"time {value!r} must look like 09:00")
    return int(match.group(1)) * 60 + int(match.group(2))


def _span(value: str) -> tuple[int, int]:
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError(f"open hours {value!r} must look like 09:00-12:00")
    a, b = _minutes(start.strip()), (24 * 60 if end.strip() == "24:00" else _minutes(end.strip()))
    if a >= b:
        raise ValueError(f"open hours {value!r} end before they begin")
    return a, b


class DaySpec(_Strict):
    name: str
    description: str = ""
    open: str = "09:00"
    close: str = "17:00"
    # Expected visitors over the day (each service gets its share).
    visitors: float = Field(gt=0)
    # Relative arrival rate per hour from opening; the last hour may be partial.
    hourly: list[float] = Field(min_length=1)
    # The length of each step of the arrival profiles (60: hourly; 15: a rate for each
    # quarter hour from opening, as a profile learned from a hall's history is).
    profile_minutes: int = Field(default=60, ge=1, le=60)
    interleave: str = "2:1"
    green_share: float = Field(default=0.0, ge=0, le=1)
    priority_share: float = Field(default=0.0, ge=0, le=1)
    appointment_share: float = Field(default=0.0, ge=0, le=1)
    # Of the appointments, how many arrive after their slot ended.
    late_appointment_share: float = Field(default=0.1, ge=0, le=1)
    slot_minutes: int = Field(default=30, ge=5)
    no_show_share: float = Field(default=0.0, ge=0, le=1)
    # Window time lost on a no-show (calling and recalling, 重呼).
    no_show_minutes: float = Field(default=1.5, ge=0)
    # Queue length is sampled this often for the chart.
    sample_minutes: int = Field(default=5, ge=1)

    @field_validator("open", "close")
    @classmethod
    def _time(cls, value: str) -> str:
        _minutes(value)
        return value

    @field_validator("hourly")
    @classmethod
    def _rates(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value) or sum(value) <= 0:
            raise ValueError("hourly rates must be >= 0 and not all zero")
        return value

    @model_validator(mode="after")
    def _valid(self) -> DaySpec:
        if self.open_minute >= self.close_minute:
            raise ValueError("the day must open before it closes")
        hours = (self.close_minute - self.open_minute) / self.profile_minutes
        if len(self.hourly) < hours - 1e-9:
            raise ValueError(f"hourly needs a rate for each of the {hours:g} opening hours")
        if self.green_share + self.priority_share + self.appointment_share > 1:
            raise ValueError("green, priority and appointment shares add up to more than 1")
        return self

    @property
    def open_minute(self) -> int:
        return _minutes(self.open)

    @property
    def close_minute(self) -> int:
        return _minutes(self.close)


class ServiceSpec(_Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    share: float = Field(gt=0, le=1, description="share of the day's visitors")
    handle_minutes: float = Field(gt=0, description="mean handle time")
    # Handle times are lognormal with this coefficient of variation (sd / mean).
    handle_cv: float = Field(default=0.5, ge=0, le=3)
    target_wait_minutes: float = Field(default=20, gt=0)
    # Its own arrival profile per hour (a surge on one matter); default the day's.
    hourly: list[float] | None = None

    @field_validator("hourly")
    @classmethod
    def _rates(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (any(v < 0 for v in value) or sum(value) <= 0):
            raise ValueError("hourly rates must be >= 0 and not all zero")
        return value


class WindowSpec(_Strict):
    # One window, or several alike.
    number: int | None = Field(default=None, ge=1)
    numbers: list[int] | None = None
    name: str = ""
    kind: str = "general"
    # Balanced policy: primary services with weights, and secondary ones.
    services: dict[str, float] | list[str]
    secondary: dict[str, float] | list[str] = Field(default_factory=dict)
    # Today's practice (dedicated): the window's own services; default its primary ones.
    own: list[str] | None = None
    # When it calls, e.g. ["08:30-12:00", "14:00-17:30"]; default the whole day. After the
    # day's close a window that was open that day works on until the queue is empty.
    open_hours: list[str] | None = None

    @field_validator("open_hours")
    @classmethod
    def _hours(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            spans = sorted(_span(v) for v in value)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError("open hours overlap")
        return value

    def spans(self) -> list[tuple[int, int]] | None:
        """Open hours as (start, end) minutes since midnight, in order; None: all day."""
        return None if self.open_hours is None else sorted(_span(v) for v in self.open_hours)

    @model_validator(mode="after")
    def _valid(self) -> WindowSpec:
        if (self.number is None) == (self.numbers is None):
            raise ValueError("give exactly one of number or numbers")
        if set(self.primary()) & set(self.secondaries()):
            raise ValueError("a service is either primary or secondary at a window, not both")
        return self

    def window_numbers(self) -> list[int]:
        return [self.number] if self.number is not None else list(self.numbers or [])

    @staticmethod
    def _weights(value: dict[str, float] | list[str], default: float) -> dict[str, float]:
        return dict.fromkeys(value, default) if isinstance(value, list) else dict(value)

    def primary(self) -> dict[str, float]:
        return self._weights(self.services, 1.0)

    def secondaries(self) -> dict[str, float]:
        return self._weights(self.secondary, 0.5)

    def own_services(self) -> list[str]:
        return list(self.own) if self.own is not None else list(self.primary())


class TidalRuleSpec(_Strict):
    service: str
    high_waiting: int | None = Field(default=None, ge=1)
    low_waiting: int | None = Field(default=None, ge=0)
    high_wait_minutes: float | None = Field(default=None, gt=0)
    low_wait_minutes: float | None = Field(default=None, ge=0)
    hold_minutes: float = Field(default=10, ge=0)


class TidalSpec(_Strict):
    """Tidal windows in the balanced run (auto mode: the rules really move windows)."""

    mode: TidalMode = TidalMode.AUTO
    windows: list[int] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)
    rules: list[TidalRuleSpec] = Field(default_factory=list)


class Scenario(_Strict):
    scenario: DaySpec
    services: list[ServiceSpec] = Field(min_length=1)
    windows: list[WindowSpec] = Field(min_length=1)
    tidal: TidalSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        codes = [s.code for s in self.services]
        if len(set(codes)) != len(codes):
            raise ValueError("service codes must be unique")
        total = sum(s.share for s in self.services)
        if abs(total - 1.0) > 0.005:
            raise ValueError(f"service shares add up to {total:.3f}, not 1")
        hours = (
            self.scenario.close_minute - self.scenario.open_minute
        ) / self.scenario.profile_minutes
        for service in self.services:
            if service.hourly is not None and len(service.hourly) < hours - 1e-9:
                raise ValueError(
                    f"service {service.code!r}: hourly needs a rate for each of the "
                    f"{hours:g} opening hours"
                )
        numbers = [n for w in self.windows for n in w.window_numbers()]
        if len(set(numbers)) != len(numbers):
            raise ValueError("window numbers must be unique")
        for window in self.windows:
            named = [*window.primary(), *window.secondaries(), *window.own_services()]
            for code in named:
                if code not in codes:
                    raise ValueError(
                        f"window {window.window_numbers()} names unknown service {code!r}"
                    )
        for policy in ("dedicated", "balanced"):
            served = {
                code
                for w in self.windows
                for code in (w.own_services() if policy == "dedicated" else w.primary())
            }
            missing = sorted(set(codes) - served)
            if missing:
                raise ValueError(f"no window serves {missing} under the {policy} policy")
        if self.tidal is not None:
            for number in self.tidal.windows:
                if number not in numbers:
                    raise ValueError(f"tidal window {number} is not a window of the scenario")
            for rule in self.tidal.rules:
                if rule.service not in codes:
                    raise ValueError(f"tidal rule for unknown service {rule.service!r}")
        return self

    def service_index(self) -> dict[str, int]:
        """Service code -> id used in the simulation (1-based, file order)."""
        return {s.code: i + 1 for i, s in enumerate(self.services)}

    def links(self, window: WindowSpec, policy: str) -> dict[int, Link]:
        """A window's services under a policy, as the calling policy sees them."""
        ids = self.service_index()
        if policy == "dedicated":
            return {ids[c]: Link(1.0, Role.PRIMARY) for c in window.own_services()}
        out = {ids[c]: Link(w, Role.PRIMARY) for c, w in window.primary().items()}
        out.update({ids[c]: Link(w, Role.SECONDARY) for c, w in window.secondaries().items()})
        return out


def parse_scenario(text: str) -> Scenario:
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioInvalid(f"not valid TOML: {err}") from err
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ScenarioInvalid(f"scenario refused: {problems}") from err


def load_scenario(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioInvalid(f"cannot read scenario {path}: {err.strerror or err}") from err
    return parse_scenario(text)
