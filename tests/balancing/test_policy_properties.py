"""Properties of the live calling policy (balancing.policy), checked with hypothesis.

A simulated window calls exactly as the engine's call-next does: rank the waiting
tickets, take the first, move the interleave on with ``advance``. The oracles
below restate the policy's documented rules (the module docstring) on their own,
in exact arithmetic, rather than calling the policy's helpers.

Help is decided per service (the README's promise, issue #21): a secondary
service's tickets are candidates only when its most overdue ticket (any class) is
more overdue than the window's most overdue own ticket -- with the look-ahead,
when it is left waiting one case of the window's own most overdue service, and
the own tickets their share of one helped case (divided among the open windows
whose own work they are). The policy
returns the candidates; a window with anything it may serve waiting has some.

The bounds, for one window calling once a step (``STEP`` seconds apart):

* Green first: whenever a green ticket waits, a green ticket is called.
* Interleave: take the non-green calls made while both a favoured and a normal
  ticket waited, in runs broken by a call with only one class waiting. Each run
  is F favoured, M normal, F favoured, ... from its start (a call with one class
  alone starts the cycle afresh: no debt). So every F+M consecutive calls of a
  run call exactly F favoured and M normal tickets.
* No starvation between classes: while a normal ticket waits, at most F favoured
  calls come between two normal calls (at most M normal calls between two
  favoured ones, for a favoured ticket). Inside one service a class is first come
  first served, so a normal ticket with q normal tickets ahead of it when issued
  is called after at most q + F(q + 1) non-green calls (q + M(q + 1) for a
  favoured ticket). Green calls are not bounded: green always goes first.
  (One service: the window's own, or a secondary one, helped whenever it waits.)
* No starvation inside a class: with link weights in [w_min, w_max] and target
  waits in [T_min, T_max], a ticket y called ahead of a waiting ticket x had
  urgency(y) >= urgency(x), and urgency(y) <= waited(y) W / T_min with
  W = max(w_max, 1), urgency(x) >= waited(x) m / T_max with m = 1 once x is past
  its target and min(w_min, 1) before. Hence waited(y) >= rho(x) waited(x),
  rho(x) = m T_min / (W T_max): a later ticket overtakes x only while it has
  waited at least that fraction of x's wait. With at most one new ticket per step,
  the k calls made while x waits took the q tickets waiting with x at its first
  call, or tickets issued in the first (1 - rho) (k - 1) + (1 - rho) / STEP steps
  after x, at most one a step; so k <= q + (1 - rho)(k - 1) + (1 - rho) / STEP,
  which gives k <= q / rho with rho = min(w_min, 1) T_min / (W T_max), q counting
  every ticket the window may serve that waited at x's first call. This holds
  under help per service: a ticket of a service not helped is at most as urgent
  as the window's most urgent own ticket, which the chosen one is at least.
* Weights and aging, inside a class: urgency is waited / target x weight (the
  weight raised to 1 once the ticket is past its target); strictly more urgent
  ranks ahead; on equal urgency the window's primary (or tidal) service first,
  then queue order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.engine.balancing.interleave import InterleaveRatio, InterleaveState, advance
from services.engine.balancing.policy import (
    DEFAULT_TARGET_SECONDS,
    POLICIES,
    CallPolicy,
    Candidate,
    Link,
    Role,
    WindowView,
    classes_waiting,
    rank,
    taken_class,
)
from services.engine.tickets.states import PriorityClass

P = PriorityClass
T0 = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)
HERE, ELSEWHERE = 7, 8  # this window, and another window tickets may be passed to
STEP = 60  # seconds between two calls of the simulated window
# Powers of two: urgency = (waited / target) x weight is then exact in floats
# whenever it is exact in fractions, so the oracle's ties are the policy's ties.
WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0)
TARGETS = (300, 600, 1200, 1800)
# Waits (seconds) with many exact ties between targets and weights, and any others.
WAITS = st.one_of(
    st.sampled_from([0, 59, 119, 239, 299, 479, 599, 899, 1199, 1799, 2399, 3599]),
    st.integers(0, 4000),
)
SLOW = settings(max_examples=250, deadline=None)
FAST = settings(max_examples=300, deadline=None)

# What arrives: "N" normal, "P" priority group, "G" green channel, appointments with
# no slot known ("A"), checked in within their slot ("A_open"), after it ended
# ("A_late", a normal ticket) or before it starts ("A_early", normal until it starts).
KINDS = ("N", "N", "N", "P", "P", "A", "A_open", "A_late", "A_early", "G")


def make_ticket(
    kind: str, ticket_id: int, service: int, queued_at: datetime, target: int | None = None
) -> Candidate:
    priority = {"N": P.NORMAL, "P": P.PRIORITY, "G": P.GREEN}.get(kind, P.APPOINTMENT)
    start: datetime | None = None
    end: datetime | None = None
    if kind == "A_open":
        start, end = queued_at - timedelta(minutes=10), queued_at + timedelta(minutes=20)
    elif kind == "A_late":
        start, end = queued_at - timedelta(minutes=60), queued_at - timedelta(minutes=30)
    elif kind == "A_early":
        start = queued_at + timedelta(seconds=3 * STEP)
        end = start + timedelta(minutes=30)
    return Candidate(ticket_id, service, priority, queued_at, target, start, end)


# --- oracles: the documented rules, restated ------------------------------------------


def cls(c: Candidate, now: datetime) -> str:
    """ "G" green, "F" favoured, "N" normal, as the ticket competes at ``now``."""
    if c.priority is P.GREEN:
        return "G"
    if c.priority is P.NORMAL:
        return "N"
    if c.priority is P.APPOINTMENT:
        if c.slot_end is not None and c.queued_at > c.slot_end:
            return "N"  # checked in after its slot: a normal ticket
        if c.slot_start is not None and now < c.slot_start:
            return "N"  # early: normal until its slot starts
    return "F"


def sees(window: WindowView, c: Candidate) -> bool:
    """A window sees its services' tickets (weight above 0) and tickets passed to it."""
    if c.target_window_id is not None:
        return c.target_window_id == window.window_id
    link = window.links.get(c.service_id)
    return link is not None and link.weight > 0


