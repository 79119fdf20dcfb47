"""Opening hours and the calendar: sessions, extra markets, holidays, 调休, next opening."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.engine.halls.opening_hours import (
    Schedule,
    Session,
    expand_weekdays,
    intersect,
    parse_sessions,
    weekday_index,
    weekly_from_mapping,
)
from services.engine.halls.settings import HoursSpec, service_schedule
from services.engine.setup.hall_file import parse_hall_file

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
TOWN_CENTRE = ROOT / "deploy" / "halls" / "town-centre.toml"


def at(day: str, hhmm: str, second: int = 0) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=TZ).replace(
        hour=hour, minute=minute, second=second
    )


def hours(**raw: object) -> Schedule:
    """A hall's own calendar only (the national one: tests/unit/test_national_calendar.py)."""
    return HoursSpec.model_validate({"national_calendar": False, **raw}).schedule()


# A hall with a lunch break, a Wednesday night market, a Saturday morning
# market, National Day closed and a 调休 working Sunday. 2026-10-07 is a Wednesday.
HALL = hours(
    weekly={"mon-fri": ["08:30-12:00", "14:00-17:30"]},
    extra={"wed": ["19:00-21:00"], "sat": ["09:00-11:00"]},
    closed_dates=["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
    working_dates={"2026-10-11": "mon"},
)


# --- sessions -----------------------------------------------------------------


def test_session_parse_and_text() -> None:
    session = Session.parse("8:30-12:00")
    assert (session.start, session.end) == (510, 720)
    assert str(session) == "08:30-12:00"
    assert str(Session.parse(" 00:00 - 24:00 ")) == "00:00-24:00"


def test_session_may_end_at_midnight() -> None:
    late = Session.parse("20:00-24:00")
    assert late.end == 24 * 60
    assert late.contains(23 * 60 + 59.99)
    assert not late.contains(24 * 60)


@pytest.mark.parametrize(
    "text",
    [
        "08:30",
        "8-12",
        "08:30-12:60",
        "08:30-25:00",
        "24:00-24:30",
        "12:00-08:30",
        "12:00-12:00",
        "",
    ],
)
def test_session_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="session"):
        Session.parse(text)


def test_sessions_sorted_and_overlaps_refused() -> None:
    assert parse_sessions(["14:00-17:30", "08:30-12:00"]) == (
        Session(510, 720),
        Session(840, 1050),
    )
    # Back to back is fine.
    assert len(parse_sessions(["08:00-12:00", "12:00-13:00"])) == 2
    with pytest.raises(ValueError, match="overlap"):
        parse_sessions(["08:30-12:00", "11:30-13:00"])
    with pytest.raises(ValueError, match="overlap"):
        parse_sessions(["08:30-12:00", "09:00-10:00"])  # one inside the other


def test_overlaps_refused_across_weekday_keys() -> None:
    with pytest.raises(ValueError, match="overlap"):
        weekly_from_mapping({"mon-fri": ["08:30-12:00"], "wed": ["11:00-13:00"]})
    week = weekly_from_mapping({"mon-fri": ["08:30-12:00"], "wed": ["19:00-21:00"]})
    assert week[2] == (Session(510, 720), Session(1140, 1260))
    assert week[3] == (Session(510, 720),)
    assert 5 not in week and 6 not in week


@pytest.mark.parametrize(
    ("key", "days"),
    [
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("daily", [0, 1, 2, 3, 4, 5, 6]),
        ("sat", [5]),
        (" Sun ", [6]),
        ("sat-sun", [5, 6]),
        ("wed-wed", [2]),
    ],
)
def test_expand_weekdays(key: str, days: list[int]) -> None:
    assert expand_weekdays(key) == days


@pytest.mark.parametrize("key", ["fri-mon", "funday", "mon-xyz", ""])
def test_expand_weekdays_refuses(key: str) -> None:
    with pytest.raises(ValueError):
        expand_weekdays(key)


def test_weekday_index() -> None:
    assert [weekday_index(d) for d in ("mon", "Tuesday", "SUN", "thurs", " Wed ")] == [
        0,
        1,
        6,
        3,
        2,
    ]


@pytest.mark.parametrize("typo", ["month", "sunny", "satur-day", "fr", "weds", "tues day"])
def test_weekday_typos_refused(typo: str) -> None:
    # A typo in a hall file must not quietly become a day ("month" is not Monday).
    with pytest.raises(ValueError, match="not a weekday"):
        weekday_index(typo)
    with pytest.raises(ValueError):
        weekly_from_mapping({typo: ["08:00-12:00"]})


def test_intersect() -> None:
    day = (Session.parse("08:30-12:00"), Session.parse("14:00-17:30"))
    own = (Session.parse("10:00-15:00"),)
    assert intersect(day, own) == (Session.parse("10:00-12:00"), Session.parse("14:00-15:00"))
    assert intersect(day, (Session.parse("12:00-14:00"),)) == ()


