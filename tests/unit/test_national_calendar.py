"""The national calendar in the opening hours (法定节假日, 调休), with real 2026 dates, and
the settings' rules said in Chinese for the settings page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.engine.core.errors import HallConfigInvalid
from services.engine.halls.national import national_calendar
from services.engine.halls.opening_hours import Session
from services.engine.halls.settings import HoursSpec, service_schedule
from services.engine.setup.hall_file import HallFile, hall_file_from_dict
from services.engine.setup.problems import problems_zh

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = {"weekly": {"mon-fri": ["08:30-12:00", "14:00-17:30"]}}
MORNING, AFTERNOON = Session(510, 720), Session(840, 1050)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def hall(**raw: Any) -> HoursSpec:
    return HoursSpec.model_validate({**WEEKDAYS, **raw})


def test_the_package_knows_2026() -> None:
    national = national_calendar()
    assert national.knows(2026)
    assert national.holiday(date(2026, 10, 1)) == "国庆节"
    assert national.holiday(date(2026, 2, 17)) == "春节"
    assert national.makeup_workday(date(2026, 10, 10)) == "国庆节"  # 调休 Saturday
    assert national.makeup_workday(date(2026, 2, 14)) == "春节"
    assert national.holiday(date(2026, 10, 8)) is None
    days = national.days_of(2026)
    assert [d.day for d in days] == sorted(d.day for d in days)
    assert any(d.day == date(2026, 9, 20) and d.working for d in days)  # a 调休 Sunday


def test_national_day_closes_a_hall_that_follows_the_calendar() -> None:
    schedule = hall().schedule()
    # Thursday 1 October to Wednesday 7 October 2026: closed; Thursday 8th open again.
    for day in range(1, 8):
        assert schedule.sessions_on(date(2026, 10, day)) == (), day
    assert not schedule.is_open(at(date(2026, 10, 5), 9))  # a Monday
    assert schedule.is_open(at(date(2026, 10, 8), 9))
    assert schedule.next_opening(
        at(
            date(
                2026,
                9,
                30,
            ),
            18,
        )
    ) == at(date(2026, 10, 8), 8, 30)


def test_spring_festival_is_closed_and_its_tiaoxiu_saturdays_are_worked() -> None:
    schedule = hall().schedule()
    # 15-23 February 2026 off (Monday 16th to Monday 23rd are weekdays).
    assert all(not schedule.sessions_on(date(2026, 2, d)) for d in range(15, 24))
    assert schedule.sessions_on(date(2026, 2, 24)) == (MORNING, AFTERNOON)
    # Saturdays 14 and 28 February are worked, with Monday's hours.
    assert schedule.sessions_on(date(2026, 2, 14)) == (MORNING, AFTERNOON)
    assert schedule.is_open(at(date(2026, 2, 28), 15))
    # An ordinary Saturday stays closed.
    assert schedule.sessions_on(date(2026, 3, 7)) == ()


def test_a_tiaoxiu_day_keeps_the_hours_of_the_weekday_the_hall_chooses() -> None:
    schedule = hall(
        weekly={"mon-thu": ["08:30-12:00", "14:00-17:30"], "fri": ["08:30-12:00"]},
        makeup_weekday="fri",
    ).schedule()
    assert schedule.sessions_on(date(2026, 10, 10)) == (MORNING,)  # 调休 Saturday as Friday


def test_the_halls_own_dates_come_first() -> None:
    schedule = hall(
        closed_dates=["2026-10-10"],  # the hall does not work the 调休 Saturday
        working_dates={"2026-10-02": "mon"},  # but opens on a holiday Friday
    ).schedule()
    assert schedule.sessions_on(date(2026, 10, 10)) == ()
    assert schedule.sessions_on(date(2026, 10, 2)) == (MORNING, AFTERNOON)
    assert schedule.sessions_on(date(2026, 10, 1)) == ()  # the rest of the holiday stays


def test_a_hall_may_open_on_holidays() -> None:
    """A 24-hour self-service area: national_calendar = false."""
    schedule = HoursSpec.model_validate(
        {"weekly": {"daily": ["00:00-24:00"]}, "national_calendar": False}
    ).schedule()
    assert schedule.is_open(at(date(2026, 10, 1), 3))
    assert schedule.is_open(at(date(2026, 2, 17), 12))


def test_a_service_inside_the_hall_follows_the_calendar_too() -> None:
    schedule = service_schedule(hall(), {"mon-fri": ["08:30-12:00"]})
    assert schedule.sessions_on(date(2026, 10, 1)) == ()
    assert schedule.sessions_on(date(2026, 10, 10)) == (MORNING,)  # 调休: Monday's service hours


def test_a_year_the_package_does_not_know_is_not_guessed() -> None:
    national = national_calendar()
    unknown = national.last_year + 1
    assert not national.knows(unknown)
    assert national.days_of(unknown) == []
    assert national.unknown_years([national.last_year, unknown]) == [unknown]
    schedule = hall().schedule()
    new_year = date(unknown, 1, 1)
    # No holiday is invented: the weekly hours decide (a weekday is open).
    expected = (MORNING, AFTERNOON) if new_year.weekday() < 5 else ()
    assert schedule.sessions_on(new_year) == expected
    # The hall types it itself until the package knows the year.
    assert hall(closed_dates=[new_year.isoformat()]).schedule().sessions_on(new_year) == ()


# --- the same rules, in English for the file and in Chinese for the page -------------

BASE: dict[str, Any] = {
    "hall": {"code": "h", "name": "大厅", "hours": WEEKDAYS},
    "services": [
        {"code": "a", "name": "企业开办", "prefix": "A"},
        {"code": "b", "name": "不动产登记", "prefix": "B"},
    ],
}


def refused(raw: dict[str, Any]) -> tuple[str, list[str]]:
    with pytest.raises(HallConfigInvalid) as english:
        hall_file_from_dict(raw)
    with pytest.raises(ValidationError) as err:
        HallFile.model_validate(raw)
    return english.value.detail, [p.message for p in problems_zh(err.value, raw)]


def with_service(index: int, **values: Any) -> dict[str, Any]:
    services = [dict(s) for s in BASE["services"]]
    services[index].update(values)
    return {**BASE, "services": services}


def test_a_prefix_clash() -> None:
    english, chinese = refused(with_service(1, prefix="A"))
    assert "ticket prefixes must be unique" in english
    assert chinese == ["取号前缀 A 已被其他业务使用：同一大厅内每个业务的前缀必须不同"]


def test_a_closing_time_before_the_opening_time() -> None:
    raw = {**BASE, "hall": {**BASE["hall"], "hours": {"weekly": {"mon": ["17:30-08:30"]}}}}
    english, chinese = refused(raw)
    assert "must satisfy 00:00 <= start < end" in english
    assert chinese == [
        "办公时间：时段 17:30-08:30 不正确：结束时间须晚于开始时间（00:00 至 24:00 之间）"
    ]


def test_a_bound_names_the_service_and_the_field() -> None:
    _, chinese = refused(with_service(1, daily_quota=-5, target_wait_minutes=0))
    assert chinese == [
        "业务“不动产登记” 每日限号：不能小于 0",
        "业务“不动产登记” 目标等候时间（分钟）：不能小于 1",
    ]


def test_overlapping_period_quotas() -> None:
    quotas = [{"hours": "08:30-10:00", "limit": 5}, {"hours": "09:30-11:00", "limit": 5}]
    _, chinese = refused(with_service(0, period_quotas=quotas))
    assert chinese == ["业务“企业开办”：分时段限号的时段 08:30-10:00 与 09:30-11:00 重叠"]