def waited(c: Candidate, now: datetime) -> Fraction:
    """Seconds waited, plus one (the policy's own convention: a fresh ticket has waited 1 s)."""
    return Fraction(max(int((now - c.queued_at).total_seconds()), 0)) + 1


def target_of(window: WindowView, c: Candidate) -> Fraction:
    return Fraction(window.target_seconds.get(c.service_id, DEFAULT_TARGET_SECONDS))


def weight_of(window: WindowView, c: Candidate) -> Fraction:
    if c.target_window_id == window.window_id:  # passed here by name: its highest weight
        return Fraction(max(link.weight for link in window.links.values()))
    return Fraction(window.links[c.service_id].weight)


def is_primary(window: WindowView, c: Candidate) -> bool:
    if c.target_window_id == window.window_id:
        return True
    return window.links[c.service_id].role is not Role.SECONDARY


def urgency(window: WindowView, c: Candidate, now: datetime) -> Fraction:
    age = waited(c, now) / target_of(window, c)
    weight = weight_of(window, c)
    if age >= 1:
        weight = max(weight, Fraction(1))  # past its target, a low weight no longer holds it
    return age * weight


def own(window: WindowView, c: Candidate) -> bool:
    """The window's own work: primary and tidal services, tickets passed to it."""
    return is_primary(window, c)


def urgency_at(window: WindowView, c: Candidate, now: datetime, later: int) -> Fraction:
    """Urgency ``later`` seconds from now (whole seconds, exact)."""
    return urgency(window, c, now + timedelta(seconds=later))


def handle_of(window: WindowView, service: int) -> int:
    return int(window.handle_seconds.get(service, 0))


