"""Opening hours (办公时间): weekly sessions, extra sessions and the calendar.

Pure rules: local wall-clock times in the hall's timezone, no I/O.
Times are kept as minutes since midnight so that a session may end at 24:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from services.engine.halls.national import NationalCalendar

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class SettingError(ValueError):
    """A refused setting: the English message for the hall file's reader (``str``), the
    same rule in Chinese (``zh``) for the settings page."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


@dataclass(frozen=True, order=True)
class Session:
    """One opening session on a day, e.g. 08:30-12:00, in minutes since midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= 24 * 60):
            raise SettingError(
                f"session {self} must satisfy 00:00 <= start < end <= 24:00",
                f"时段 {self} 不正确：结束时间须晚于开始时间（00:00 至 24:00 之间）",
            )

    @classmethod
    def parse(cls, text: str) -> Session:
        """Parse ``"08:30-12:00"``."""
        match = _SPAN.match(text)
        if not match:
            raise SettingError(
                f"session {text!r} is not of the form HH:MM-HH:MM",
                f"时段“{text}”格式不正确，应为 HH:MM-HH:MM（如 08:30-12:00）",
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 > 59 or m2 > 59 or h1 > 24 or h2 > 24:
            raise SettingError(
                f"session {text!r} has an impossible time", f"时段“{text}”中有不存在的时间"
            )
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def contains(self, minute: float) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_sessions(texts: Iterable[str]) -> tuple[Session, ...]:
    """Parse and sort a day's sessions, refusing overlaps."""
    sessions = tuple(sorted(Session.parse(t) for t in texts))
    for a, b in pairwise(sessions):
        if b.start < a.end:
            raise SettingError(f"sessions {a} and {b} overlap", f"时段 {a} 与 {b} 重叠")
    return sessions


def intersect(a: tuple[Session, ...], b: tuple[Session, ...]) -> tuple[Session, ...]:
    """The parts of the day covered by both lists of sessions."""
    out: list[Session] = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(Session(start, end))
    return tuple(sorted(out))


def _merge(sessions: Iterable[Session]) -> tuple[Session, ...]:
    merged: list[Session] = []
    for s in sorted(sessions):
        if merged and s.start <= merged[-1].end:
            last = merged.pop()
            merged.append(Session(last.start, max(last.end, s.end)))
        else:
            merged.append(s)
    return tuple(merged)


@dataclass(frozen=True)
class Schedule:
    """A hall's opening hours: per weekday sessions plus its calendar.

    ``weekly`` and ``extra`` are keyed by weekday (0 = Monday). ``working_dates``
    maps a 调休 date (a weekend day worked) to the weekday whose sessions apply.
    ``national`` is the national calendar the hall follows (None: it does not):
    a public holiday is closed, a national 调休 weekend day keeps the sessions of
    ``makeup_weekday``. The hall's own dates come first; a year the national
    calendar does not know adds nothing (``halls.national``).
    """

    weekly: Mapping[int, tuple[Session, ...]] = field(default_factory=dict)
    extra: Mapping[int, tuple[Session, ...]] = field(default_factory=dict)
    closed_dates: frozenset[date] = frozenset()
    working_dates: Mapping[date, int] = field(default_factory=dict)
    national: NationalCalendar | None = None
    makeup_weekday: int = 0

    def sessions_on(self, day: date) -> tuple[Session, ...]:
        """The sessions in force on a given local date."""
        if day in self.closed_dates:
            return ()
        if day in self.working_dates:
            weekday = self.working_dates[day]
            return _merge(self.weekly.get(weekday, ()))
        if self.national is not None:
            if self.national.holiday(day) is not None:
                return ()  # 法定节假日
            if self.national.makeup_workday(day) is not None:
                return _merge(self.weekly.get(self.makeup_weekday, ()))  # 调休上班
        weekday = day.weekday()
        return _merge((*self.weekly.get(weekday, ()), *self.extra.get(weekday, ())))

    def restricted_to(self, weekly: Mapping[int, tuple[Session, ...]]) -> Schedule:
        """This schedule cut down to a service's own hours (业务办理时段)."""

        def cut(sessions: tuple[Session, ...], weekday: int) -> tuple[Session, ...]:
            return intersect(sessions, weekly.get(weekday, ()))

        restricted = {d: cut(self.weekly.get(d, ()), d) for d in range(7)}
        extra = {d: cut(self.extra.get(d, ()), d) for d in range(7)}
        # A 调休 day follows the weekday it stands in for, so the service's
        # hours for that weekday apply.
        return replace(self, weekly=restricted, extra=extra)

    def is_open(self, local: datetime) -> bool:
        """Whether the hall (or service) is open at a local wall-clock time."""
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(s.contains(minute) for s in self.sessions_on(local.date()))

    def next_opening(self, local: datetime, horizon_days: int = 62) -> datetime | None:
        """The next local time at or after ``local`` when it is open, if any soon."""
        minute = local.hour * 60 + local.minute + local.second / 60
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for s in self.sessions_on(day):
                if offset == 0 and s.end <= minute:
                    continue
                if offset == 0 and s.contains(minute):
                    return local
                start = datetime.combine(day, time(0), tzinfo=local.tzinfo)
                return start + timedelta(minutes=s.start)
        return None

    def session_at(self, local: datetime) -> Session | None:
        """The session that holds a local time, if open."""
        minute = local.hour * 60 + local.minute + local.second / 60
        for s in self.sessions_on(local.date()):
            if s.contains(minute):
                return s
        return None


def weekday_index(name: str) -> int:
    """``"mon"`` / ``"Monday"`` -> 0 ... ``"sun"`` -> 6.

    A weekday's name or a start of it ("thurs"); "month" or "sunny" are typos, not days.
    """
    key = name.strip().lower()
    for index, full in enumerate(WEEKDAYS):
        if len(key) >= 3 and full.startswith(key):
            return index
    raise SettingError(
        f"{name!r} is not a weekday (mon..sun)", f"“{name}”不是星期（mon..sun，如 mon-fri）"
    )


def weekly_from_mapping(raw: Mapping[str, Iterable[str]]) -> dict[int, tuple[Session, ...]]:
    """``{"mon": ["08:30-12:00"], "mon-fri": [...], "daily": [...]}`` -> per weekday sessions."""
    out: dict[int, list[Session]] = {}
    for key, spans in raw.items():
        sessions = parse_sessions(spans)
        for day in expand_weekdays(key):
            out.setdefault(day, []).extend(sessions)
    return {day: _check_overlaps(sessions) for day, sessions in out.items()}


def _check_overlaps(sessions: list[Session]) -> tuple[Session, ...]:
    ordered = tuple(sorted(sessions))
    for a, b in pairwise(ordered):
        if b.start < a.end:
            raise SettingError(f"sessions {a} and {b} overlap", f"时段 {a} 与 {b} 重叠")
    return ordered


def expand_weekdays(key: str) -> list[int]:
    """``"mon-fri"`` / ``"daily"`` / ``"sat"`` -> weekday indexes."""
    key = key.strip().lower()
    if key in ("daily", "all", "everyday"):
        return list(range(7))
    if "-" in key:
        first, last = (weekday_index(part) for part in key.split("-", 1))
        if last < first:
            raise SettingError(f"weekday range {key!r} runs backwards", f"星期范围“{key}”前后颠倒")
        return list(range(first, last + 1))
    return [weekday_index(key)]
