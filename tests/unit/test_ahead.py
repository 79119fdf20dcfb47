"""前方还有N人 (tickets/ahead.py): who is called before a ticket, by the class it competes in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.engine.tickets.ahead import ahead_of, effective_class
from services.engine.tickets.states import PriorityClass as P

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SLOT = (NOW - timedelta(minutes=10), NOW + timedelta(minutes=20))


@pytest.mark.parametrize(
    ("queued_at", "slot", "expected"),
    [
        (NOW - timedelta(minutes=5), SLOT, P.APPOINTMENT),  # checked in within its slot
        (NOW - timedelta(minutes=30), SLOT, P.APPOINTMENT),  # early, and the slot has begun
        (NOW, (NOW + timedelta(minutes=5), NOW + timedelta(minutes=35)), P.NORMAL),  # early
        (NOW, (NOW - timedelta(minutes=40), NOW - timedelta(minutes=10)), P.NORMAL),  # late
        (NOW, None, P.APPOINTMENT),  # no slot known (a transferred appointment)
    ],
)
def test_an_appointment_is_favoured_only_within_its_slot(
    queued_at: datetime, slot: tuple[datetime, datetime] | None, expected: P
) -> None:
    start, end = slot or (None, None)
    assert effective_class(P.APPOINTMENT, queued_at, start, end, NOW) is expected


@pytest.mark.parametrize("priority", [P.NORMAL, P.PRIORITY, P.GREEN])
def test_other_classes_keep_theirs(priority: P) -> None:
    late = (NOW - timedelta(hours=2), NOW - timedelta(hours=1))
    assert effective_class(priority, NOW, *late, NOW) is priority


def test_ahead_counts_classes_called_first_and_its_own_class_queued_earlier() -> None:
    waiting = {P.GREEN: 1, P.PRIORITY: 2, P.APPOINTMENT: 1, P.NORMAL: 4}
    earlier = {P.GREEN: 1, P.PRIORITY: 1, P.APPOINTMENT: 0, P.NORMAL: 3}
    assert ahead_of(P.GREEN, waiting, earlier) == 1
    assert ahead_of(P.PRIORITY, waiting, earlier) == 1 + 1 + 0
    assert ahead_of(P.NORMAL, waiting, earlier) == 1 + 2 + 1 + 3
    # A green ticket issued behind four normal ones is called first: none ahead.
    assert ahead_of(P.GREEN, {P.NORMAL: 4}, {P.NORMAL: 4}) == 0
