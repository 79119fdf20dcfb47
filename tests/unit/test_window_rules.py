"""Who may act at a window, hold and call back, the outcome of a case: pure rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.engine.core.errors import (
    HeldByOtherWindow,
    NothingHeld,
    NotSignedIn,
    OutcomeRequired,
    Refusal,
    StaffOnly,
    TicketNotHeld,
    WindowBusy,
    WindowClosed,
    WindowPaused,
)
from services.engine.tickets.states import Outcome, held_seconds
from services.engine.windows.rules import (
    HeldTicket,
    ensure_can_call_back,
    ensure_may_act,
    ensure_may_sign_in,
    ensure_may_sign_out,
    held_to_call_back,
    outcome_of,
    same_number,
)
from services.engine.windows.states import WindowState as W
from tests.helpers import ROOT

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_staff_act_only_where_signed_in() -> None:
    ensure_may_act(role="staff", user_id=7, signed_in=7, window=1)
    for signed_in in (None, 8):
        with pytest.raises(NotSignedIn) as caught:
            ensure_may_act(role="staff", user_id=7, signed_in=signed_in, window=3)
        assert caught.value.extra == {"window": 3} and caught.value.status == 403
    # Managers, admins and the hall's devices (the window's own keypad) act anywhere.
    for role in ("manager", "admin", "gateway"):
        ensure_may_act(role=role, user_id=None, signed_in=None, window=1)


def test_sign_in_and_out() -> None:
    ensure_may_sign_in(kind="user")
    with pytest.raises(StaffOnly):
        ensure_may_sign_in(kind="device")
    for state in (W.CLOSED, W.IDLE, W.PAUSED):
        ensure_may_sign_out(state)
    for state in (W.CALLING, W.SERVING):
        with pytest.raises(WindowBusy):
            ensure_may_sign_out(state)


@pytest.mark.parametrize(
    ("state", "refusal"),
    [
        (W.CLOSED, WindowClosed),
        (W.PAUSED, WindowPaused),
        (W.CALLING, WindowBusy),
        (W.SERVING, WindowBusy),
        (W.IDLE, None),
    ],
)
def test_call_back_needs_a_free_open_window(state: W, refusal: type[Refusal] | None) -> None:
    if refusal is None:
        ensure_can_call_back(state)
    else:
        with pytest.raises(refusal):
            ensure_can_call_back(state)


HELD = [
    HeldTicket(11, "A011", window_id=1, held_at=T0 + timedelta(minutes=5)),
    HeldTicket(12, "A012", window_id=1, held_at=T0),
    HeldTicket(13, "B003", window_id=2, held_at=T0 - timedelta(minutes=9)),
]


def test_call_back_without_a_ticket_takes_the_one_held_longest_here() -> None:
    assert held_to_call_back(HELD, window_id=1, ticket_id=None, number=None).ticket_id == 12
    assert held_to_call_back(HELD, window_id=2, ticket_id=None, number=None).ticket_id == 13
    with pytest.raises(NothingHeld):
        held_to_call_back(HELD, window_id=3, ticket_id=None, number=None)


def test_call_back_of_a_named_ticket() -> None:
    assert held_to_call_back(HELD, window_id=1, ticket_id=11, number=None).number == "A011"
    assert held_to_call_back(HELD, window_id=1, ticket_id=None, number="a11").ticket_id == 11
    with pytest.raises(HeldByOtherWindow) as caught:
        held_to_call_back(HELD, window_id=1, ticket_id=13, number=None)
    assert caught.value.extra == {"ticket_id": 13}
    with pytest.raises(TicketNotHeld):
        held_to_call_back(HELD, window_id=1, ticket_id=99, number=None)
    with pytest.raises(TicketNotHeld):
        held_to_call_back(HELD, window_id=1, ticket_id=None, number="C001")


def test_typed_numbers() -> None:
    assert same_number("A023", "a23") and same_number("A023", " A 023 ")
    assert not same_number("A023", "B023") and not same_number("A023", "x")


def test_outcome() -> None:
    assert outcome_of(Outcome.TOLD_MISSING, required=True, by_person=True) is Outcome.TOLD_MISSING
    assert outcome_of(None, required=False, by_person=True) is None
    # A keypad has no key for it: its 办结 records none, even where required.
    assert outcome_of(None, required=True, by_person=False) is None
    with pytest.raises(OutcomeRequired) as caught:
        outcome_of(None, required=True, by_person=True)
    assert caught.value.extra["outcomes"] == [
        "done",
        "accepted",
        "told_missing",
        "consulted",
        "referred",
    ]


def test_held_seconds() -> None:
    assert held_seconds(T0, T0 + timedelta(minutes=3, seconds=2)) == 182
    assert held_seconds(T0, T0 - timedelta(seconds=5)) == 0  # two engines' clocks


def test_every_refusal_at_a_window_is_said_in_chinese_on_the_console() -> None:
    """The console's messages (static/js/problems.js) cover every code a window action,
    a login or the console view can answer with."""
    source = (ROOT / "services/engine/static/js/problems.js").read_text(encoding="utf-8")
    said = set(re.findall(r"^  ([a-z_]+): ", source, re.MULTILINE))
    from services.engine.core import errors

    window_codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.Refusal)
    } - {
        # The booking partner's API and hall set-up: no console answers with these.
        "hall_config_invalid",
    }
    missing = window_codes - said
    assert not missing, f"problems.js has no Chinese message for {sorted(missing)}"
