"""What a station sends of its day and what the district keeps (statistics/push_rules.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.engine.core.errors import ValidationFailed
from services.engine.statistics import facts, push_rules
from services.engine.statistics.push_rules import (
    DayNotClosed,
    DayTooOld,
    PushedService,
    PushedWindow,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 3)  # a Tuesday
SERVICES = [
    PushedService("business", "企业开办", 20, 8.0),
    PushedService("estate", "不动产", 30, 12),
]


def fact(i: int, **changes: object) -> facts.TicketFact:
    base = facts.TicketFact(
        ticket_id=1000 + i,
        business_date=DAY,
        day=DAY,
        hour=9 + i % 3,
        weekday=DAY.weekday(),
        week=DAY - timedelta(days=DAY.weekday()),
        month=202611,
        service="business",
        window=1,
        staff=42,
        priority="normal",
        source="kiosk",
        status="done",
        outcome="done",
        continuation=False,
        ever_held=False,
        wait_s=125.25 + i,
        wait_b=facts.bucket(125.25 + i),
        handling_s=301.5,
        handling_b=facts.bucket(301.5),
        rating=5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


WINDOWS = [
    facts.WindowFact(DAY, 1, "open", "", None, 28_800.0),
    facts.WindowFact(DAY, 1, "paused", "午休", None, 3_600.0),
    facts.WindowFact(DAY, 1, "paused", "张三家里有事", None, 600.0),  # a typed reason
    facts.WindowFact(DAY, 1, "paused", "其他", None, 60.0),
    facts.WindowFact(DAY, 1, "signed", "", 42, 27_000.0),  # who was signed in
    facts.WindowFact(DAY, 2, "open", "", None, 1_800.5),
]


def test_the_station_sends_no_ids_no_clerks_and_no_typed_reasons() -> None:
    figures = push_rules.figures_of(DAY, SERVICES, [fact(i) for i in range(3)], WINDOWS)
    body = push_rules.to_json(figures)
    assert body["format"] == 1 and body["business_date"] == "2026-11-03"
    for ticket in body["tickets"]:
        assert set(ticket) == {
            "day", "hour", "service", "window", "priority", "source", "status", "outcome",
            "continuation", "ever_held", "wait_s", "handling_s", "rating",
        }  # fmt: skip
    assert "1000" not in str(body) and "42" not in str(body) and "张三" not in str(body)
    assert figures.windows == [
        PushedWindow(1, "open", "", 28_800.0),
        PushedWindow(1, "paused", "其他", 660.0),  # the typed reason counted as 其他
        PushedWindow(1, "paused", "午休", 3_600.0),
        PushedWindow(2, "open", "", 1_800.5),
    ]
    # The same figures, however the facts came, give the same digest.
    again = push_rules.figures_of(DAY, SERVICES[::-1], [fact(i) for i in (2, 0, 1)], WINDOWS)
    assert push_rules.digest(again) == push_rules.digest(figures)
    assert push_rules.digest(replace(figures, tickets=figures.tickets[:2])) != push_rules.digest(
        figures
    )


def test_kept_facts_have_negative_ids_one_block_per_hall_and_day() -> None:
    ids = {
        push_rules.fact_id(hall, day, i)
        for hall in (1, 2, 3_000_000)
        for day in (DAY, DAY + timedelta(days=1), date(2199, 12, 31))
        for i in (0, 1, push_rules.MAX_TICKETS - 1)
    }
    assert len(ids) == 27 and all(-(2**63) <= i < 0 for i in ids)
    assert push_rules.fact_id(7, DAY, 5) == push_rules.fact_id(7, DAY, 5)
    figures = push_rules.figures_of(DAY, SERVICES, [fact(i) for i in range(3)], WINDOWS)
    tickets, windows = push_rules.stored_facts(7, figures)
    assert all(t.staff is None for t in tickets) and all(w.staff is None for w in windows)
    assert [t.wait_b for t in tickets] == [facts.bucket(t.wait_s) for t in tickets]
    assert {(t.weekday, t.week, t.month) for t in tickets} == {(1, date(2026, 11, 2), 202611)}


def test_only_closed_days_not_too_old() -> None:
    push_rules.check_day(DAY, DAY + timedelta(days=1))
    for later in (DAY, DAY + timedelta(days=5)):
        with pytest.raises(DayNotClosed):
            push_rules.check_day(later, DAY)
    push_rules.check_day(DAY - timedelta(days=push_rules.MAX_AGE_DAYS), DAY)
    with pytest.raises(DayTooOld):
        push_rules.check_day(DAY - timedelta(days=push_rules.MAX_AGE_DAYS + 1), DAY)


@pytest.mark.parametrize(
    "broken",
    [
        lambda f: replace(f, business_date=DAY - timedelta(days=1)),
        lambda f: replace(f, services=f.services + f.services[:1]),
        lambda f: replace(f, tickets=[replace(f.tickets[0], service="unlisted")]),
        lambda f: replace(f, tickets=[replace(f.tickets[0], day=DAY + timedelta(days=2))]),
        lambda f: replace(
            f, tickets=[replace(f.tickets[0], status="no_show")]
        ),  # handled, not finished
        lambda f: replace(f, windows=f.windows + f.windows[:1]),
        lambda f: replace(f, windows=[PushedWindow(1, "paused", "张三", 5.0)]),
        lambda f: replace(f, windows=[PushedWindow(1, "open", "午休", 5.0)]),
    ],
)
def test_figures_that_do_not_hold_together_are_refused(broken: object) -> None:
    figures = push_rules.figures_of(DAY, SERVICES, [fact(0)], WINDOWS)
    push_rules.check_figures(figures, DAY)
    with pytest.raises(ValidationFailed):
        push_rules.check_figures(broken(figures), DAY)  # type: ignore[operator]
