"""A station's daily figures (村级服务站上报): what ``jiaohao stats push`` sends and what
the district keeps of it (docs/statistics.md, "Village stations: stats push"). Pure.

A station that runs its own engine sends each closed business day of its hall as the
day's facts (statistics/facts.py) with nothing that names anyone: no ticket ids, no
numbers, no times of day finer than the hour, no clerk (a station's account number
means nothing on the district, and there it would name one of the district's own
accounts), pause reasons only from the common list (a typed reason may name someone).
The district keeps them as the remote hall's facts, so its reports read them as they
read any hall's kept days.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from services.engine.core.errors import Refusal, ValidationFailed
from services.engine.statistics import facts

FORMAT = 1
# A hall-day is one request; these keep it below the engine's 1 MB body limit even with
# the longest values (a village station sees tens to hundreds of visitors a day, a
# district's centre about 600).
MAX_TICKETS = 2500
MAX_WINDOW_LINES = 1000
MAX_SERVICES = 200
# What the station sends at most in one request (the engine's default body limit).
MAX_BODY_BYTES = 1024 * 1024
# Seconds of one wait, one case or one window's time in one day (a day and an hour:
# a clock change).
MAX_SECONDS = 90_000.0
# How late a day may arrive: a report covers at most a year; a day older than this is
# refused (re-sending an old day is a decision for the district, not a retry).
MAX_AGE_DAYS = 400
# Pause reasons the console offers (and a few common ones); any other is sent as 其他.
PAUSE_REASONS = frozenset({"午休", "临时离岗", "系统故障", "设备故障", "会议", "培训", "其他"})
OTHER_REASON = "其他"

PRIORITIES = frozenset({"normal", "appointment", "priority", "green"})
SOURCES = frozenset({"kiosk", "booking", "staff", "api"})
STATUSES = frozenset(
    {
        "waiting",
        "called",
        "serving",
        "done",
        "no_show",
        "cancelled",
        "transferred",
        "held",
        "held_expired",
    }
)
OUTCOMES = frozenset({"done", "accepted", "told_missing", "consulted", "referred"})
RATINGS = range(1, 6)  # 好差评: 1 非常不满意 .. 5 非常满意

# Synthetic fact ids of pushed tickets: negative (a local ticket's id is positive),
# one block per hall and day, so a re-push replaces the same ids.
EPOCH = date(2000, 1, 1)
_INDEX_BITS = 20
_DAY_BITS = 17
_HALL_LIMIT = 1 << (63 - _INDEX_BITS - _DAY_BITS)


class NotAStation(Refusal):
    status = 409
    code = "not_a_station"
    title = "This hall is not a remote station registered under a region here"


class DayNotClosed(Refusal):
    status = 422
    code = "day_not_closed"
    title = "Only a closed business day (before the hall's today) is taken"


class DayTooOld(Refusal):
    status = 422
    code = "day_too_old"
    title = "This day is too old to be sent"


@dataclass(frozen=True)
class PushedService:
    code: str
    name: str
    target_wait_minutes: int
    average_handle_minutes: float


@dataclass(frozen=True)
class PushedTicket:
    """One ticket of the day: when (local day and hour), what, how it went."""

    day: date
    hour: int
    service: str
    window: int | None
    priority: str
    source: str
    status: str
    outcome: str | None
    continuation: bool
    ever_held: bool
    wait_s: float | None
    handling_s: float | None
    rating: int | None


@dataclass(frozen=True)
class PushedWindow:
    """A window's day: open seconds, or paused seconds for one reason."""

    window: int
    kind: str  # open, paused
    reason: str
    seconds: float


@dataclass(frozen=True)
class DayFigures:
    business_date: date
    services: list[PushedService]
    tickets: list[PushedTicket]
    windows: list[PushedWindow]


# --- the station's side ----------------------------------------------------------------


def reason_sent(reason: str) -> str:
    return reason if reason in PAUSE_REASONS else OTHER_REASON


def figures_of(
    business_date: date,
    services: Iterable[PushedService],
    tickets: Iterable[facts.TicketFact],
    windows: Iterable[facts.WindowFact],
) -> DayFigures:
    """The day's figures from the station's kept facts: ids, clerks and typed reasons
    left out; a window's paused time of reasons merged into 其他 added up."""
    pushed = [
        PushedTicket(
            day=f.day,
            hour=f.hour,
            service=f.service,
            window=f.window,
            priority=f.priority,
            source=f.source,
            status=f.status,
            outcome=f.outcome,
            continuation=f.continuation,
            ever_held=f.ever_held,
            wait_s=f.wait_s,
            handling_s=f.handling_s,
            rating=f.rating,
        )
        for f in tickets
    ]
    times: dict[tuple[int, str, str], float] = {}
    for w in windows:
        if w.kind == "signed":  # who was signed in: a clerk, not sent
            continue
        reason = reason_sent(w.reason) if w.kind == "paused" else ""
        key = (w.window, w.kind, reason)
        times[key] = times.get(key, 0.0) + w.seconds
    lines = [PushedWindow(n, kind, reason, s) for (n, kind, reason), s in sorted(times.items())]
    pushed.sort(key=_ticket_order)
    return DayFigures(business_date, sorted(services, key=lambda s: s.code), pushed, lines)


