"""The favoured:normal interleave's ratio and state (balancing.interleave).

How a window's calls follow the interleave is a property of the calling policy:
tests/balancing/test_policy_properties.py.
"""

from __future__ import annotations

import pytest

from services.engine.balancing.interleave import InterleaveRatio, InterleaveState, advance
from services.engine.tickets.states import PriorityClass

P = PriorityClass


def test_ratio_must_be_positive() -> None:
    with pytest.raises(ValueError):
        InterleaveRatio(0, 1)
    with pytest.raises(ValueError):
        InterleaveRatio(2, 0)


def test_advance() -> None:
    ratio = InterleaveRatio(2, 1)
    both = {"favoured_waiting": True, "normal_waiting": True}
    state = advance(InterleaveState(), ratio, P.PRIORITY, **both)
    assert state == InterleaveState(1, 0)
    assert advance(state, ratio, P.GREEN, **both) == state
    state = advance(state, ratio, P.APPOINTMENT, **both)
    assert state == InterleaveState(2, 0)
    assert advance(state, ratio, P.NORMAL, **both) == InterleaveState()
    assert advance(state, InterleaveRatio(2, 2), P.NORMAL, **both) == InterleaveState(2, 1)
    alone = {"favoured_waiting": True, "normal_waiting": False}
    assert advance(state, ratio, P.PRIORITY, **alone) == InterleaveState()
