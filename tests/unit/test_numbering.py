"""Ticket numbering: business dates in the hall's timezone, number formats, quotas."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.engine.halls.opening_hours import Session
from services.engine.halls.settings import PeriodQuota, quota_period_at
from services.engine.tickets.numbering import (
    business_date,
    daily_quota_left,
    format_number,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def server_in_los_angeles() -> Iterator[None]:
    """Run with the server's own clock in another timezone than the hall's."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_midnight_splits_business_days_in_hall_time_whatever_the_server_tz(
    server_in_los_angeles: None,
) -> None:
    # The server really is in Los Angeles now: its local date differs from Shanghai's.
    assert time.localtime(0).tm_hour == 16  # 1970-01-01 00:00 UTC is 16:00 the day before in LA
    late = datetime(2026, 3, 9, 23, 59, tzinfo=SHANGHAI)
    early = datetime(2026, 3, 10, 0, 1, tzinfo=SHANGHAI)
    # As the engine sees them: instants in UTC.
    late_utc, early_utc = late.astimezone(UTC), early.astimezone(UTC)
    assert business_date(late_utc, "Asia/Shanghai") == date(2026, 3, 9)
    assert business_date(early_utc, "Asia/Shanghai") == date(2026, 3, 10)
    # In the server's own zone both instants fall on 2026-03-09 (LA morning):
    # the business date must not follow the server's clock.
    assert late_utc.astimezone().date() == early_utc.astimezone().date() == date(2026, 3, 9)


def test_business_date_follows_each_halls_own_zone() -> None:
    instant = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    assert business_date(instant, "Asia/Shanghai") == date(2026, 3, 10)  # 07:30 next day
    assert business_date(instant, "Asia/Urumqi") == date(2026, 3, 10)  # 05:30 next day
    assert business_date(instant, "Europe/London") == date(2026, 3, 9)
    # Any aware representation of the same instant gives the same day.
    assert business_date(instant.astimezone(ZoneInfo("Pacific/Honolulu")), "Asia/Shanghai") == (
        date(2026, 3, 10)
    )


def test_business_date_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        business_date(datetime(2026, 3, 9, 12, 0), "Asia/Shanghai")


def test_consecutive_minutes_across_midnight() -> None:
    start = datetime(2026, 12, 31, 23, 58, tzinfo=SHANGHAI)
    days = [business_date(start + timedelta(minutes=m), "Asia/Shanghai") for m in range(4)]
    assert days == [date(2026, 12, 31), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 1)]


@pytest.mark.parametrize(
    ("prefix", "sequence", "width", "expected"),
    [
        ("A", 1, 3, "A001"),
        ("A", 23, 3, "A023"),
        ("B", 999, 3, "B999"),
        ("B", 1000, 3, "B1000"),  # past the width: every digit kept, never wrapped to B000
        ("C", 12345, 3, "C12345"),
        ("D", 7, 1, "D7"),
        ("D", 10, 1, "D10"),
        ("E", 42, 4, "E0042"),
        ("AB", 5, 2, "AB05"),
    ],
)
def test_format_number(prefix: str, sequence: int, width: int, expected: str) -> None:
    assert format_number(prefix, sequence, width) == expected


def test_format_number_default_width_is_three() -> None:
    assert format_number("A", 5) == "A005"


@pytest.mark.parametrize("sequence", [0, -1])
def test_format_number_refuses_sequences_below_one(sequence: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_number("A", sequence)


def test_numbers_sort_distinct_across_overflow() -> None:
    numbers = [format_number("A", n) for n in range(1, 1200)]
    assert len(set(numbers)) == len(numbers)


MORNING = PeriodQuota(Session.parse("08:30-12:00"), 70)
AFTERNOON = PeriodQuota(Session.parse("14:00-17:30"), 50)


@pytest.mark.parametrize(
    ("hhmmss", "expected"),
    [
        ((8, 29, 59), None),
        ((8, 30, 0), MORNING),
        ((11, 59, 59), MORNING),
        ((12, 0, 0), None),  # a period ends before its end minute
        ((13, 0, 0), None),  # lunch: no period quota in force
        ((14, 0, 0), AFTERNOON),
        ((17, 29, 30), AFTERNOON),
        ((17, 30, 0), None),
    ],
)
def test_period_quota_in_force(hhmmss: tuple[int, int, int], expected: PeriodQuota | None) -> None:
    local = datetime(2026, 3, 10, *hhmmss, tzinfo=SHANGHAI)
    assert quota_period_at([AFTERNOON, MORNING], local) == expected


def test_no_period_quotas() -> None:
    assert quota_period_at([], datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)) is None


@pytest.mark.parametrize(
    ("limit", "issued", "left"),
    [(None, 0, None), (None, 10_000, None), (3, 0, 3), (3, 2, 1), (3, 3, 0), (3, 7, 0), (0, 0, 0)],
)
def test_daily_quota_left(limit: int | None, issued: int, left: int | None) -> None:
    assert daily_quota_left(limit, issued) == left
