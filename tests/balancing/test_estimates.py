"""Wait estimates: moving handle averages, window shares, position, the estimate itself."""

from __future__ import annotations

import itertools

import pytest

from services.engine.balancing.estimates import (
    HandleTimes,
    WindowLoad,
    ahead_at_window,
    estimate_wait_seconds,
    expected_remaining,
    median_first_call,
    moving_average,
    wait_minutes,
    wait_text,
    window_shares,
)
from services.engine.balancing.policy import Link, Role
from services.engine.tickets.ahead import ahead_of
from services.engine.tickets.states import PriorityClass

P = PriorityClass
A, B = 1, 2
H = {A: 600.0, B: 300.0}


def test_moving_average_starts_at_the_configured_seed_and_moves_towards_data() -> None:
    assert moving_average(480.0, []) == 480.0
    assert moving_average(480.0, [600.0], alpha=0.5) == 540.0
    moved = moving_average(480.0, [900.0] * 30)
    assert 890 < moved < 900
    with pytest.raises(ValueError):
        moving_average(1.0, [], alpha=0)


def test_handle_times_record_updates_one_service() -> None:
    times = HandleTimes({A: 600.0, B: 300.0}, alpha=0.5)
    times.record(A, 200.0)
    assert times.get(A) == 400.0 and times.get(B) == 300.0


def test_expected_remaining_never_below_a_quarter_of_the_average() -> None:
    assert expected_remaining(600.0, 100.0) == 500.0
    assert expected_remaining(600.0, 2000.0) == 150.0


def test_an_idle_window_serves_the_first_ticket_at_once() -> None:
    windows = [WindowLoad(1, {A: Link()}, free_in=0.0)]
    assert (
        estimate_wait_seconds(service_id=A, ahead=0, windows=windows, waiting={A: 1}, handle=H)
        == 0.0
    )
    # The second in line waits for the first one's handle time.
    assert (
        estimate_wait_seconds(service_id=A, ahead=1, windows=windows, waiting={A: 2}, handle=H)
        == 600.0
    )


def test_one_busy_window_takes_the_queue_in_turn() -> None:
    windows = [WindowLoad(1, {A: Link()}, free_in=120.0)]
    waits = [
        estimate_wait_seconds(service_id=A, ahead=k, windows=windows, waiting={A: 3}, handle=H)
        for k in range(3)
    ]
    assert waits == [120.0, 720.0, 1320.0]


def test_several_busy_windows_compete_for_the_next_ticket() -> None:
    windows = [WindowLoad(1, {A: Link()}, free_in=120.0), WindowLoad(2, {A: Link()}, free_in=300.0)]
    waits = [
        estimate_wait_seconds(service_id=A, ahead=k, windows=windows, waiting={A: 4}, handle=H)
        for k in range(4)
    ]
    assert all(w is not None for w in waits)
    values = [w for w in waits if w is not None]
    first = values[0]
    # Either may finish first: sooner than the earliest expected, between it and
    # the competing-rates time 1 / (1/120 + 1/300).
    assert first == pytest.approx((120.0 + 1 / (1 / 120 + 1 / 300)) / 2)
    # Then one ticket every handle / capacity = 600 / 2 seconds.
    assert [b - a for a, b in itertools.pairwise(values)] == pytest.approx([300.0] * 3)


def test_no_open_window_for_the_service_means_no_estimate() -> None:
    windows = [WindowLoad(1, {B: Link()}, free_in=0.0)]
    assert (
        estimate_wait_seconds(service_id=A, ahead=0, windows=windows, waiting={}, handle=H) is None
    )
    assert estimate_wait_seconds(service_id=A, ahead=0, windows=[], waiting={}, handle=H) is None


def test_a_helping_window_counts_by_its_share_of_time() -> None:
    helper = {B: Link(1.0, Role.PRIMARY), A: Link(1.0, Role.SECONDARY)}
    dedicated = [WindowLoad(1, {A: Link()}, free_in=600.0)]
    with_helper = [*dedicated, WindowLoad(2, helper, free_in=60.0)]
    waiting = {A: 6, B: 2}
    alone = estimate_wait_seconds(
        service_id=A, ahead=3, windows=dedicated, waiting=waiting, handle=H
    )
    helped = estimate_wait_seconds(
        service_id=A, ahead=3, windows=with_helper, waiting=waiting, handle=H
    )
    assert alone is not None and helped is not None
    assert helped < alone
    # The helper gives only part of its time: slower than a second dedicated window.
    second = [*dedicated, WindowLoad(2, {A: Link()}, free_in=60.0)]
    twin = estimate_wait_seconds(service_id=A, ahead=3, windows=second, waiting=waiting, handle=H)
    assert twin is not None and twin < helped


