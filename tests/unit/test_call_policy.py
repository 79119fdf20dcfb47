"""The calling policy: green first, F:M interleave, no starvation, service weights, targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.engine.tickets.states import PriorityClass
from services.engine.windows.call_policy import (
    FAVOURED,
    POLICIES,
    Candidate,
    InterleaveRatio,
    InterleaveState,
    WindowView,
    advance,
    eligible,
    rank,
)

P = PriorityClass
T0 = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)
SHORT = {P.NORMAL: "N", P.PRIORITY: "P", P.APPOINTMENT: "A", P.GREEN: "G"}


@dataclass
class Desk:
    """One window calling from a queue exactly as the engine does: rank, take the first, advance."""

    ratio: InterleaveRatio = field(default_factory=InterleaveRatio)
    weights: dict[int, float] = field(default_factory=lambda: {1: 1.0})
    window_id: int = 7
    clock: datetime = T0
    state: InterleaveState = field(default_factory=InterleaveState)
    waiting: list[Candidate] = field(default_factory=list)
    issued: list[Candidate] = field(default_factory=list)
    called: list[Candidate] = field(default_factory=list)

    def tick(self, seconds: float = 1.0) -> None:
        self.clock += timedelta(seconds=seconds)

    def arrive(
        self, priority: PriorityClass, service: int = 1, target: int | None = None
    ) -> Candidate:
        self.tick()
        ticket = Candidate(len(self.issued) + 1, service, priority, self.clock, target)
        self.issued.append(ticket)
        self.waiting.append(ticket)
        return ticket

    def call(self) -> Candidate | None:
        self.tick()
        view = WindowView(self.window_id, self.weights)
        ranked = rank(view, self.waiting, self.state, self.ratio, self.clock)
        if not ranked:
            return None
        chosen = ranked[0]
        self.state = advance(
            self.state,
            self.ratio,
            chosen.priority,
            favoured_waiting=any(c.priority in FAVOURED for c in ranked),
            normal_waiting=any(c.priority is P.NORMAL for c in ranked),
        )
        self.waiting.remove(chosen)
        self.called.append(chosen)
        return chosen

    def calls(self, count: int) -> str:
        out = []
        for _ in range(count):
            ticket = self.call()
            out.append("-" if ticket is None else SHORT[ticket.priority])
        return "".join(out)


def test_green_first_whatever_arrived_before() -> None:
    desk = Desk()
    for priority in (P.NORMAL, P.PRIORITY, P.APPOINTMENT, P.NORMAL):
        desk.arrive(priority)
    first_green = desk.arrive(P.GREEN)
    second_green = desk.arrive(P.GREEN)
    assert desk.call() == first_green
    assert desk.call() == second_green
    # Green calls leave the interleave cycle where it was: P/A then N as usual.
    assert desk.calls(4) == "PANN"


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        ((2, 1), "PPNPPNPPNNNN"),
        ((3, 1), "PPPNPPPNNNNN"),
        ((1, 1), "PNPNPNPNPNPN"),
        ((1, 2), "PNNPNNPNNPPP"),
        ((2, 2), "PPNNPPNNPPNN"),
    ],
)
def test_interleave_ratio(ratio: tuple[int, int], expected: str) -> None:
    desk = Desk(InterleaveRatio(*ratio))
    for _ in range(6):
        desk.arrive(P.NORMAL)
    for _ in range(6):
        desk.arrive(P.PRIORITY)
    assert desk.calls(13) == expected + "-"


def test_appointments_count_as_favoured() -> None:
    desk = Desk()
    for _ in range(3):
        desk.arrive(P.NORMAL)
    for _ in range(3):
        desk.arrive(P.APPOINTMENT)
    assert desk.calls(6) == "AANANN"


def test_one_class_alone_builds_no_debt() -> None:
    desk = Desk()
    for _ in range(4):
        desk.arrive(P.PRIORITY)
    assert desk.calls(4) == "PPPP"
    # Normal tickets arriving now get the usual cycle, not a backlog of favoured debt.
    for _ in range(2):
        desk.arrive(P.NORMAL)
    for _ in range(4):
        desk.arrive(P.PRIORITY)
    assert desk.calls(6) == "PPNPPN"


def test_fifo_within_a_class() -> None:
    desk = Desk(weights={1: 1.0, 2: 1.0})
    tickets = [desk.arrive(P.NORMAL, service=1 + i % 2) for i in range(6)]
    desk.tick(120)
    assert [desk.call() for _ in range(6)] == tickets


def test_no_starvation_under_an_endless_stream_of_priority_tickets() -> None:
    desk = Desk()
    normals = [desk.arrive(P.NORMAL) for _ in range(5)]
    for _ in range(30):
        # Two priority citizens arrive for every call: favoured never runs out.
        desk.arrive(P.PRIORITY)
        desk.arrive(P.PRIORITY)
        desk.call()
    positions = [desk.called.index(n) for n in normals]
    assert positions == [2, 5, 8, 11, 14]


def test_weight_prefers_a_service_but_a_long_wait_still_wins() -> None:
    desk = Desk(weights={1: 2.0, 2: 1.0})
    low = desk.arrive(P.NORMAL, service=2)
    high = desk.arrive(P.NORMAL, service=1)
    desk.tick(30)
    assert desk.call() == high  # (30+1)*2 beats (31+1)*1

    view = WindowView(7, {1: 2.0, 2: 1.0})
    now = T0 + timedelta(seconds=100)
    old_low = Candidate(1, 2, P.NORMAL, T0)  # waited 100 s, weight 1
    recent_high = Candidate(2, 1, P.NORMAL, T0 + timedelta(seconds=40))  # waited 60 s, weight 2
    newer_high = Candidate(3, 1, P.NORMAL, T0 + timedelta(seconds=60))  # waited 40 s, weight 2
    state, ratio = InterleaveState(), InterleaveRatio()
    assert rank(view, [old_low, recent_high], state, ratio, now)[0] == recent_high
    assert rank(view, [old_low, newer_high], state, ratio, now)[0] == old_low
    del low


def test_low_weight_service_served_in_a_stream_of_high_weight_tickets() -> None:
    desk = Desk(weights={1: 2.0, 2: 1.0})
    for _ in range(5):
        desk.arrive(P.NORMAL, service=1)
    low = desk.arrive(P.NORMAL, service=2)
    for _ in range(40):
        desk.tick(10)
        desk.arrive(P.NORMAL, service=1)  # a weight-2 ticket every 10 s, forever
        desk.call()
    position = desk.called.index(low)
    assert 0 < position < 20  # not first (weight 2 preferred), but not starved either


def test_targeted_tickets() -> None:
    here = WindowView(7, {1: 1.0})
    other = Candidate(1, 1, P.NORMAL, T0, target_window_id=8)
    mine = Candidate(2, 9, P.NORMAL, T0 + timedelta(seconds=5), target_window_id=7)
    plain = Candidate(3, 1, P.NORMAL, T0 + timedelta(seconds=10))
    foreign_service = Candidate(4, 9, P.NORMAL, T0)
    assert not eligible(other, here)  # transferred to window 8: only window 8 may call it
    assert eligible(mine, here)  # transferred here, even for a service this window lacks
    assert eligible(plain, here)
    assert not eligible(foreign_service, here)
    now = T0 + timedelta(seconds=60)
    ranked = rank(
        here, [other, mine, plain, foreign_service], InterleaveState(), InterleaveRatio(), now
    )
    assert ranked == [mine, plain]


def test_weight_zero_is_not_served() -> None:
    view = WindowView(7, {1: 1.0, 2: 0.0})
    assert not eligible(Candidate(1, 2, P.NORMAL, T0), view)


def test_rank_lists_every_eligible_ticket_best_first() -> None:
    desk = Desk()
    for priority in (P.NORMAL, P.NORMAL, P.PRIORITY, P.GREEN, P.APPOINTMENT):
        desk.arrive(priority)
    ranked = rank(
        WindowView(7, {1: 1.0}), desk.waiting, InterleaveState(2, 0), InterleaveRatio(), desk.clock
    )
    # Favoured already had its two turns: green, then normal before favoured.
    assert "".join(SHORT[c.priority] for c in ranked) == "GNNPA"
    assert POLICIES["interleave"] is rank


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


# --- the no-starvation property ----------------------------------------------------

EVENTS = st.sampled_from(["N", "N2", "P", "A", "G", "call", "call", "call"])


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(EVENTS, max_size=120),
    favoured=st.integers(1, 4),
    normal=st.integers(1, 3),
    second_weight=st.sampled_from([1.0, 1.0, 2.0, 0.5]),
)
def test_normal_tickets_never_starve(
    events: list[str], favoured: int, normal: int, second_weight: float
) -> None:
    """Over any arrivals, a normal ticket is overtaken by at most F favoured tickets per turn.

    A normal ticket's "turns" are the normal calls it waits through, its own included;
    with equal weights normal tickets are FIFO and that is the normal tickets ahead
    of it when it was issued, plus one.
    """
    ratio = InterleaveRatio(favoured, normal)
    desk = Desk(ratio, weights={1: 1.0, 2: second_weight})
    kinds = {"N": P.NORMAL, "N2": P.NORMAL, "P": P.PRIORITY, "A": P.APPOINTMENT, "G": P.GREEN}
    normals_ahead: dict[int, int] = {}
    issued_before_call: list[int] = []  # per call: how many tickets had been issued
    streak = 0  # favoured calls in a row while a normal ticket waited

    def one_call() -> bool:
        nonlocal streak
        normal_waiting = any(c.priority is P.NORMAL for c in desk.waiting)
        green_waiting = any(c.priority is P.GREEN for c in desk.waiting)
        ticket = desk.call()
        if ticket is None:
            return False
        issued_before_call.append(len(desk.issued))
        if green_waiting:
            assert ticket.priority is P.GREEN  # green first, always
        if ticket.priority is P.NORMAL or not normal_waiting:
            streak = 0
        elif ticket.priority in FAVOURED:
            streak += 1
            assert streak <= ratio.favoured, "normal tickets skipped for too long"
        return True

    for event in events:
        if event == "call":
            one_call()
            continue
        ticket = desk.arrive(kinds[event], service=2 if event == "N2" else 1)
        normals_ahead[ticket.ticket_id] = sum(c.priority is P.NORMAL for c in desk.waiting) - 1
    while one_call():  # the day goes on until everyone has been called
        pass

    assert sorted(c.ticket_id for c in desk.called) == [c.ticket_id for c in desk.issued]
    for position, ticket in enumerate(desk.called):
        if ticket.priority is not P.NORMAL:
            continue
        # Calls made while this ticket waited (ids are handed out in issue order).
        while_waiting = [
            c
            for c, issued in zip(desk.called[:position], issued_before_call, strict=False)
            if issued >= ticket.ticket_id
        ]
        favoured_calls = [c for c in while_waiting if c.priority in FAVOURED]
        overtaking = [c for c in favoured_calls if c.ticket_id > ticket.ticket_id]
        turns = sum(c.priority is P.NORMAL for c in while_waiting) + 1
        assert len(favoured_calls) <= ratio.favoured * turns
        if second_weight == 1.0:
            assert turns == normals_ahead[ticket.ticket_id] + 1  # FIFO among normal tickets
            assert len(overtaking) <= ratio.favoured * (normals_ahead[ticket.ticket_id] + 1)
