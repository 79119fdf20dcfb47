"""The ticket state machine and the window states: every transition, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from services.engine.core.errors import (
    InvalidTicketState,
    TicketNotHeld,
    TicketNotWaiting,
    WindowBusy,
    WindowClosed,
    WindowIdle,
    WindowPaused,
)
from services.engine.tickets.states import (
    IN_HAND_STATUSES,
    OPEN_STATUSES,
    TicketAction,
    TicketStatus,
    next_status,
    recall_outcome,
)
from services.engine.windows.states import WindowState as W
from services.engine.windows.states import (
    ensure_can_call,
    ensure_holding,
    next_state_for_close,
    next_state_for_open,
    next_state_for_pause,
    next_state_for_resume,
)

S = TicketStatus
A = TicketAction

# The whole table, written out independently of the module: (from, action) -> to.
ALLOWED: dict[tuple[TicketStatus, TicketAction], TicketStatus] = {
    (S.WAITING, A.CALL): S.CALLED,
    (S.CALLED, A.RECALL): S.CALLED,
    (S.CALLED, A.START): S.SERVING,
    (S.CALLED, A.FINISH): S.DONE,  # keypads without a start key
    (S.SERVING, A.FINISH): S.DONE,
    (S.CALLED, A.NO_SHOW): S.NO_SHOW,
    (S.CALLED, A.REQUEUE): S.WAITING,
    (S.CALLED, A.TRANSFER): S.TRANSFERRED,
    (S.SERVING, A.TRANSFER): S.TRANSFERRED,
    (S.WAITING, A.CANCEL): S.CANCELLED,
    (S.CALLED, A.CANCEL): S.CANCELLED,
    (S.WAITING, A.RETURN): S.WAITING,  # sent to a window that closed: back to its queue
    (S.CALLED, A.HOLD): S.HELD,  # 挂起, before or after 开始办理
    (S.SERVING, A.HOLD): S.HELD,
    (S.HELD, A.CALL_BACK): S.CALLED,  # 回呼
    (S.HELD, A.CANCEL): S.CANCELLED,  # the citizen gave up
    (S.HELD, A.EXPIRE): S.HELD_EXPIRED,  # its business day ended
}
# Issuing creates a ticket; it is no transition from any state.
ACTIONS = [a for a in TicketAction if a is not A.ISSUE]
EVERY_PAIR = list(itertools.product(TicketStatus, ACTIONS))


@pytest.mark.parametrize(("current", "action"), [p for p in EVERY_PAIR if p in ALLOWED])
def test_allowed_ticket_transition(current: TicketStatus, action: TicketAction) -> None:
    assert next_status(current, action) is ALLOWED[(current, action)]


@pytest.mark.parametrize(("current", "action"), [p for p in EVERY_PAIR if p not in ALLOWED])
def test_refused_ticket_transition(current: TicketStatus, action: TicketAction) -> None:
    with pytest.raises(InvalidTicketState) as caught:
        next_status(current, action)
    refusal = caught.value
    assert current.value in refusal.detail
    if action is A.CALL:
        # A clerk calling a ticket someone else already has gets the specific code.
        assert isinstance(refusal, TicketNotWaiting) and refusal.code == "ticket_not_waiting"
    elif action is A.CALL_BACK:
        assert isinstance(refusal, TicketNotHeld) and refusal.code == "ticket_not_held"
    else:
        assert type(refusal) is InvalidTicketState and refusal.code == "invalid_ticket_state"
        assert refusal.extra == {"ticket_status": current.value, "action": action.value}


def test_end_states_are_final() -> None:
    for status in (S.DONE, S.NO_SHOW, S.CANCELLED, S.TRANSFERRED, S.HELD_EXPIRED):
        for action in ACTIONS:
            with pytest.raises(InvalidTicketState):
                next_status(status, action)


def test_status_groups() -> None:
    # A held ticket is still the citizen's open ticket (one per person and service).
    assert {S.WAITING, S.CALLED, S.SERVING, S.HELD} == OPEN_STATUSES
    assert {S.CALLED, S.SERVING} == IN_HAND_STATUSES


@pytest.mark.parametrize(
    ("max_recalls", "outcomes"),
    [
        (3, [A.RECALL, A.RECALL, A.RECALL, A.NO_SHOW]),
        (1, [A.RECALL, A.NO_SHOW]),
        (0, [A.NO_SHOW]),  # a hall that never recalls: the recall key passes the number
    ],
)
def test_recall_limit(max_recalls: int, outcomes: list[TicketAction]) -> None:
    # recall_count: recalls already made for the ticket in hand.
    assert [recall_outcome(n, max_recalls) for n in range(len(outcomes))] == outcomes
    assert recall_outcome(max_recalls + 5, max_recalls) is A.NO_SHOW


# --- window states ---------------------------------------------------------------

CALL = {
    W.CLOSED: WindowClosed,
    W.PAUSED: WindowPaused,
    W.IDLE: None,
    W.CALLING: None,
    W.SERVING: None,
}
HOLD = {
    W.CLOSED: WindowClosed,
    W.IDLE: WindowIdle,
    W.PAUSED: WindowIdle,
    W.CALLING: None,
    W.SERVING: None,
}
OPEN = {
    W.CLOSED: W.IDLE,
    W.IDLE: W.IDLE,
    W.CALLING: W.CALLING,
    W.SERVING: W.SERVING,
    W.PAUSED: W.PAUSED,
}
CLOSE = {
    W.CLOSED: W.CLOSED,
    W.IDLE: W.CLOSED,
    W.PAUSED: W.CLOSED,
    W.CALLING: WindowBusy,
    W.SERVING: WindowBusy,
}
PAUSE = {
    W.CLOSED: WindowClosed,
    W.IDLE: W.PAUSED,
    W.PAUSED: W.PAUSED,
    W.CALLING: WindowBusy,
    W.SERVING: WindowBusy,
}
RESUME = {
    W.CLOSED: WindowClosed,
    W.PAUSED: W.IDLE,
    W.IDLE: W.IDLE,
    W.CALLING: W.CALLING,
    W.SERVING: W.SERVING,
}


@pytest.mark.parametrize("state", list(W))
def test_ensure_can_call(state: W) -> None:
    refusal = CALL[state]
    if refusal is None:
        ensure_can_call(state)
    else:
        with pytest.raises(refusal):
            ensure_can_call(state)


@pytest.mark.parametrize("state", list(W))
def test_ensure_holding(state: W) -> None:
    refusal = HOLD[state]
    if refusal is None:
        ensure_holding(state)
    else:
        with pytest.raises(refusal):
            ensure_holding(state)


@pytest.mark.parametrize(
    ("step", "table"),
    [
        (next_state_for_open, OPEN),
        (next_state_for_close, CLOSE),
        (next_state_for_pause, PAUSE),
        (next_state_for_resume, RESUME),
    ],
    ids=["open", "close", "pause", "resume"],
)
@pytest.mark.parametrize("state", list(W))
def test_window_transitions(step, table, state: W) -> None:  # type: ignore[no-untyped-def]
    expected = table[state]
    if isinstance(expected, W):
        assert step(state) is expected
    else:
        with pytest.raises(expected) as caught:
            step(state)
        assert caught.value.status == 409 and caught.value.detail


def test_window_refusal_codes() -> None:
    assert (WindowClosed.code, WindowPaused.code, WindowBusy.code, WindowIdle.code) == (
        "window_closed",
        "window_paused",
        "window_busy",
        "window_has_no_ticket",
    )