def helped(window: WindowView, tickets: Sequence[Candidate], now: datetime) -> set[int]:
    """The rule, restated: services helped, by their most overdue ticket against the own."""
    seen = [c for c in tickets if sees(window, c)]
    mine = [c for c in seen if own(window, c)]
    theirs: dict[int, list[Candidate]] = {}
    for c in seen:
        if not own(window, c):
            theirs.setdefault(c.service_id, []).append(c)
    if not mine:
        return set(theirs)
    top = max(mine, key=lambda c: urgency(window, c, now))
    out = set()
    for service, items in theirs.items():
        their_worst = max(
            urgency_at(window, c, now, handle_of(window, top.service_id)) for c in items
        )
        my_worst = max(
            urgency_at(window, c, now, handle_of(window, service) // sharing(window, c))
            for c in mine
        )
        if their_worst > my_worst:
            out.add(service)
    return out


def sharing(window: WindowView, c: Candidate) -> int:
    """Open windows taking the ticket as their own work: its share of a helped case."""
    if c.target_window_id == window.window_id:
        return 1
    return max(window.own_windows.get(c.service_id, 1), 1)


def candidates_of(window: WindowView, tickets: Sequence[Candidate], now: datetime) -> list[int]:
    """Ids of the tickets the balanced policy may call now: own, and of helped services."""
    services = helped(window, tickets, now)
    return sorted(
        c.ticket_id
        for c in tickets
        if sees(window, c) and (own(window, c) or c.service_id in services)
    )


# --- a window calling as the engine does ------------------------------------------------


@dataclass
class Call:
    step: int
    now: datetime
    ranked: list[Candidate]
    chosen: Candidate
    # Every waiting ticket the window could see at the call.
    seen: list[Candidate] = field(default_factory=list)


@dataclass
class Day:
    issued_at_step: dict[int, int] = field(default_factory=dict)
    tickets: dict[int, Candidate] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def call_index(self) -> dict[int, int]:
        return {call.chosen.ticket_id: i for i, call in enumerate(self.calls)}


Arrival = tuple[str, int, int | None]  # kind, service, window it was passed to


def run_day(
    policy: CallPolicy,
    window: WindowView,
    ratio: InterleaveRatio,
    arrivals: Sequence[Sequence[Arrival]],
) -> Day:
    """Each step the step's tickets arrive, then the window calls once; then it serves
    on, with no more arrivals, until nothing it may serve waits."""
    day, state = Day(), InterleaveState()
    waiting: list[Candidate] = []
    step = 0
    while True:
        now = T0 + timedelta(seconds=STEP * step)
        for kind, service, target in arrivals[step] if step < len(arrivals) else ():
            ticket = make_ticket(kind, len(day.tickets) + 1, service, now, target)
            day.tickets[ticket.ticket_id] = ticket
            day.issued_at_step[ticket.ticket_id] = step
            waiting.append(ticket)
        ranked = policy(window, waiting, state, ratio, now)
        seen = [c for c in waiting if sees(window, c)]
        if ranked:
            chosen = ranked[0]
            favoured_waiting, normal_waiting = classes_waiting(ranked, now)
            state = advance(
                state,
                ratio,
                taken_class(chosen, now),
                favoured_waiting=favoured_waiting,
                normal_waiting=normal_waiting,
            )
            waiting.remove(chosen)
            day.calls.append(Call(step, now, ranked, chosen, seen))
        elif step >= len(arrivals):
            return day
        step += 1


# --- strategies -------------------------------------------------------------------------


# Mean handle times: whole seconds, divisible by 1-4 windows sharing (exact look-ahead).
HANDLES = (60, 180, 300, 600, 900)


@st.composite
def windows(
    draw: st.DrawFn, max_services: int = 4, zero_weights: bool = False, handles: bool = False
) -> WindowView:
    weights = (0.0, *WEIGHTS) if zero_weights else WEIGHTS
    count = draw(st.integers(1, max_services))
    links = {
        service: Link(draw(st.sampled_from(weights)), draw(st.sampled_from(list(Role))))
        for service in range(1, count + 1)
    }
    targets = {service: float(draw(st.sampled_from(TARGETS))) for service in links}
    handle: dict[int, float] = {}
    own_windows: dict[int, int] = {}
    if handles:
        # Known for some services (the engine knows every one it serves; a view may not).
        for service in range(1, count + 2):
            if draw(st.booleans()):
                handle[service] = float(draw(st.sampled_from(HANDLES)))
            if draw(st.booleans()):
                own_windows[service] = draw(st.integers(0, 4))
    return WindowView(HERE, links, targets, handle, own_windows)


ratios = st.builds(InterleaveRatio, st.integers(1, 4), st.integers(1, 3))


def arrival(services: int) -> st.SearchStrategy[Arrival]:
    """Mostly the window's services; sometimes a service it lacks, or a passed ticket."""
    return st.tuples(
        st.sampled_from(KINDS),
        st.integers(1, services + 1),
        st.sampled_from([None] * 8 + [HERE, ELSEWHERE]),
    )


# --- green first ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLICIES))
@FAST
@given(
    window=windows(zero_weights=True, handles=True),
    tickets=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 5), WAITS), max_size=15),
    passed=st.lists(st.sampled_from([None, None, None, HERE, ELSEWHERE]), min_size=15, max_size=15),
    state=st.builds(InterleaveState, st.integers(0, 5), st.integers(0, 3)),
    ratio=ratios,
)
def test_ranks_the_candidates_and_green_first(
    name: str,
    window: WindowView,
    tickets: list[tuple[str, int, int]],
    passed: list[int | None],
    state: InterleaveState,
    ratio: InterleaveRatio,
) -> None:
    now = T0 + timedelta(hours=2)
    candidates = [
        make_ticket(kind, i, service, now - timedelta(seconds=wait), passed[i])
        for i, (kind, service, wait) in enumerate(tickets)
    ]
    ranked = POLICIES[name](window, candidates, state, ratio, now)
    seen = [c.ticket_id for c in candidates if sees(window, c)]
    if name == "balanced":
        # Own tickets and those of the helped services: nothing else, nothing missing.
        assert sorted(c.ticket_id for c in ranked) == candidates_of(window, candidates, now)
    else:
        assert sorted(c.ticket_id for c in ranked) == seen
    # Never idle while a ticket the window may serve waits.
    assert bool(ranked) == bool(seen)
    greens = sum(cls(c, now) == "G" for c in ranked)
    assert all(cls(c, now) == "G" for c in ranked[:greens]), "a green ticket ranked behind"


