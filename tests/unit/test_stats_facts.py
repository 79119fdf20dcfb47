"""The statistics facts (docs/statistics.md, "Rollups") against the raw-row reports:
figures from facts summed in buckets equal the figures from the rows (percentiles to
the bucket width), and a window's days add up to its period."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.engine.statistics import facts, measures, reports
from services.engine.statistics.reports import Group, LogRow, TicketRow

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)


def at(day: int, hour: float) -> datetime:
    start = datetime(2026, 12, 7, tzinfo=TZ) + timedelta(days=day)
    return start + timedelta(hours=hour)


def random_day(rnd: random.Random, days: int = 3, n: int = 200) -> list[TicketRow]:
    rows = []
    for i in range(1, n + 1):
        day = rnd.randrange(days)
        issued = at(day, rnd.uniform(9, 16))
        status = rnd.choice(("done", "done", "done", "no_show", "cancelled", "held_expired"))
        called = (
            issued + timedelta(seconds=rnd.expovariate(1 / 600)) if status != "cancelled" else None
        )
        finished = (
            called + timedelta(seconds=rnd.uniform(60, 1200))
            if status == "done" and called
            else None
        )
        rows.append(
            TicketRow(
                id=i,
                service=rnd.choice(("a", "b", "c")),
                window=rnd.choice((1, 2, 3)) if called else None,
                staff=rnd.choice((7, 8)) if called else None,
                priority=rnd.choice(("normal", "priority")),
                source=rnd.choice(("kiosk", "booking")),
                status=status,
                issued_at=issued,
                served_call_at=called,
                called_at=called,
                started_at=None,
                finished_at=finished,
                closed_at=finished or called,
                held_seconds=rnd.choice((0.0, 0.0, 90.0)) if finished else 0.0,
                outcome=rnd.choice((None, "done", "accepted")) if finished else None,
                transferred_from=None,
                ever_held=rnd.random() < 0.1,
                target_seconds={"a": 600.0, "b": 900.0, "c": 1200.0}[rnd.choice("abc")],
            )
        )
    return rows


def facts_of(rows: list[TicketRow]) -> list[facts.TicketFact]:
    days = {r.id: r.issued_at.astimezone(TZ).date() for r in rows}
    return facts.ticket_facts(rows, days, TZ)


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_volumes_from_facts_equal_volumes_from_rows(seed: int) -> None:
    rows = random_day(random.Random(seed))
    for group in Group:
        cells = facts.aggregate_volumes(facts_of(rows), group)
        assert facts.volumes_of(cells) == reports.volumes(rows, group, TZ)


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_waits_from_buckets_are_exact_but_for_percentiles_within_a_bucket(seed: int) -> None:
    rows = random_day(random.Random(seed))
    # The service's target, as the reports' rows carry it (one per service here).
    targets = {"a": 600.0, "b": 900.0, "c": 1200.0}
    rows = [r.__class__(**{**vars(r), "target_seconds": targets[r.service]}) for r in rows]
    for group in (Group.DAY, Group.HOUR, Group.NONE):
        kept = facts_of(rows)
        over = facts.over_of(kept, group, lambda f: targets[f.service])
        got = facts.waits_of(facts.aggregate_waits(kept, group), over)
        expected = reports.waits(rows, group, TZ)
        assert got.keys() == expected.keys()
        for key, line in expected.items():
            mine = got[key]
            assert mine.summary.count == line.summary.count
            assert mine.summary.max == line.summary.max
            assert abs(mine.summary.mean - line.summary.mean) < 1e-6  # type: ignore[operator]
            for a, b in (
                (mine.summary.median, line.summary.median),
                (mine.summary.p90, line.summary.p90),
            ):
                assert a is not None and b is not None
                assert abs(a - b) <= facts.width(b)
            assert mine.over_target == line.over_target


def test_report_buckets_keep_whole_minutes_as_edges() -> None:
    for minutes in range(1, 61):
        seconds = minutes * 60.0
        inside = facts.coarse(facts.bucket(seconds) or 0)
        above = facts.coarse(facts.bucket(seconds + 1e-6) or 0)
        assert facts.upper(inside) == seconds and above == inside + 1
    for b in range(1, 2000):  # every 15-second bucket lies within its report bucket
        c = facts.coarse(b)
        assert facts.upper(c - 1) <= 15 * (b - 1) and 15 * b <= facts.upper(c)


def test_a_wait_exactly_on_the_target_is_not_over_it() -> None:
    hist = facts.Histogram.empty()
    for seconds in (600.0, 600.000001, 599.9):
        b = facts.bucket(seconds)
        assert b is not None
        hist.add(b, 1, seconds, seconds)
    assert hist.over(600.0) == 1
    assert hist.summary().count == 3


def test_percentiles_of_one_value_per_bucket_are_exact() -> None:
    values = [15.0 * k for k in range(1, 40)]
    hist = facts.Histogram.empty()
    for v in values:
        hist.add(facts.bucket(v) or 0, 1, v, v)
    assert hist.percentile(50) == measures.percentile(values, 50)
    assert hist.percentile(90) == measures.percentile(values, 90)


def test_handling_from_facts_equals_handling_from_rows() -> None:
    rows = random_day(random.Random(5))
    for by in ("service", "window", "staff"):
        got = facts.handling_of(facts.aggregate_handling(facts_of(rows), by))
        expected = reports.handling(
            rows, lambda r, by=by: None if getattr(r, by) is None else str(getattr(r, by))
        )
        assert got.keys() == expected.keys()
        for k, s in expected.items():
            assert got[k].count == s.count and abs(got[k].mean - s.mean) < 1e-6  # type: ignore[operator]


def test_a_window_s_days_add_up_to_its_period() -> None:
    # Open Monday 9:00, lunch 12:00-13:30, still open (and paused) over the night,
    # resumed Tuesday 9:00, closed Tuesday 17:00; a clerk signed in across the night.
    log = [
        LogRow(1, at(0, 8.9), "sign_in", 7),
        LogRow(1, at(0, 9), "open", 7),
        LogRow(1, at(0, 12), "pause", 7, "午休"),
        LogRow(1, at(0, 13.5), "resume", 7),
        LogRow(1, at(0, 17), "pause", 7, "临时离岗"),
        LogRow(1, at(1, 9), "resume", 7),
        LogRow(1, at(1, 17), "close", 7),
        LogRow(1, at(1, 17.1), "sign_out", 7),
        LogRow(2, at(1, 10), "open", 8),
    ]
    days = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)]
    kept = facts.window_facts(log, days, TZ)
    start, end = reports.period(days[0], days[-1], TZ)
    lines, staff, _ = reports.windows_report(
        [], log, [1, 2], start=start, end=end, low_cases_per_month=10
    )
    summed = facts.windows_of([], kept, [1, 2], start=start, end=end, low_cases_per_month=10)
    for w in (1, 2):
        assert abs(summed[0][w].open_seconds - lines[w].open_seconds) < 1e-6
        assert summed[0][w].paused_seconds.keys() == lines[w].paused_seconds.keys()
        for reason, seconds in lines[w].paused_seconds.items():
            assert abs(summed[0][w].paused_seconds[reason] - seconds) < 1e-6
    assert abs(summed[1][7].signed_in_seconds - staff[7].signed_in_seconds) < 1e-6
    # Window 2 never closed: open to the end of the period, counted day by day.
    assert abs(lines[2].open_seconds - (14 + 24) * 3600) < 1e-6
