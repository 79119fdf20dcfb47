"""The national calendar (法定节假日与调休): public holidays and 调休 working days. Pure.

The State Council publishes each year's arrangement late in the year before; the
maintained ``chinese-calendar`` package carries it (a data table, no I/O). A hall
follows it unless its hours say ``national_calendar = false`` (e.g. a 24-hour
self-service area); the hall's own closed and working dates come first.

A year the installed package does not know is *not* guessed: the national calendar
then adds nothing (the hall's weekly hours and its own dates decide), and
:meth:`NationalCalendar.unknown_years` lets the settings page, the API and
``jiaohao doctor`` say so, until the package is updated (or the hall types the
year's holidays as its own closed dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import chinese_calendar

# The package's English names, in the hall's words.
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class NationalDay:
    """A date the national calendar names: a holiday off, or a 调休 weekend day worked."""

    day: date
    holiday: str  # the holiday it belongs to, in Chinese
    working: bool  # True: a 调休 working day (上班); False: a day off (放假)


@dataclass(frozen=True, eq=False)
class NationalCalendar:
    """Holidays and 调休 working days by date, and the years they cover."""

    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    first_year: int
    last_year: int

    def knows(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def holiday(self, day: date) -> str | None:
        """The holiday's Chinese name when ``day`` is a public holiday off (放假)."""
        name = self.holidays.get(day)
        return None if name is None else HOLIDAY_NAMES_ZH.get(name, name)

    def makeup_workday(self, day: date) -> str | None:
        """The holiday's Chinese name when ``day`` is a weekend day worked (调休上班)."""
        name = self.workdays.get(day)
        if name is None or day.weekday() < 5:
            return None
        return HOLIDAY_NAMES_ZH.get(name, name)

    def days_of(self, year: int) -> list[NationalDay]:
        """The year's holidays and 调休 working days, in date order (empty if unknown)."""
        out = [
            NationalDay(d, HOLIDAY_NAMES_ZH.get(n, n), False)
            for d, n in self.holidays.items()
            if d.year == year
        ]
        out += [
            NationalDay(d, HOLIDAY_NAMES_ZH.get(n, n), True)
            for d, n in self.workdays.items()
            if d.year == year and d.weekday() >= 5
        ]
        return sorted(out, key=lambda x: x.day)

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """Of ``years``, those the installed package does not cover."""
        return sorted({y for y in years if not self.knows(y)})


@lru_cache(maxsize=1)
def national_calendar() -> NationalCalendar:
    """The calendar of the installed ``chinese-calendar`` package (read once)."""
    holidays = {d: str(n) for d, n in chinese_calendar.holidays.items()}
    workdays = {d: str(n) for d, n in chinese_calendar.workdays.items()}
    years = {d.year for d in holidays} | {d.year for d in workdays}
    return NationalCalendar(holidays, workdays, min(years), max(years))