@SLOW
@given(
    window=windows(handles=True),
    ratio=ratios,
    arrivals=st.lists(st.lists(arrival(4), max_size=3), min_size=1, max_size=50),
)
def test_never_leaves_a_more_overdue_own_ticket_for_a_less_overdue_service(
    window: WindowView, ratio: InterleaveRatio, arrivals: list[list[Arrival]]
) -> None:
    """Help per service, over a random day: a secondary service's ticket is called only
    while that service's most overdue ticket (any class) is the more overdue, at the end
    of the case (look-ahead), than the window's most overdue own ticket."""
    day = run_day(rank, window, ratio, arrivals)
    for call in day.calls:
        chosen, now = call.chosen, call.now
        if own(window, chosen):
            continue
        mine = [c for c in call.seen if own(window, c)]
        if not mine:
            continue  # nothing of its own waited: helping is all it could do
        service = chosen.service_id
        top = max(mine, key=lambda c: urgency(window, c, now))
        theirs = [c for c in call.seen if c.service_id == service and not own(window, c)]
        their_worst = max(
            urgency_at(window, c, now, handle_of(window, top.service_id)) for c in theirs
        )
        my_worst = max(
            urgency_at(window, c, now, handle_of(window, service) // sharing(window, c))
            for c in mine
        )
        assert their_worst > my_worst, (
            f"called {chosen} of service {service} ({their_worst}) "
            f"while its own work was more overdue ({my_worst})"
        )
    # Everyone the window may serve was called, the rest never.
    assert sorted(day.call_index()) == [t for t, c in day.tickets.items() if sees(window, c)]


# --- the interleave ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLICIES))
@SLOW
@given(
    window=windows(),
    ratio=ratios,
    arrivals=st.lists(st.lists(arrival(4), max_size=3), min_size=1, max_size=50),
)
def test_interleave_f_favoured_then_m_normal_while_both_wait(
    name: str, window: WindowView, ratio: InterleaveRatio, arrivals: list[list[Arrival]]
) -> None:
    day = run_day(POLICIES[name], window, ratio, arrivals)
    cycle = "F" * ratio.favoured + "N" * ratio.normal
    runs: list[str] = []
    run = ""
    for call in day.calls:
        waiting = {cls(c, call.now) for c in call.ranked}
        taken = cls(call.chosen, call.now)
        if "G" in waiting:
            assert taken == "G", f"green waited but the window called {taken}"
            continue  # a green call leaves the cycle where it was
        if waiting >= {"F", "N"}:
            expected = cycle[len(run) % len(cycle)]
            assert taken == expected, f"{run + taken!r} breaks the {cycle!r} cycle"
            run += taken
        else:
            # One class alone: the cycle starts afresh (no debt carried over).
            runs.append(run)
            run = ""
    runs.append(run)
    width = ratio.favoured + ratio.normal
    for run in runs:
        for start in range(len(run) - width + 1):
            assert run[start : start + width].count("F") == ratio.favoured
    # Everyone the window may serve was called, the rest never.
    called = sorted(day.call_index())
    assert called == [t for t, c in day.tickets.items() if sees(window, c)]


# --- no starvation between classes -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLICIES))
@SLOW
@given(
    weight=st.sampled_from(WEIGHTS),
    role=st.sampled_from(list(Role)),
    target=st.sampled_from(TARGETS),
    ratio=ratios,
    arrivals=st.lists(
        st.lists(
            # One service; classes that stay put (an early appointment changes class).
            st.tuples(
                st.sampled_from(["N", "N", "A_late", "P", "A", "A_open", "G"]),
                st.just(1),
                st.none(),
            ),
            max_size=3,
        ),
        min_size=1,
        max_size=50,
    ),
)
def test_no_ticket_starves_behind_the_other_class(
    name: str,
    weight: float,
    role: Role,
    target: int,
    ratio: InterleaveRatio,
    arrivals: list[list[Arrival]],
) -> None:
    window = WindowView(HERE, {1: Link(weight, role)}, {1: float(target)})
    day = run_day(POLICIES[name], window, ratio, arrivals)
    index = day.call_index()
    assert sorted(index) == sorted(day.tickets), "a ticket was never called"
    for ticket_id, ticket in day.tickets.items():
        issued = day.issued_at_step[ticket_id]
        mine = cls(ticket, ticket.queued_at)
        if mine == "G":
            continue
        # Tickets of its class issued before it and not yet called when it was issued.
        ahead = sum(
            1
            for other_id, other in day.tickets.items()
            if other_id < ticket_id
            and cls(other, other.queued_at) == mine
            and day.calls[index[other_id]].step >= issued
        )
        meanwhile = [
            cls(call.chosen, call.now)
            for call in day.calls[: index[ticket_id]]
            if call.step >= issued
        ]
        same = meanwhile.count(mine)
        other = len(meanwhile) - same - meanwhile.count("G")
        turn = ratio.favoured if mine == "N" else ratio.normal  # the other class's turn
        assert same <= ahead, "overtaken inside its own class on one service"
        assert other <= turn * (same + 1), f"{meanwhile} while a {mine} ticket waited"
        assert same + other <= ahead + turn * (ahead + 1)


# --- no starvation inside a class -------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn, services: int, max_steps: int = 80) -> list[int | None]:
    """At most one ticket a step, in runs of one service (or of quiet steps)."""
    runs = draw(
        st.lists(
            st.tuples(st.one_of(st.none(), st.integers(1, services)), st.integers(1, 30)),
            max_size=8,
        )
    )
    return [service for service, length in runs for _ in range(length)][:max_steps]


@SLOW
@given(data=st.data(), window=windows())
def test_no_ticket_starves_inside_its_class(data: st.DataObject, window: WindowView) -> None:
    services = len(window.links)
    backlog = data.draw(st.lists(st.integers(1, services), max_size=15), label="backlog")
    stream = data.draw(streams(services), label="stream")
    arrivals: list[list[Arrival]] = [[("N", s, None) for s in backlog]]
    arrivals += [[] if s is None else [("N", s, None)] for s in stream]
    day = run_day(rank, window, InterleaveRatio(), arrivals)
    index = day.call_index()
    assert sorted(index) == sorted(day.tickets), "a ticket was never called"

    weights = [Fraction(link.weight) for link in window.links.values()]
    targets = [Fraction(t) for t in window.target_seconds.values()]
    big_w, small_w = max(*weights, Fraction(1)), min(*weights, Fraction(1))
    spread = min(targets) / (big_w * max(targets))
    rho = small_w * spread
    for ticket_id, ticket in day.tickets.items():
        issued = day.issued_at_step[ticket_id]
        meanwhile = [call for call in day.calls[: index[ticket_id]] if call.step >= issued]
        for call in meanwhile:
            # Overtaken only by a ticket that has waited a fixed share of its own wait.
            past_target = waited(ticket, call.now) >= target_of(window, ticket)
            share = spread if past_target else rho
            assert waited(call.chosen, call.now) >= share * waited(ticket, call.now), (
                f"ticket {call.chosen.ticket_id} overtook ticket {ticket_id} at step {call.step}"
            )
        first_call = next(call for call in day.calls if call.step == issued)
        ahead = len(first_call.seen) - 1
        assert len(meanwhile) <= math.floor(ahead / rho), (
            f"ticket {ticket_id} waited {len(meanwhile)} calls with {ahead} ahead, rho={rho}"
        )


# --- weights and aging inside a class ---------------------------------------------------


@FAST
@given(
    window=windows(),
    tickets=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 5), WAITS), max_size=12),
    passed=st.lists(st.sampled_from([None, None, None, HERE]), min_size=12, max_size=12),
)
def test_more_urgent_ranks_ahead_inside_a_class(
    window: WindowView, tickets: list[tuple[str, int, int]], passed: list[int | None]
) -> None:
    now = T0 + timedelta(hours=2)
    candidates = [
        make_ticket(kind, i, service, now - timedelta(seconds=wait), passed[i])
        for i, (kind, service, wait) in enumerate(tickets)
    ]
    ranked = rank(window, candidates, InterleaveState(), InterleaveRatio(), now)
    for i, ahead in enumerate(ranked):
        for behind in ranked[i + 1 :]:
            if cls(ahead, now) != cls(behind, now):
                continue
            u_ahead, u_behind = urgency(window, ahead, now), urgency(window, behind, now)
            assert u_ahead >= u_behind, f"{behind} is more urgent than {ahead}"
            if u_ahead == u_behind:
                assert is_primary(window, ahead) or not is_primary(window, behind)
                if is_primary(window, ahead) == is_primary(window, behind):
                    assert (ahead.queued_at, ahead.ticket_id) < (behind.queued_at, behind.ticket_id)


