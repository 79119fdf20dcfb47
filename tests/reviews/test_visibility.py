"""The rule of 我的评价 (reviews/visibility.py): a clerk sees a rating only once the
citizen can be taken to have gone, counted from both 办结 and the rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.engine.reviews.visibility import visible_from, visible_to_staff

DELAY = timedelta(minutes=30)
FINISHED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in the hall


def test_a_pad_rating_at_the_window_shows_half_an_hour_after_it() -> None:
    rated = FINISHED + timedelta(seconds=20)  # on the pad, the citizen still seated
    assert not visible_to_staff(FINISHED, rated, rated, DELAY)
    assert not visible_to_staff(FINISHED, rated, FINISHED + timedelta(minutes=30), DELAY)
    assert visible_to_staff(FINISHED, rated, rated + DELAY, DELAY)
    assert visible_from(FINISHED, rated, DELAY) == rated + DELAY


def test_a_qr_rating_later_counts_from_the_rating_not_the_finish() -> None:
    # Rated by the QR code two hours after 办结, perhaps from a seat in the hall.
    rated = FINISHED + timedelta(hours=2)
    assert not visible_to_staff(FINISHED, rated, rated + timedelta(minutes=5), DELAY)
    assert visible_to_staff(FINISHED, rated, rated + timedelta(minutes=31), DELAY)


def test_a_rating_before_the_recorded_finish_counts_from_the_finish() -> None:
    # Clocks of two devices may disagree by seconds: the later moment rules.
    rated = FINISHED - timedelta(seconds=5)
    assert visible_from(FINISHED, rated, DELAY) == FINISHED + DELAY


def test_no_finish_recorded_counts_from_the_rating() -> None:
    rated = FINISHED
    assert visible_from(None, rated, DELAY) == rated + DELAY


def test_the_delay_is_never_under_ten_minutes() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        visible_from(FINISHED, FINISHED, timedelta(minutes=9))
