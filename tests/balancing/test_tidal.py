"""Tidal window rules: open at a high mark, close only after the hold time below the low marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.engine.balancing.tidal import TidalAction, TidalRule, TidalState, decide

T0 = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)
RULE = TidalRule(1, high_waiting=15, low_waiting=5, hold_minutes=10)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(
    rule: TidalRule, readings: list[tuple[float, int, float | None]]
) -> list[tuple[float, str]]:
    """Feed (minute, waiting, wait minutes) readings; return the actions taken."""
    state, actions = TidalState(), []
    for minute, waiting, wait in readings:
        decision = decide(rule, state, waiting=waiting, wait_minutes=wait, now=at(minute))
        state = decision.state
        if decision.action is not None:
            actions.append((minute, decision.action.value))
    return actions


def test_opens_at_the_high_mark_with_a_reason() -> None:
    decision = decide(RULE, TidalState(), waiting=15, wait_minutes=None, now=T0)
    assert decision.action is TidalAction.OPEN and decision.state.active
    assert "15 waiting >= high mark 15" in decision.reason
    assert decide(RULE, TidalState(), waiting=14, wait_minutes=None, now=T0).action is None


def test_between_the_marks_nothing_changes() -> None:
    # Hovering between low (5) and high (15) after opening: no flapping.
    readings = [(0, 16, None)] + [(m, 6 + m % 9, None) for m in range(1, 60)]
    assert run(RULE, readings) == [(0, "open")]


def test_closes_only_after_the_hold_time_below_the_low_mark() -> None:
    readings = [(0, 20, None), (5, 5, None), (10, 4, None), (14.9, 3, None), (15, 2, None)]
    assert run(RULE, readings) == [(0, "open"), (15, "close")]


def test_a_spike_during_the_hold_restarts_it() -> None:
    readings = [
        (0, 20, None),
        (5, 3, None),
        (12, 8, None),
        (14, 3, None),
        (20, 3, None),
        (24, 3, None),
    ]
    assert run(RULE, readings) == [(0, "open"), (24, "close")]


def test_reopens_after_closing_when_the_queue_surges_again() -> None:
    readings = [(0, 20, None), (1, 0, None), (11, 0, None), (30, 15, None)]
    assert run(RULE, readings) == [(0, "open"), (11, "close"), (30, "open")]


def test_marks_on_estimated_wait() -> None:
    rule = TidalRule(1, high_wait_minutes=30, low_wait_minutes=10, hold_minutes=5)
    readings = [(0, 3, 29.0), (1, 3, 31.0), (2, 3, 12.0), (3, 3, 9.0), (8, 3, 10.0)]
    assert run(rule, readings) == [(1, "open"), (8, "close")]
    decision = decide(rule, TidalState(), waiting=2, wait_minutes=45.0, now=T0)
    assert "estimated wait 45 min >= high mark 30 min" in decision.reason


def test_both_low_marks_must_hold_to_close() -> None:
    rule = TidalRule(
        1, high_waiting=10, low_waiting=2, high_wait_minutes=30, low_wait_minutes=10, hold_minutes=0
    )
    open_state = TidalState(active=True)
    assert decide(rule, open_state, waiting=1, wait_minutes=15.0, now=T0).action is None
    assert decide(rule, open_state, waiting=5, wait_minutes=5.0, now=T0).action is None
    assert decide(rule, open_state, waiting=1, wait_minutes=5.0, now=T0).action is TidalAction.CLOSE


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"high_waiting": 5, "low_waiting": 5},
        {"high_wait_minutes": 10, "low_wait_minutes": 12},
        {"high_waiting": 5, "hold_minutes": -1},
    ],
)
def test_rules_without_hysteresis_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TidalRule(1, **kwargs)  # type: ignore[arg-type]