@FAST
@given(
    target=st.sampled_from(TARGETS),
    own=st.sampled_from(WEIGHTS),
    helped=st.sampled_from(WEIGHTS),
    role=st.sampled_from([Role.PRIMARY, Role.TIDAL]),
    base=st.integers(1, 400),
    priority=st.sampled_from([P.NORMAL, P.PRIORITY]),
    primary_id_first=st.booleans(),
)
def test_equal_urgency_goes_to_the_windows_own_service(
    target: int,
    own: float,
    helped: float,
    role: Role,
    base: int,
    priority: PriorityClass,
    primary_id_first: bool,
) -> None:
    window = WindowView(
        HERE, {1: Link(own, role), 2: Link(helped, Role.SECONDARY)}, {1: target, 2: target}
    )
    now = T0 + timedelta(hours=3)
    # waited x weight is the same for both: 4 base x own x helped.
    own_wait, helped_wait = int(4 * base * helped), int(4 * base * own)
    ids = (1, 2) if primary_id_first else (2, 1)
    mine = Candidate(ids[0], 1, priority, now - timedelta(seconds=own_wait - 1))
    theirs = Candidate(ids[1], 2, priority, now - timedelta(seconds=helped_wait - 1))
    # Past its target a weight below 1 counts as 1, which would break the tie.
    assume(urgency(window, mine, now) == urgency(window, theirs, now))
    for order in ([mine, theirs], [theirs, mine]):
        assert rank(window, order, InterleaveState(), InterleaveRatio(), now)[0] == mine