def _ticket_order(t: PushedTicket) -> tuple[Any, ...]:
    return (t.day, t.hour, t.service, t.window or 0, t.status, t.wait_s or 0.0, t.handling_s or 0.0)


def to_json(figures: DayFigures) -> dict[str, Any]:
    """The request's body (dates as ISO strings)."""
    body = asdict(figures)
    body["format"] = FORMAT
    body["business_date"] = figures.business_date.isoformat()
    for t in body["tickets"]:
        t["day"] = t["day"].isoformat()
    return body


# --- the district's side ---------------------------------------------------------------


def check_day(business_date: date, today: date) -> None:
    """A closed day (before the hall's today), not older than ``MAX_AGE_DAYS``."""
    if business_date >= today:
        raise DayNotClosed(
            f"{business_date} is not closed yet (the hall's today is {today}): "
            "only days before today are taken",
            business_date=business_date.isoformat(),
        )
    if (today - business_date).days > MAX_AGE_DAYS:
        raise DayTooOld(
            f"{business_date} is more than {MAX_AGE_DAYS} days old",
            business_date=business_date.isoformat(),
        )


def check_figures(figures: DayFigures, business_date: date) -> None:
    """What the schema cannot see alone: the day matches the path, each ticket's
    service is listed, each ticket's day is its business day's (or the next: a day
    that ends after midnight), no window line twice."""
    if figures.business_date != business_date:
        raise ValidationFailed(
            f"the figures are for {figures.business_date}, the path says {business_date}"
        )
    codes = [s.code for s in figures.services]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("a service is listed twice")
    listed = set(codes)
    for i, t in enumerate(figures.tickets):
        if t.service not in listed:
            raise ValidationFailed(f"tickets[{i}]: service {t.service!r} is not listed")
        if not business_date - timedelta(days=1) <= t.day <= business_date + timedelta(days=1):
            raise ValidationFailed(f"tickets[{i}]: day {t.day} is not near {business_date}")
        if t.status != "done" and t.handling_s is not None:
            raise ValidationFailed(f"tickets[{i}]: only a finished case has a handling time")
    seen: set[tuple[int, str, str]] = set()
    for i, w in enumerate(figures.windows):
        key = (w.window, w.kind, w.reason)
        if key in seen:
            raise ValidationFailed(f"windows[{i}]: window {w.window} {w.kind} is listed twice")
        if w.kind == "open" and w.reason:
            raise ValidationFailed(f"windows[{i}]: open time has no reason")
        if w.kind == "paused" and w.reason not in PAUSE_REASONS:
            raise ValidationFailed(f"windows[{i}]: a pause's reason is one of the common ones")
        seen.add(key)


def encoded(figures: DayFigures) -> bytes:
    """The request's body as sent: compact JSON, UTF-8."""
    return json.dumps(
        to_json(figures), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest(figures: DayFigures) -> str:
    """The same figures give the same digest (a re-push of an unchanged day writes nothing)."""
    text = json.dumps(to_json(figures), sort_keys=True, ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def fact_id(hall_id: int, business_date: date, index: int) -> int:
    """The synthetic (negative) fact id of the day's ``index``-th pushed ticket."""
    day = (business_date - EPOCH).days
    if not (0 < hall_id < _HALL_LIMIT and 0 <= day < 1 << _DAY_BITS and 0 <= index < MAX_TICKETS):
        raise ValidationFailed("the day or the hall is out of the figures' range")
    return -((hall_id << (_INDEX_BITS + _DAY_BITS)) | (day << _INDEX_BITS) | index) - 1


def stored_facts(
    hall_id: int, figures: DayFigures
) -> tuple[list[facts.TicketFact], list[facts.WindowFact]]:
    """The facts the district keeps for the remote hall's day (no clerk: staff None)."""
    tickets = [
        facts.TicketFact(
            ticket_id=fact_id(hall_id, figures.business_date, i),
            business_date=figures.business_date,
            day=t.day,
            hour=t.hour,
            weekday=t.day.weekday(),
            week=t.day - timedelta(days=t.day.weekday()),
            month=t.day.year * 100 + t.day.month,
            service=t.service,
            window=t.window,
            staff=None,
            priority=t.priority,
            source=t.source,
            status=t.status,
            outcome=t.outcome,
            continuation=t.continuation,
            ever_held=t.ever_held,
            wait_s=t.wait_s,
            wait_b=facts.bucket(t.wait_s),
            handling_s=t.handling_s,
            handling_b=facts.bucket(t.handling_s),
            rating=t.rating,
        )
        for i, t in enumerate(figures.tickets)
    ]
    windows = [
        facts.WindowFact(figures.business_date, w.window, w.kind, w.reason, None, w.seconds)
        for w in figures.windows
    ]
    return tickets, windows


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def closed_days(days: Sequence[date], today: date) -> list[date]:
    """The days a station may send: before its today, newest ``MAX_AGE_DAYS`` only."""
    return [d for d in days if d < today and (today - d).days <= MAX_AGE_DAYS]
