"""Tidal windows (潮汐窗口): when to open and close them, with hysteresis. Pure.

Per service a rule has a high mark and a low mark, on the waiting count and/or
on the estimated wait. Passing a high mark opens (or recommends opening) a
tidal window for the service; it closes only after both measures have stayed
at or below their low marks for the hold time, so a queue hovering around one
threshold does not make windows flap open and shut.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class TidalMode(StrEnum):
    OFF = "off"
    RECOMMEND = "recommend"  # tell the managers (an event); they decide
    AUTO = "auto"  # add the service to the designated tidal windows


class TidalAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True)
class TidalRule:
    """High and low marks for one service; a mark left as None is not used."""

    service_id: int
    high_waiting: int | None = None
    low_waiting: int | None = None
    high_wait_minutes: float | None = None
    low_wait_minutes: float | None = None
    hold_minutes: float = 10.0

    def __post_init__(self) -> None:
        if self.high_waiting is None and self.high_wait_minutes is None:
            raise ValueError("a tidal rule needs a high mark on waiting or on wait minutes")
        if self.high_waiting is not None:
            low = self.low_waiting if self.low_waiting is not None else 0
            if not 0 <= low < self.high_waiting:
                raise ValueError("low_waiting must be below high_waiting")
        if self.high_wait_minutes is not None:
            low_m = self.low_wait_minutes if self.low_wait_minutes is not None else 0.0
            if not 0 <= low_m < self.high_wait_minutes:
                raise ValueError("low_wait_minutes must be below high_wait_minutes")
        if self.hold_minutes < 0:
            raise ValueError("hold_minutes must not be negative")


@dataclass(frozen=True)
class TidalState:
    """Whether the service has a tidal window now, and since when it has been calm."""

    active: bool = False
    calm_since: datetime | None = None


@dataclass(frozen=True)
class TidalDecision:
    state: TidalState
    action: TidalAction | None
    reason: str


def _fmt(minutes: float | None) -> str:
    return "unknown" if minutes is None else f"{minutes:.0f} min"


def above_high(rule: TidalRule, waiting: int, wait_minutes: float | None) -> str | None:
    """Why the service is above a high mark, or None."""
    if rule.high_waiting is not None and waiting >= rule.high_waiting:
        return f"{waiting} waiting >= high mark {rule.high_waiting}"
    if (
        rule.high_wait_minutes is not None
        and wait_minutes is not None
        and wait_minutes >= rule.high_wait_minutes
    ):
        return f"estimated wait {_fmt(wait_minutes)} >= high mark {rule.high_wait_minutes:g} min"
    return None


def below_low(rule: TidalRule, waiting: int, wait_minutes: float | None) -> bool:
    """At or below every low mark the rule uses (a missing low mark means 0 / none waiting)."""
    if rule.high_waiting is not None and waiting > (rule.low_waiting or 0):
        return False
    if rule.high_wait_minutes is not None:
        low = rule.low_wait_minutes or 0.0
        if wait_minutes is not None and wait_minutes > low:
            return False
    return True


def decide(
    rule: TidalRule,
    state: TidalState,
    *,
    waiting: int,
    wait_minutes: float | None,
    now: datetime,
) -> TidalDecision:
    """The next state for one service, with the action to take (if any) and why."""
    if not state.active:
        why = above_high(rule, waiting, wait_minutes)
        if why is not None:
            return TidalDecision(TidalState(active=True), TidalAction.OPEN, why)
        return TidalDecision(state, None, "below the high marks")
    if not below_low(rule, waiting, wait_minutes):
        return TidalDecision(TidalState(active=True), None, "above a low mark")
    calm_since = state.calm_since or now
    hold = timedelta(minutes=rule.hold_minutes)
    if now - calm_since >= hold:
        why = (
            f"{waiting} waiting, estimated wait {_fmt(wait_minutes)}: at or below the low marks "
            f"for {rule.hold_minutes:g} min"
        )
        return TidalDecision(TidalState(active=False), TidalAction.CLOSE, why)
    return TidalDecision(TidalState(active=True, calm_since=calm_since), None, "calm, holding")
