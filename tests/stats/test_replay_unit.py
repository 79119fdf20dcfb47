"""Replay of a past day (statistics/replay.py) on a hand-built day: with the day's own
windows it gives back the day's waits; one more window cuts them; a bad what-if is
refused with its code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.engine.statistics import advice_check, replay
from services.engine.statistics.reports import LogRow, TicketRow

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 2)  # a Monday
START = datetime(2026, 11, 2, tzinfo=TZ)
END = START + timedelta(days=1)

SETUP = advice_check.HallSetup(
    services=[
        advice_check.ServiceSetup("business", "企业开办", 600.0, 480.0),
        advice_check.ServiceSetup("estate", "不动产登记", 600.0, 480.0),
    ],
    windows=[
        advice_check.WindowSetup(1, "1号", {"business": 1.0}),
        advice_check.WindowSetup(2, "2号", {"estate": 1.0}),
    ],
    sessions={d: ((9 * 60, 12 * 60),) for d in range(5)},
)


def at(minute: float) -> datetime:
    return (START + timedelta(minutes=minute)).astimezone(UTC)


def fifo_day() -> tuple[list[TicketRow], list[LogRow]]:
    """The day as the engine ran it: each window calls its own queue first come first
    served the moment it is free. Business: 12 citizens 5 minutes apart from 09:00, 8
    minutes each, at window 1 (a queue builds); estate: 3 citizens of 3 minutes at window
    2. Both windows open 09:00-12:00."""
    rows: list[TicketRow] = []
    n = 0
    for service, window, count, gap, handle in (
        ("business", 1, 12, 5, 8),
        ("estate", 2, 3, 30, 3),
    ):
        free = 9 * 60.0
        for k in range(count):
            n += 1
            issued = 9 * 60 + k * gap
            called = max(issued, free)
            free = called + handle
            rows.append(
                TicketRow(
                    id=n,
                    service=service,
                    window=window,
                    staff=None,
                    priority="normal",
                    source="kiosk",
                    status="done",
                    issued_at=at(issued),
                    served_call_at=at(called),
                    called_at=at(called),
                    started_at=None,
                    finished_at=at(free),
                    closed_at=at(free),
                    held_seconds=0.0,
                    outcome="done",
                    transferred_from=None,
                    ever_held=False,
                    target_seconds=600.0,
                )
            )
    log = [LogRow(w, at(9 * 60), "open", None) for w in (1, 2)] + [
        LogRow(w, at(12 * 60), "close", None) for w in (1, 2)
    ]
    return rows, log


def run(what_if: replay.WhatIf, rows=None, log=None) -> replay.Replay:
    if rows is None:
        rows, log = fifo_day()
    return replay.replay(
        rows,
        {r.id: r for r in rows},
        log or [],
        day=DAY,
        day_start=START,
        day_end=END,
        tz=TZ,
        setup=SETUP,
        hall_policy="balanced",
        slots={},
        what_if=what_if,
    )


def test_the_same_windows_give_back_the_days_waits() -> None:
    found = run(replay.WhatIf())
    assert found.tickets == 15 and found.left_out == {}
    real, same = found.real, found.same
    assert real.figures.mean_seconds is not None and real.figures.mean_seconds > 600
    assert same.figures.mean_seconds == pytest.approx(real.figures.mean_seconds, abs=1)
    assert same.figures.p90_seconds == pytest.approx(real.figures.p90_seconds, abs=1)
    for code in ("business", "estate"):
        assert same.services[code].over_target == real.services[code].over_target
    assert [(w.number, w.spans) for w in same.windows] == [(1, [(540, 720)]), (2, [(540, 720)])]
    # Without a change the what-if is the day as it was.
    assert found.what_if.figures == found.same.figures


def test_one_more_window_cuts_the_waits() -> None:
    found = run(replay.WhatIf(windows=[replay.WindowChange(3, primary={"business": 1.0})]))
    before, after = found.same.services["business"], found.what_if.services["business"]
    assert after.mean_seconds is not None and before.mean_seconds is not None
    assert after.mean_seconds < before.mean_seconds / 2
    new = [w for w in found.what_if.windows if w.number == 3]
    assert new and new[0].changed and new[0].spans == [(540, 720)]


def test_the_estate_window_helping_business_cuts_its_waits() -> None:
    found = run(replay.WhatIf(windows=[replay.WindowChange(2, add_secondary={"business": 0.5})]))
    (two,) = [w for w in found.what_if.windows if w.number == 2]
    assert (two.primary, two.secondary) == ({"estate": 1.0}, {"business": 0.5})
    assert (found.what_if.services["business"].mean_seconds or 0) < (
        found.same.services["business"].mean_seconds or 0
    )
    # Estate is still served by its own window.
    assert found.what_if.services["estate"].called == 3


def test_another_policy_and_drawn_handling() -> None:
    found = run(replay.WhatIf(policy="dedicated", handling="drawn", seeds=3))
    assert found.what_if.seeds == [1, 2, 3] and found.what_if.policy == "dedicated"
    assert found.what_if.figures.tickets == 3 * 15


def test_a_window_closed_at_lunch_waits_for_the_afternoon() -> None:
    found = run(
        replay.WhatIf(windows=[replay.WindowChange(1, open_hours=["09:00-10:00", "10:30-12:00"])])
    )
    assert (found.what_if.services["business"].mean_seconds or 0) > (
        found.same.services["business"].mean_seconds or 0
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (replay.WindowChange(1, primary={"passport": 1.0}), "replay_unknown_service"),
        (replay.WindowChange(9, closed=True), "replay_unknown_window"),
        (replay.WindowChange(9), "replay_window_without_services"),
        (replay.WindowChange(1, open_hours=["9-12"]), "replay_hours_invalid"),
        (replay.WindowChange(1, open_hours=["12:00-09:00"]), "replay_hours_invalid"),
        (
            replay.WindowChange(1, open_hours=["09:00-11:00", "10:00-12:00"]),
            "replay_hours_invalid",
        ),
        (replay.WindowChange(1, closed=True), "replay_service_unserved"),
        (replay.WindowChange(1, primary={"business": 0}), "replay_invalid"),
    ],
)
def test_a_bad_what_if_is_refused_with_its_code(change: replay.WindowChange, code: str) -> None:
    with pytest.raises(replay.ReplayRefused) as refused:
        run(replay.WhatIf(windows=[change]))
    assert refused.value.code == code and refused.value.status == 422


def test_the_same_window_twice_and_an_empty_day_are_refused() -> None:
    with pytest.raises(replay.WindowRepeated):
        run(replay.WhatIf(windows=[replay.WindowChange(1), replay.WindowChange(1)]))
    with pytest.raises(replay.NothingToReplay):
        run(replay.WhatIf(), rows=[], log=[])


def test_changes_add_to_or_replace_a_windows_services() -> None:
    day = [replay.WindowDay(1, "1号", {"business": 1.0}, {"estate": 0.5}, [(540, 720)])]
    codes = ["business", "estate", "tax"]
    (added,) = replay.apply_changes(
        day, [replay.WindowChange(1, add_primary={"estate": 1.0})], codes, [(540, 720)]
    )
    assert (added.primary, added.secondary) == ({"business": 1.0, "estate": 1.0}, {})
    (replaced,) = replay.apply_changes(
        day, [replay.WindowChange(1, primary={"tax": 1.0})], codes, [(540, 720)]
    )
    assert (replaced.primary, replaced.secondary) == ({"tax": 1.0}, {"estate": 0.5})
    (helped,) = replay.apply_changes(
        day, [replay.WindowChange(1, add_secondary={"tax": 0.5})], codes, [(540, 720)]
    )
    assert helped.secondary == {"estate": 0.5, "tax": 0.5} and helped.changed
