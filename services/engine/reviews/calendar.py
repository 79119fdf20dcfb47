"""Working days for the bad-review deadlines (工作日). Pure: no FastAPI, no database.

A day is a working day when the national calendar says so (public holidays off, 调休
weekend days worked; from the maintained ``chinese-calendar`` package), unless the
hall's own calendar overrides it: its closed dates are never working days, its extra
working dates always are.

A year the installed package does not cover yet (the State Council publishes the next
year's arrangement late in the year, and the package follows) counts Monday to Friday
as working days, with the hall's own closed and working dates on top: a bad review given
in late December must still get its deadline (refusing it would lose the citizen's
rating). :func:`provisional` tells such a deadline apart; updating the package, or
listing the year's holidays as the hall's closed dates, makes it exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar

# Far more than any deadline (15 working days) can span, even across Spring Festival.
_SEARCH_LIMIT = 400


def _national_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Not published yet: Monday to Friday (see the module's docstring).
        return day.weekday() < 5


def provisional(start: date, due: date) -> bool:
    """Whether a deadline from ``start`` to ``due`` crosses a year the national calendar
    does not know yet (its working days were counted Monday to Friday)."""
    _, last = national_years()
    return due.year > last or start.year > last


def national_years() -> tuple[int, int]:
    """The first and last year the installed package knows."""
    years = sorted(
        {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    )
    return years[0], years[-1]


@dataclass(frozen=True)
class WorkCalendar:
    """The national calendar with the hall's own closed and extra working dates."""

    closed: frozenset[date] = field(default_factory=frozenset)
    extra: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, closed: Iterable[date] = (), extra: Iterable[date] = ()) -> WorkCalendar:
        return cls(frozenset(closed), frozenset(extra))

    def is_working_day(self, day: date) -> bool:
        if day in self.closed:
            return False
        if day in self.extra:
            return True
        return _national_workday(day)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is day 0).

        A bad review given at 17:05 on 2026-09-30 with 10 working days to rectify is
        due on 2026-10-20: 1-7 October are off, Saturday 10 October is worked (调休).
        ``days`` = 0 is ``start`` itself.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        counted = 0
        for _ in range(_SEARCH_LIMIT):
            if counted == days:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        raise ValueError(f"no {days} working days within {_SEARCH_LIMIT} days of {start}")

    def working_days_left(self, today: date, due: date) -> int:
        """Working days after ``today`` up to and including ``due``; negative once past.

        0 means due today (or the due day is not a working day and nothing is left);
        -n means ``n`` working days late.
        """
        if due >= today:
            return sum(
                1
                for i in range(1, (due - today).days + 1)
                if self.is_working_day(today + timedelta(days=i))
            )
        return -sum(
            1
            for i in range(0, (today - due).days)
            if self.is_working_day(today - timedelta(days=i))
        )