@FAST
@given(
    data=st.data(),
    overdue_target=st.sampled_from(TARGETS),
    fresh_target=st.sampled_from(TARGETS),
    low=st.sampled_from([w for w in WEIGHTS if w < 1]),
    priority=st.sampled_from([P.NORMAL, P.PRIORITY]),
)
def test_past_its_target_a_ticket_is_not_held_back_by_a_low_weight(
    data: st.DataObject,
    overdue_target: int,
    fresh_target: int,
    low: float,
    priority: PriorityClass,
) -> None:
    window = WindowView(
        HERE,
        {1: Link(1.0, Role.PRIMARY), 2: Link(low, Role.SECONDARY)},
        {1: fresh_target, 2: overdue_target},
    )
    now = T0 + timedelta(hours=3)
    overdue_wait = data.draw(st.integers(overdue_target, 3 * overdue_target), label="overdue")
    age = Fraction(overdue_wait, overdue_target)
    # The window's own ticket has aged less than the overdue one, but more than the
    # overdue one's aging x its low weight: the weight alone would keep it waiting.
    lowest = math.floor(low * age * fresh_target) + 1
    highest = math.ceil(age * fresh_target) - 1
    assume(lowest <= highest)
    fresh_wait = data.draw(st.integers(lowest, highest), label="fresh")
    overdue = Candidate(1, 2, priority, now - timedelta(seconds=overdue_wait - 1))
    fresh = Candidate(2, 1, priority, now - timedelta(seconds=fresh_wait - 1))
    ranked = rank(window, [fresh, overdue], InterleaveState(), InterleaveRatio(), now)
    assert ranked[0] == overdue


