"""The history -> simulator conversion of the advice check (statistics/advice_check.py),
on hand-built histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.engine.statistics import advice_check, reports
from services.engine.statistics.reports import TicketRow

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 2)


def row(
    n: int,
    service: str,
    day: date,
    hh: int,
    mm: int,
    *,
    wait: float = 60,
    handle: float | None = 600,
    status: str = "done",
    priority: str = "normal",
) -> TicketRow:
    issued = datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ).astimezone(UTC)
    called = issued + timedelta(seconds=wait)
    finished = called + timedelta(seconds=handle) if handle is not None else None
    closed = finished if status == "done" else called + timedelta(seconds=90)
    return TicketRow(
        id=n,
        service=service,
        window=1,
        staff=None,
        priority=priority,
        source="kiosk",
        status=status,
        issued_at=issued,
        served_call_at=called,
        called_at=called,
        started_at=None,
        finished_at=finished if status == "done" else None,
        closed_at=closed,
        held_seconds=0.0,
        outcome=None,
        transferred_from=None,
        ever_held=False,
        target_seconds=1200.0,
    )


SETUP = advice_check.HallSetup(
    services=[
        advice_check.ServiceSetup("business", "企业开办", 1200.0, 600.0),
        advice_check.ServiceSetup("estate", "不动产登记", 1200.0, 900.0),
        advice_check.ServiceSetup("tax", "税务", 1200.0, 300.0),
    ],
    windows=[
        advice_check.WindowSetup(1, "1号", {"business": 1.0}, {"estate": 0.5}),
        advice_check.WindowSetup(2, "2号", {"estate": 1.0}),
    ],
    sessions={d: ((9 * 60, 12 * 60), (14 * 60, 17 * 60)) for d in range(5)},
)


def history(rows: list[TicketRow], first: date = MONDAY, last: date | None = None):
    return advice_check.learn(
        rows,
        first=first,
        last=last or first + timedelta(days=13),
        tz=TZ,
        default_handle={s.code: s.default_handle_seconds for s in SETUP.services},
    )


def two_weeks() -> list[TicketRow]:
    """Two weeks: business 4 an hour 09-11 and 14-16 each weekday; estate 2 on Mondays at 9."""
    rows: list[TicketRow] = []
    n = 0
    for d in range(14):
        day = MONDAY + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for hh in (9, 10, 14, 15):
            for mm in (0, 15, 30, 45):
                n += 1
                rows.append(row(n, "business", day, hh, mm, handle=600 + 10 * (n % 7)))
        if day.weekday() == 0:
            for mm in (5, 35):
                n += 1
                rows.append(row(n, "estate", day, 9, mm, handle=900))
    return rows


def test_learn_counts_arrivals_per_weekday_and_quarter_hour() -> None:
    h = history(two_weeks())
    assert h.weekdays == 10 and h.days_of_weekday[0] == 2
    assert h.tickets == 10 * 16 + 2 * 2
    # Business: 4 an hour in each busy hour on every weekday.
    assert h.per_hour("business", None) == {9: 4.0, 10: 4.0, 14: 4.0, 15: 4.0}
    # Estate comes on Mondays: 2 a Monday, so 0.4 a typical weekday.
    assert h.per_hour("estate", 0) == {9: 2.0}
    assert h.per_hour("estate", None) == {9: pytest.approx(0.4)}
    assert h.per_hour("estate", 2) == {}
    business = h.services["business"]
    assert business.handle.from_history and business.handle.cases == 160
    assert business.handle.mean_seconds == pytest.approx(630, abs=1)
    assert 0 < business.handle.cv < 0.1
    # Too few cases: the hall file's mean and the default spread.
    estate = h.services["estate"].handle
    assert not estate.from_history and estate.mean_seconds == 900 and estate.cv == 0.5


def test_learn_no_shows_and_classes() -> None:
    rows = two_weeks()
    rows[0] = row(1, "business", MONDAY, 9, 0, status="no_show", handle=None)
    rows[1] = row(2, "business", MONDAY, 9, 15, priority="green")
    h = history(rows)
    assert h.no_show_share == pytest.approx(1 / len(rows))
    assert h.no_show_minutes == pytest.approx(1.5)
    assert h.green_share == pytest.approx(1 / len(rows))
    assert h.services["business"].no_show_rate == pytest.approx(1 / 160)


def test_the_erlang_advice_is_the_reports_advice() -> None:
    rows = two_weeks()
    h = history(rows)
    needs = advice_check.erlang_advice(
        h, SETUP, weekday=None, service_level=0.8, max_occupancy=0.85
    )
    first, last = MONDAY, MONDAY + timedelta(days=13)
    found = reports.advice(
        rows,
        first=first,
        last=last,
        tz=TZ,
        default_handle={s.code: s.default_handle_seconds for s in SETUP.services},
        targets={s.code: s.target_seconds for s in SETUP.services},
    )
    by_service = {a.service: {x.hour: x.windows for x in a.hours} for a in found}
    for code, hours in needs.items():
        assert {n.hour: n.windows for n in hours} == by_service[code]


def test_the_scenario_has_the_learned_rates_and_only_the_sessions() -> None:
    h = history(two_weeks())
    sessions = advice_check.sessions_for(h, SETUP, None)
    assert sessions == ((540, 720), (840, 1020))
    built = advice_check.build_scenario(
        h, SETUP, advice_check.today_staffing(SETUP, sessions), weekday=None
    )
    day = built.scenario.scenario
    assert (day.open, day.close, day.profile_minutes) == ("09:00", "17:00", 15)
    business = next(s for s in built.scenario.services if built.codes[s.code] == "business")
    # 4 an hour in each quarter of 09-11 and 14-16, none in the lunch break.
    assert business.hourly is not None and business.hourly[:8] == [4.0] * 8
    assert business.hourly[8:12] == [0.0] * 4 and business.hourly[12:20] == [0.0] * 8
    assert business.hourly[20:28] == [4.0] * 8
    assert sum(s.share for s in built.scenario.services) == pytest.approx(1)
    assert day.visitors == pytest.approx(16.4)
    # Today's windows keep their services (window 1 helps estate) and the hall's hours.
    one = next(w for w in built.scenario.windows if w.number == 1)
    assert [built.codes[c] for c in one.secondaries()] == ["estate"]
    assert one.open_hours == ["09:00-12:00", "14:00-17:00"]


def test_a_service_no_window_serves_is_left_out_and_said() -> None:
    rows = [*two_weeks(), row(9999, "tax", MONDAY, 10, 0)]
    h = history(rows)
    sessions = advice_check.sessions_for(h, SETUP, None)
    built = advice_check.build_scenario(
        h, SETUP, advice_check.today_staffing(SETUP, sessions), weekday=None
    )
    assert built.unserved == ["tax"]
    assert "tax" not in built.codes.values()


def test_the_advice_as_windows_open_in_the_hours_they_are_needed() -> None:
    needs = {
        "business": [
            advice_check.HourNeed(9, 8, 2, 0.9),
            advice_check.HourNeed(10, 4, 1, 0.9),
            advice_check.HourNeed(12, 1, 1, 0.9),
        ]
    }
    staffing = advice_check.advice_staffing(needs, SETUP, ((540, 720), (840, 1020)))
    assert [w.open_hours for w in staffing.windows] == [["09:00-11:00"], ["09:00-10:00"]]
    # 12:00 is the lunch break: the hour's window is not open then.
    assert staffing.window_hours == 3


def test_the_check_runs_today_and_the_advice_on_the_same_citizens() -> None:
    h = history(two_weeks())
    # Mondays: estate comes then.
    found = advice_check.check(h, SETUP, weekday=0, seeds=[1, 2, 3])
    assert found.today.windows == 2 and found.today.seeds == [1, 2, 3]
    assert found.advice.windows == sum(
        max(n.windows for n in needs) for needs in found.needs.values()
    )
    assert found.today.overall.tickets == found.advice.overall.tickets > 0
    assert set(found.today.services) == {"business", "estate"}
    # The same seeds give the same answer.
    again = advice_check.check(h, SETUP, weekday=0, seeds=[1, 2, 3])
    assert again.today == found.today and again.advice == found.advice


def test_one_window_for_a_busy_service_is_seen_to_fall_short() -> None:
    """20 an hour of 10-minute cases need 4 windows: one window today misses the target,
    the advice meets it."""
    rows = []
    n = 0
    for d in range(5):
        day = MONDAY + timedelta(days=d)
        for hh in (9, 10, 11):
            for k in range(20):
                n += 1
                rows.append(row(n, "business", day, hh, k * 3, handle=600))
    h = history(rows, last=MONDAY + timedelta(days=4))
    setup = advice_check.HallSetup(
        services=SETUP.services,
        windows=[advice_check.WindowSetup(1, "1号", {"business": 1.0})],
        sessions={d: ((9 * 60, 12 * 60),) for d in range(5)},
    )
    found = advice_check.check(h, setup, seeds=[1, 2])
    assert found.today.services["business"].meets is False
    assert found.advice.services["business"].meets is True
    assert found.advice.windows >= 4
    today_p90 = found.today.overall.p90_seconds
    advice_p90 = found.advice.overall.p90_seconds
    assert today_p90 is not None and advice_p90 is not None and advice_p90 < today_p90
