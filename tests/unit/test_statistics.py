"""The statistics' definitions (docs/statistics.md) on hand-built timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.engine.statistics import measures, reports
from services.engine.statistics.reports import Group, LogRow, TicketRow

TZ = ZoneInfo("Asia/Shanghai")
# Monday 2026-12-07, 09:00 in the hall.
NINE = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)


def at(minutes: float) -> datetime:
    return NINE + timedelta(minutes=minutes)


def ticket(
    id: int,
    *,
    service: str = "business",
    window: int | None = 1,
    staff: int | None = 7,
    status: str = "done",
    issued: float = 0,
    served_call: float | None = 10,
    called: float | None = None,
    started: float | None = None,
    finished: float | None = None,
    closed: float | None = None,
    held: float = 0,
    outcome: str | None = None,
    source: str = "kiosk",
    transferred_from: int | None = None,
    ever_held: bool = False,
    target_minutes: float = 20,
) -> TicketRow:
    def t(m: float | None) -> datetime | None:
        return at(m) if m is not None else None

    return TicketRow(
        id=id,
        service=service,
        window=window,
        staff=staff,
        priority="normal",
        source=source,
        status=status,
        issued_at=at(issued),
        served_call_at=t(served_call),
        called_at=t(called if called is not None else served_call),
        started_at=t(started),
        finished_at=t(finished),
        closed_at=t(closed if closed is not None else finished),
        held_seconds=held,
        outcome=outcome,
        transferred_from=transferred_from,
        ever_held=ever_held,
        target_seconds=target_minutes * 60,
    )


def test_hold_time_is_not_handling() -> None:
    # Called at 10, started at 12, held 20 minutes in between, finished at 50.
    assert measures.handling_seconds(at(10), at(12), at(50), held_seconds=20 * 60) == 18 * 60
    # A keypad without a start key: handling starts at the call.
    assert measures.handling_seconds(at(10), None, at(25)) == 15 * 60
    assert measures.handling_seconds(at(10), at(12), None) is None


def test_a_requeued_no_show_waits_until_the_call_that_served_it() -> None:
    # Issued at 0, called at 10 (no-show, re-queued), called again at 30: served by the
    # last call (Qmatic's rule), so it waited 30 minutes.
    row = ticket(1, served_call=30, started=31, finished=40)
    found = reports.waits([row], Group.NONE, TZ)
    assert found[("total", "business")].summary.mean == 30 * 60
    assert found[("total", "business")].over_target == 1.0  # 30 > 20 minutes


def test_a_transferred_ticket_waits_from_the_transfer() -> None:
    first = ticket(1, status="transferred", served_call=10, finished=None, closed=15)
    second = ticket(2, service="estate", transferred_from=1, served_call=25, finished=35)
    found = reports.waits([first, second], Group.NONE, TZ)
    assert found[("total", "estate")].summary.mean == 10 * 60  # 15 -> 25
    # Filtered to estate alone, the predecessor is still known from the whole period.
    alone = reports.waits([second], Group.NONE, TZ, lookup={1: first, 2: second})
    assert alone[("total", "estate")].summary.mean == 10 * 60
    volume = reports.volumes([first, second], Group.NONE, TZ)["total"]
    assert (volume.issued, volume.transferred, volume.served) == (1, 1, 1)


def test_volumes_by_outcome_source_and_hour() -> None:
    rows = [
        ticket(1, finished=20, outcome="done"),
        ticket(2, finished=30, outcome="told_missing", source="booking"),
        ticket(3, status="no_show", served_call=12, finished=None, closed=15),
        ticket(4, issued=70, status="cancelled", served_call=None, finished=None, closed=80),
        ticket(5, issued=75, status="held_expired", finished=None, ever_held=True),
        ticket(6, issued=80, finished=120, ever_held=True),
    ]
    by_hour = reports.volumes(rows, Group.HOUR, TZ)
    assert list(by_hour) == ["09", "10"]
    nine, ten = by_hour["09"], by_hour["10"]
    assert (nine.issued, nine.served, nine.no_show) == (3, 2, 1)
    assert nine.by_outcome == {"done": 1, "told_missing": 1}
    assert nine.by_source == {"kiosk": 2, "booking": 1}
    assert (ten.issued, ten.cancelled, ten.held_expired, ten.held, ten.served) == (3, 1, 1, 2, 1)
    assert ten.by_outcome == {"": 1}
    assert list(reports.volumes(rows, Group.WEEKDAY, TZ)) == ["周一"]
    assert list(reports.volumes(rows, Group.WEEK, TZ)) == ["2026-12-07"]
    assert list(reports.volumes(rows, Group.MONTH, TZ)) == ["2026-12"]


def test_a_pause_across_lunch_and_sign_in_hours() -> None:
    start, end = reports.period(NINE.date(), NINE.date(), TZ)
    log = [
        LogRow(1, at(-30), "sign_in", 7),
        LogRow(1, at(-30), "open", 7),
        LogRow(1, at(180), "pause", 7, "午休"),  # 12:00
        LogRow(1, at(300), "resume", 7),  # 14:00
        LogRow(1, at(480), "close", 7),  # 17:00
        LogRow(1, at(480), "sign_out", 7),
        # Window 2 opened the evening before and never closed: counted from midnight.
        LogRow(2, at(-13 * 60), "open", None),
    ]
    rows = [ticket(1, finished=40), ticket(2, served_call=50, finished=80, staff=8, window=2)]
    lines, staff, balance = reports.windows_report(
        rows, log, [1, 2, 3], start=start, end=end, low_cases_per_month=30
    )
    one = lines[1]
    assert one.open_seconds == 510 * 60  # 08:30-17:00
    assert one.paused_seconds == {"午休": 120 * 60}
    assert one.handling_seconds == 30 * 60  # called 09:10, finished 09:40
    assert one.idle_seconds == (510 - 120 - 30) * 60
    assert one.utilisation == pytest.approx(30 / 510)
    assert lines[2].open_seconds == 24 * 3600  # the whole day, midnight to midnight
    assert lines[3].open_seconds == 0 and lines[3].utilisation is None
    assert staff[7].signed_in_seconds == 510 * 60 and staff[7].cases == 1
    assert lines[1].case_share == 0.5 and lines[2].case_share == 0.5
    # 30 a month is 1 a day: windows 1 and 2 did 1 each, window 3 never opened.
    assert balance.low_volume_threshold == pytest.approx(1.0)
    assert balance.low_volume_windows == []
    assert balance.gini_handling == pytest.approx(0.0)


def test_gini_and_top_share() -> None:
    assert measures.gini([5, 5, 5, 5]) == 0
    assert measures.gini([0, 0, 0, 12]) == pytest.approx(0.75)
    assert measures.gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert measures.gini([]) is None and measures.gini([0, 0]) is None
    # The seeds: three windows with 77% of the cases.
    load = {"1": 300, "2": 250, "3": 220, "4": 80, "5": 60, "6": 50, "7": 40}
    assert measures.top_share(load) == pytest.approx(770 / 1000)
    assert measures.shares({"a": 1, "b": 3}) == {"a": 0.25, "b": 0.75}


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]
    assert measures.percentile(values, 50) == 5.5
    assert measures.percentile(values, 90) == pytest.approx(9.1)
    s = measures.summary(values)
    assert (s.count, s.mean, s.max) == (10, 5.5, 10.0)
    assert measures.summary([]).mean is None
    assert measures.share_over([10, 20, 30], 15) == pytest.approx(2 / 3)


def test_erlang_c_against_the_published_example() -> None:
    """100 calls per 30 minutes, 3-minute handling, 20-second target, 80% service level,
    85% occupancy, 30% shrinkage: 14 raw, 20 positions, service level 0.888, occupancy
    0.714, waiting probability 0.174."""
    s = measures.staffing(
        arrivals=100,
        interval_seconds=30 * 60,
        handling_seconds=180,
        target_seconds=20,
        service_level=0.8,
        max_occupancy=0.85,
        shrinkage=0.3,
    )
    assert (s.traffic, s.raw, s.positions) == (10.0, 14, 20)
    assert round(s.service_level, 3) == 0.888
    assert round(s.occupancy, 3) == 0.714
    assert round(s.waiting_probability, 3) == 0.174
    # One window fewer would miss the service level.
    thirteen = 1 - measures.erlang_c(10, 13) * 2.718281828 ** (-(13 - 10) * 20 / 180)
    assert thirteen < 0.8
    assert measures.erlang_c(10, 10) == 1.0  # windows that cannot keep up
    assert (
        measures.staffing(
            arrivals=0, interval_seconds=3600, handling_seconds=300, target_seconds=600
        ).raw
        == 0
    )


def test_period_is_the_halls_days() -> None:
    start, end = reports.period(NINE.date(), NINE.date() + timedelta(days=1), TZ)
    assert start == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=2)


def test_advice_from_a_fortnight_of_history() -> None:
    """Two weeks (ten weekdays) with 20 business tickets at 09:00 each weekday, 6 minutes
    each: 20 an hour, 2 Erlangs; Erlang C for a 20-minute target says 3 windows (2 would
    work at 100%)."""
    monday = NINE.date()
    rows = []
    n = 0
    for day in range(14):
        d = monday + timedelta(days=day)
        for k in range(20):
            n += 1
            issued = datetime(d.year, d.month, d.day, 9, k * 2, tzinfo=TZ)
            rows.append(
                TicketRow(
                    id=n, service="business", window=1, staff=None, priority="normal",
                    source="kiosk", status="done", issued_at=issued,
                    served_call_at=issued + timedelta(minutes=5),
                    called_at=issued + timedelta(minutes=5), started_at=None,
                    finished_at=issued + timedelta(minutes=11), closed_at=None,
                    held_seconds=0, outcome="done", transferred_from=None, ever_held=False,
                    target_seconds=1200,
                )
            )  # fmt: skip
    (advice,) = reports.advice(
        rows,
        first=monday,
        last=monday + timedelta(days=13),
        tz=TZ,
        default_handle={"business": 480.0},
        targets={"business": 1200.0},
    )
    assert reports.weekdays_in(monday, monday + timedelta(days=13)) == 10
    assert advice.handle_from_history and advice.mean_handle_seconds == 360
    # Weekend tickets are history too, but not of a typical weekday.
    assert advice.tickets == 280
    [nine] = advice.hours
    assert (nine.hour, nine.arrivals) == (9, 20.0)
    expected = measures.staffing(
        arrivals=20, interval_seconds=3600, handling_seconds=360, target_seconds=1200
    )
    assert nine.windows == expected.raw == 3
    # Too little history: the hall file's mean handling time.
    (thin,) = reports.advice(
        rows[:5], first=monday, last=monday, tz=TZ, default_handle={"business": 480.0},
        targets={"business": 1200.0},
    )  # fmt: skip
    assert not thin.handle_from_history and thin.mean_handle_seconds == 480
