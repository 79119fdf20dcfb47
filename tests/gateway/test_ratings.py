"""Which ticket a pad press rates, on an injected clock; the pad exemption rule."""

from __future__ import annotations

import pytest

from drivers.clock import FakeClock
from services.engine.core.errors import RatingNeedsReason
from services.engine.evaluations.rules import check_rating, reason_missing
from services.gateway.ratings import Invitation, Rating, RatingWindows

TIMEOUT = 30.0


def test_a_press_in_time_rates_the_ticket_just_finished() -> None:
    clock = FakeClock()
    windows = RatingWindows(TIMEOUT)
    invitation = windows.finished(3, 101, "A023", clock.monotonic())
    assert invitation == Invitation(3, 101, "A023", clock.monotonic() + TIMEOUT)
    assert windows.next_deadline() == clock.monotonic() + TIMEOUT
    clock.advance(TIMEOUT - 0.1)
    assert windows.pressed(3, 4, clock.monotonic()) == Rating(3, 101, "A023", 4)
    # One press, one rating (一次一评): the next press has nothing to rate.
    assert windows.pressed(3, 1, clock.monotonic()) is None
    assert windows.next_deadline() is None and windows.lapsed == []


def test_no_press_within_the_timeout_leaves_it_unrated() -> None:
    clock = FakeClock()
    windows = RatingWindows(TIMEOUT)
    windows.finished(3, 101, "A023", clock.monotonic())
    clock.advance(TIMEOUT - 1)
    assert windows.expire(clock.monotonic()) == []
    clock.advance(1)
    ended = windows.expire(clock.monotonic())
    assert [i.ticket_id for i in ended] == [101]
    assert [i.ticket_id for i in windows.lapsed] == [101]
    assert windows.pressed(3, 5, clock.monotonic()) is None  # too late: 未评价 stays


def test_a_late_press_does_not_rate_even_before_the_clock_ran() -> None:
    clock = FakeClock()
    windows = RatingWindows(TIMEOUT)
    windows.finished(3, 101, "A023", clock.monotonic())
    clock.advance(TIMEOUT + 5)
    assert windows.pressed(3, 5, clock.monotonic()) is None
    assert [i.ticket_id for i in windows.lapsed] == [101]


def test_a_press_with_nothing_finished_rates_nothing() -> None:
    windows = RatingWindows(TIMEOUT)
    assert windows.pressed(1, 5, 0.0) is None
    windows.finished(2, 7, "A007", 0.0)
    assert windows.pressed(1, 5, 1.0) is None  # another window's pad
    assert windows.open_for(2) is not None


def test_the_next_finish_at_a_window_ends_the_previous_invitation() -> None:
    clock = FakeClock()
    windows = RatingWindows(TIMEOUT)
    windows.finished(3, 101, "A023", clock.monotonic())
    clock.advance(5)
    windows.finished(3, 102, "A024", clock.monotonic())
    assert [i.ticket_id for i in windows.lapsed] == [101]
    assert windows.pressed(3, 2, clock.monotonic()) == Rating(3, 102, "A024", 2)


def test_replayed_and_stale_finishes_open_nothing() -> None:
    clock = FakeClock()
    windows = RatingWindows(TIMEOUT)
    assert windows.finished(3, 101, "A023", clock.monotonic()) is not None
    assert windows.pressed(3, 5, clock.monotonic()) is not None
    # The same event again (a resumed bus replays it): no second invitation.
    assert windows.finished(3, 101, "A023", clock.monotonic()) is None
    # Heard of 40 s after the finish (the gateway was cut off): too late to ask.
    assert windows.finished(3, 102, "A024", clock.monotonic(), age=40) is None
    # Heard of 10 s late: 20 s are left.
    late = windows.finished(3, 103, "A025", clock.monotonic(), age=10)
    assert late is not None and late.deadline == clock.monotonic() + 20
    # A finish stamped in the future by a clock ahead of ours gets the full time.
    ahead = windows.finished(4, 104, "A026", clock.monotonic(), age=-3)
    assert ahead is not None and ahead.deadline == clock.monotonic() + TIMEOUT


def test_the_memory_of_tickets_is_bounded() -> None:
    windows = RatingWindows(TIMEOUT, remember=3)
    for ticket in range(5):
        windows.finished(1, ticket, f"A{ticket:03}", 0.0)
    assert windows.finished(1, 0, "A000", 0.0) is not None  # forgotten, so seen as new
    with pytest.raises(ValueError):
        RatingWindows(0)


@pytest.mark.parametrize("level", [1, 2])
def test_only_a_pad_may_record_a_bad_rating_without_a_reason(level: int) -> None:
    with pytest.raises(RatingNeedsReason):
        check_rating(level, [], None)
    with pytest.raises(RatingNeedsReason):
        check_rating(level, ["  "], " ")
    check_rating(level, [], None, from_pad=True)
    assert reason_missing(level, [], None)
    assert not reason_missing(level, ["等候时间长"], None)
    assert not reason_missing(level + 2, [], None)