# --- a working week ------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (at("2026-09-28", "08:29", 59), False),  # Monday, before opening
        (at("2026-09-28", "08:30"), True),
        (at("2026-09-28", "11:59", 59), True),
        (at("2026-09-28", "12:00"), False),  # lunch break (午休)
        (at("2026-09-28", "13:59"), False),
        (at("2026-09-28", "14:00"), True),
        (at("2026-09-28", "17:29"), True),
        (at("2026-09-28", "17:30"), False),
        (at("2026-09-28", "19:30"), False),  # no night market on Monday
        (at("2026-09-30", "19:00"), True),  # Wednesday night market (周三夜市)
        (at("2026-09-30", "20:59"), True),
        (at("2026-09-30", "21:00"), False),
        (at("2026-10-03", "09:00"), True),  # Saturday morning market (周六早市)
        (at("2026-10-03", "10:59"), True),
        (at("2026-10-03", "11:00"), False),
        (at("2026-10-03", "14:30"), False),  # Saturday afternoon: closed
        (at("2026-10-04", "10:00"), False),  # Sunday
    ],
)
def test_is_open_weekdays_lunch_and_markets(when: datetime, open_: bool) -> None:
    assert HALL.is_open(when) is open_


def test_holidays_close_even_extra_sessions() -> None:
    # 2026-10-01 Thursday: National Day.
    assert HALL.sessions_on(date(2026, 10, 1)) == ()
    assert not HALL.is_open(at("2026-10-01", "09:00"))
    # 2026-10-07 Wednesday is a holiday: no night market either.
    assert HALL.sessions_on(date(2026, 10, 7)) == ()
    assert not HALL.is_open(at("2026-10-07", "19:30"))


def test_tiaoxiu_working_sunday_keeps_mondays_hours() -> None:
    assert HALL.sessions_on(date(2026, 10, 11)) == (Session(510, 720), Session(840, 1050))
    assert HALL.is_open(at("2026-10-11", "09:00"))
    assert not HALL.is_open(at("2026-10-11", "12:30"))
    # The Sunday after is an ordinary Sunday.
    assert HALL.sessions_on(date(2026, 10, 18)) == ()


def test_tiaoxiu_as_wednesday_keeps_only_the_weekly_hours() -> None:
    schedule = hours(
        weekly={"mon-fri": ["08:30-12:00"]},
        extra={"wed": ["19:00-21:00"]},
        working_dates={"2026-10-10": "wed"},
    )
    assert schedule.sessions_on(date(2026, 10, 10)) == (Session(510, 720),)


def test_extra_session_merges_with_touching_weekly_session() -> None:
    schedule = hours(weekly={"wed": ["14:00-17:30"]}, extra={"wed": ["17:30-21:00"]})
    assert schedule.sessions_on(date(2026, 9, 30)) == (Session(840, 1260),)
    assert schedule.is_open(at("2026-09-30", "17:30"))


def test_continuous_service_over_lunch() -> None:
    schedule = hours(weekly={"mon-fri": ["08:30-17:30"]})  # 午间不断档
    for hhmm in ("08:30", "12:00", "12:30", "13:59", "17:29"):
        assert schedule.is_open(at("2026-09-28", hhmm)), hhmm
    assert schedule.next_opening(at("2026-09-28", "12:15")) == at("2026-09-28", "12:15")


def test_session_ending_at_midnight_then_next_day() -> None:
    schedule = hours(weekly={"daily": ["00:00-24:00"]})
    assert schedule.is_open(at("2026-09-28", "23:59", 59))
    assert schedule.is_open(at("2026-09-29", "00:00"))
    evening = hours(weekly={"mon": ["20:00-24:00"], "tue": ["00:00-02:00"]})
    assert evening.is_open(at("2026-09-28", "23:59", 59))
    assert not evening.is_open(at("2026-09-29", "02:00"))
    assert evening.next_opening(at("2026-09-28", "19:00")) == at("2026-09-28", "20:00")


# --- next opening --------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # Open now: opens "now".
        (at("2026-09-28", "09:15"), at("2026-09-28", "09:15")),
        # Early morning: today's first session.
        (at("2026-09-28", "06:00"), at("2026-09-28", "08:30")),
        # Lunch break: the afternoon session.
        (at("2026-09-28", "12:00"), at("2026-09-28", "14:00")),
        (at("2026-09-28", "13:59", 59), at("2026-09-28", "14:00")),
        # Monday evening: Tuesday morning.
        (at("2026-09-28", "17:30"), at("2026-09-29", "08:30")),
        # Tuesday evening: Wednesday morning, not the Wednesday night market.
        (at("2026-09-29", "22:00"), at("2026-09-30", "08:30")),
        # Wednesday after work: the night market the same day.
        (at("2026-09-30", "18:00"), at("2026-09-30", "19:00")),
        # After the night market: Thursday and Friday are holidays -> Saturday market.
        (at("2026-09-30", "21:00"), at("2026-10-03", "09:00")),
        # After the Saturday market: Sunday, then Mon-Wed holidays -> Thursday 10-08.
        (at("2026-10-03", "11:00"), at("2026-10-08", "08:30")),
        # Friday evening: Saturday morning market.
        (at("2026-10-09", "18:00"), at("2026-10-10", "09:00")),
        # Saturday after the market: the 调休 working Sunday.
        (at("2026-10-10", "12:00"), at("2026-10-11", "08:30")),
        # A plain weekend: Saturday afternoon -> Monday morning.
        (at("2026-10-17", "12:00"), at("2026-10-19", "08:30")),
    ],
)
def test_next_opening(now: datetime, opens: datetime) -> None:
    assert HALL.next_opening(now) == opens