# --- no starvation over a long day, with the look-ahead ---------------------------------


@st.composite
def helping_windows(draw: st.DrawFn) -> WindowView:
    """One own service and one or two helped ones, weight 1, handle times known."""
    count = draw(st.integers(2, 3))
    links = {1: Link(1.0, draw(st.sampled_from([Role.PRIMARY, Role.TIDAL])))}
    links |= {s: Link(1.0, Role.SECONDARY) for s in range(2, count + 1)}
    targets = {s: float(draw(st.sampled_from((600, 1200)))) for s in links}
    handle = {s: float(draw(st.sampled_from((60, 180, 300)))) for s in links}
    return WindowView(HERE, links, targets, handle)


@SLOW
@given(data=st.data(), window=helping_windows())
def test_no_normal_ticket_starves_over_a_long_day_with_the_look_ahead(
    data: st.DataObject, window: WindowView
) -> None:
    """Long runs of the window's own work (one ticket a step, one call a step) never hold
    a helped service's ticket back for ever. With one own service (its order by waiting
    is the same now and one case later) a ticket y called while x waits is the most
    urgent candidate when x is one; when x's service is not helped, y is the window's
    most overdue own ticket and, one case later, at least as overdue as x one case
    later: either way waited(y) >= rho waited(x) - H, H the longest handle time and
    rho = T_min / T_max. As for the bound inside a class, the k calls made while x
    waits took the q tickets ahead of it or tickets issued in the first
    (1 - rho) k + H / STEP steps after it, at most one a step: k <= (q + H / STEP + 1) / rho.
    """
    services = len(window.links)
    backlog = data.draw(st.lists(st.integers(1, services), max_size=6), label="backlog")
    runs = data.draw(
        st.lists(
            st.tuples(st.one_of(st.none(), st.integers(1, services)), st.integers(1, 100)),
            max_size=6,
        ),
        label="runs",
    )
    stream = [service for service, length in runs for _ in range(length)][:200]
    arrivals: list[list[Arrival]] = [[("N", s, None) for s in backlog]]
    arrivals += [[] if s is None else [("N", s, None)] for s in stream]
    day = run_day(rank, window, InterleaveRatio(), arrivals)
    index = day.call_index()
    assert sorted(index) == sorted(day.tickets), "a ticket was never called"
    targets = [Fraction(t) for t in window.target_seconds.values()]
    rho = min(targets) / max(targets)
    longest = math.ceil(max(window.handle_seconds.values()) / STEP)
    for ticket_id in day.tickets:
        issued = day.issued_at_step[ticket_id]
        meanwhile = [call for call in day.calls[: index[ticket_id]] if call.step >= issued]
        first_call = next(call for call in day.calls if call.step == issued)
        ahead = len(first_call.seen) - 1
        bound = math.floor((ahead + longest + 1) / rho)
        assert len(meanwhile) <= bound, (
            f"ticket {ticket_id} waited {len(meanwhile)} calls with {ahead} ahead (bound {bound})"
        )