def test_shares_follow_weights_and_waiting_work() -> None:
    links = {A: Link(1.0), B: Link(1.0)}
    even = window_shares(links, {})
    assert even == {A: 0.5, B: 0.5}
    busy_a = window_shares(links, {A: 3000.0})
    assert busy_a[A] > 0.99 and sum(busy_a.values()) == pytest.approx(1.0)
    secondary = window_shares({A: Link(1.0), B: Link(1.0, Role.SECONDARY)}, {})
    assert secondary[A] == pytest.approx(2 / 3)


def test_position_counts_who_is_called_before() -> None:
    waiting = {P.GREEN: 1, P.PRIORITY: 2, P.APPOINTMENT: 1, P.NORMAL: 5}
    earlier = {P.GREEN: 0, P.PRIORITY: 1, P.APPOINTMENT: 0, P.NORMAL: 2}
    assert ahead_of(P.NORMAL, waiting, earlier) == 1 + 2 + 1 + 2
    assert ahead_of(P.PRIORITY, waiting, earlier) == 1 + 1
    assert ahead_of(P.APPOINTMENT, waiting, earlier) == 1 + 1
    assert ahead_of(P.GREEN, waiting, earlier) == 0


def test_minutes_and_text() -> None:
    assert wait_minutes(None) is None
    assert wait_minutes(0.0) == 0
    assert wait_minutes(61.0) == 2
    assert wait_minutes(600.0) == 10
    assert wait_text(3, 12) == "前方还有 3 人，预计等待 12 分钟"
    assert "暂无法预计" in wait_text(3, None)


def _busy(window_id: int, links: dict[int, Link], average: float, elapsed: float) -> WindowLoad:
    return WindowLoad(window_id, links, expected_remaining(average, elapsed), average, elapsed)


def test_first_in_line_gets_the_median_not_the_mean_of_its_wait() -> None:
    # One busy window, its ticket just started: the wait is the handle time,
    # lognormal (cv 0.6) with mean 600 s, whose median is 600 / sqrt(1.36) = 514 s.
    windows = [_busy(1, {A: Link()}, 600.0, 0.0)]
    first = estimate_wait_seconds(service_id=A, ahead=0, windows=windows, waiting={A: 1}, handle=H)
    assert first is not None and first == pytest.approx(600.0 / 1.36**0.5, abs=2.0)
    # Further back in line the flow formula still applies.
    second = estimate_wait_seconds(service_id=A, ahead=1, windows=windows, waiting={A: 2}, handle=H)
    assert second is not None and second > first + 500


def test_first_in_line_waits_less_behind_a_ticket_that_has_run_long_and_with_more_windows() -> None:
    def first(windows: list[WindowLoad]) -> float:
        value = median_first_call(A, windows, {A: 1})
        assert value is not None
        return value

    fresh = first([_busy(1, {A: Link()}, 600.0, 0.0)])
    long_running = first([_busy(1, {A: Link()}, 600.0, 900.0)])
    # A ticket that has run 15 minutes has less left than a fresh one's median,
    # but not nothing (long cases run long).
    assert 0 < long_running < fresh
    two = first([_busy(1, {A: Link()}, 600.0, 0.0), _busy(2, {A: Link()}, 600.0, 0.0)])
    assert two < fresh * 0.8


def test_a_window_with_its_own_work_waiting_is_less_likely_to_take_a_new_ticket() -> None:
    helper = {B: Link(), A: Link(1.0, Role.SECONDARY)}
    own = {A: Link(), B: Link(0.5, Role.SECONDARY)}
    # A helping window takes everything else it serves first; an own window
    # only a part of its secondary queues.
    assert ahead_at_window(A, helper, {A: 1, B: 3}) == 3
    assert ahead_at_window(A, own, {A: 1, B: 4}) == 1
    windows = [_busy(1, {A: Link()}, 600.0, 0.0), _busy(2, helper, 600.0, 0.0)]
    idle_helper = median_first_call(A, windows, {A: 1, B: 0})
    busy_helper = median_first_call(A, windows, {A: 1, B: 3})
    assert idle_helper is not None and busy_helper is not None
    assert idle_helper < busy_helper


def test_first_in_line_falls_back_to_the_flow_formula_without_a_median() -> None:
    # The only window able to serve A has three of its own tickets waiting:
    # odds are it takes them first, so no median of the first free moment.
    helper = {B: Link(), A: Link(1.0, Role.SECONDARY)}
    windows = [_busy(1, helper, 300.0, 0.0)]
    assert median_first_call(A, windows, {A: 1, B: 3}) is None
    wait = estimate_wait_seconds(
        service_id=A, ahead=0, windows=windows, waiting={A: 1, B: 3}, handle=H
    )
    assert wait is not None and wait > 0
    # Without the ticket in hand's details (older callers) the mean formula is used.
    bare = [WindowLoad(1, {A: Link()}, free_in=120.0)]
    assert (
        estimate_wait_seconds(service_id=A, ahead=0, windows=bare, waiting={A: 1}, handle=H)
        == 120.0
    )