def test_next_opening_none_when_never_open() -> None:
    assert Schedule().next_opening(at("2026-09-28", "09:00")) is None
    # Open only beyond the horizon.
    schedule = hours(weekly={"mon": ["08:00-09:00"]}, closed_dates=["2026-10-05"])
    assert schedule.next_opening(at("2026-09-29", "09:00"), horizon_days=5) is None
    assert schedule.next_opening(at("2026-09-29", "09:00"), horizon_days=14) == at(
        "2026-10-12", "08:00"
    )


def test_session_at() -> None:
    assert HALL.session_at(at("2026-09-28", "15:00")) == Session(840, 1050)
    assert HALL.session_at(at("2026-09-28", "12:30")) is None


# --- a service's own hours inside the hall's --------------------------------------


def test_service_hours_restricted_to_hall_hours() -> None:
    spec = HoursSpec.model_validate(
        {
            "weekly": {"mon-fri": ["08:30-12:00", "14:00-17:30"]},
            "extra": {"wed": ["19:00-21:00"], "sat": ["09:00-11:00"]},
            "working_dates": {"2026-10-11": "mon"},
            "national_calendar": False,
        }
    )
    # Declared wider than the hall: 07:00-13:00 weekdays and all Saturday.
    schedule = service_schedule(spec, {"mon-fri": ["07:00-13:00"], "sat": ["08:00-18:00"]})
    assert schedule.sessions_on(date(2026, 9, 28)) == (Session(510, 720),)
    assert not schedule.is_open(at("2026-09-28", "07:30"))  # hall not open yet
    assert not schedule.is_open(at("2026-09-28", "14:30"))  # service not offered
    assert not schedule.is_open(at("2026-09-30", "19:30"))  # night market, not this service
    assert schedule.sessions_on(date(2026, 10, 3)) == (Session(540, 660),)  # hall's 09-11
    # The 调休 Sunday follows Monday's hours for the service too.
    assert schedule.sessions_on(date(2026, 10, 11)) == (Session(510, 720),)
    assert schedule.next_opening(at("2026-09-28", "12:00")) == at("2026-09-29", "08:30")


def test_service_without_own_hours_keeps_hall_hours() -> None:
    spec = HoursSpec.model_validate({"weekly": {"mon-fri": ["08:30-12:00"]}})
    assert service_schedule(spec, None).sessions_on(date(2026, 9, 28)) == (Session(510, 720),)
    # An empty mapping is "never": the service has no hours at all.
    assert service_schedule(spec, {}).sessions_on(date(2026, 9, 28)) == ()


def test_service_hours_only_at_the_night_market() -> None:
    spec = HoursSpec.model_validate(
        {"weekly": {"mon-fri": ["08:30-17:30"]}, "extra": {"wed": ["19:00-21:00"]}}
    )
    night = service_schedule(spec, {"wed": ["18:00-21:00"]})
    assert night.sessions_on(date(2026, 9, 30)) == (Session(1140, 1260),)
    assert night.sessions_on(date(2026, 9, 29)) == ()


# --- the town centre's real file ------------------------------------------------


def test_town_centre_file() -> None:
    spec = parse_hall_file(TOWN_CENTRE.read_text(encoding="utf-8"))
    hall = spec.hall.hours.schedule()
    assert hall.is_open(at("2026-09-28", "09:00"))
    assert not hall.is_open(at("2026-09-28", "12:30"))
    assert hall.is_open(at("2026-09-30", "20:00"))
    assert hall.is_open(at("2026-10-10", "10:00"))  # Saturday morning market
    assert not hall.is_open(at("2026-10-01", "10:00"))  # National Day
    assert not hall.is_open(at("2027-01-01", "10:00"))  # New Year's Day, a Friday
    assert hall.is_open(at("2026-10-11", "15:00"))  # 调休 Sunday
    services = {s.code: s for s in spec.services}
    civil = service_schedule(spec.hall.hours, services["civil"].hours)
    assert civil.is_open(at("2026-09-28", "09:00"))
    assert not civil.is_open(at("2026-09-28", "15:00"))  # mornings only
    assert not civil.is_open(at("2026-09-30", "20:00"))  # not at the night market
    # Saturday 10-10 is a national 调休 working day: Monday's hours, so civil too.
    assert civil.is_open(at("2026-10-10", "10:00"))
    assert civil.next_opening(at("2026-09-30", "12:00")) == at("2026-10-08", "08:30")
    social = service_schedule(spec.hall.hours, services["social"].hours)
    assert social.is_open(at("2026-09-30", "20:00"))
    quotas = [q.quota() for q in services["social"].period_quotas]
    assert [(str(q.session), q.limit) for q in quotas] == [("08:30-12:00", 70), ("14:00-17:30", 50)]
