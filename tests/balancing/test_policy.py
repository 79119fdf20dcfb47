"""The balanced calling policy: green first, interleave, primary first, aging, no starvation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.engine.balancing.policy import (
    POLICIES,
    Candidate,
    InterleaveRatio,
    InterleaveState,
    Link,
    Role,
    WindowView,
    advance,
    classes_waiting,
    effective_class,
    rank,
    rank_fifo,
    taken_class,
)
from services.engine.tickets.states import PriorityClass

P = PriorityClass
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
BUSINESS, ESTATE, CONSULT = 1, 2, 3
TARGETS = {BUSINESS: 20 * 60.0, ESTATE: 20 * 60.0, CONSULT: 10 * 60.0}
RATIO = InterleaveRatio(2, 1)


def ticket(
    tid: int, service: int, minutes_ago: float, priority: PriorityClass = P.NORMAL, **extra: object
) -> Candidate:
    return Candidate(tid, service, priority, NOW - timedelta(minutes=minutes_ago), **extra)  # type: ignore[arg-type]


def general_window(secondary_weight: float = 0.5) -> WindowView:
    return WindowView(
        7,
        {BUSINESS: Link(1.0, Role.PRIMARY), ESTATE: Link(secondary_weight, Role.SECONDARY)},
        TARGETS,
    )


def first(
    window: WindowView, tickets: list[Candidate], state: InterleaveState | None = None
) -> int:
    ranked = rank(window, tickets, state or InterleaveState(), RATIO, NOW)
    return ranked[0].ticket_id


def test_primary_first_while_secondary_is_fresher() -> None:
    window = general_window()
    # Estate waited longer in minutes, but relative to its target and weight it has aged less.
    assert first(window, [ticket(1, BUSINESS, 6), ticket(2, ESTATE, 10)]) == 1


def test_helps_secondary_once_it_has_aged_more() -> None:
    window = general_window()
    # 16/20 x 0.5 = 0.4 beats 6/20 = 0.3.
    assert first(window, [ticket(1, BUSINESS, 6), ticket(2, ESTATE, 16)]) == 2


def test_equal_urgency_goes_to_the_primary_service() -> None:
    window = general_window(secondary_weight=1.0)
    assert first(window, [ticket(2, ESTATE, 5), ticket(1, BUSINESS, 5)]) == 1


def test_aging_is_relative_to_each_services_target() -> None:
    window = WindowView(7, {BUSINESS: Link(), CONSULT: Link()}, TARGETS)
    # Consult's target is half business's: 6 of 10 minutes beats 10 of 20.
    assert first(window, [ticket(1, BUSINESS, 10), ticket(3, CONSULT, 6)]) == 3
    assert first(window, [ticket(1, BUSINESS, 14), ticket(3, CONSULT, 6)]) == 1


def test_weights_scale_urgency() -> None:
    window = WindowView(7, {BUSINESS: Link(2.0), ESTATE: Link(1.0)}, TARGETS)
    assert first(window, [ticket(1, BUSINESS, 6), ticket(2, ESTATE, 11)]) == 1
    assert first(window, [ticket(1, BUSINESS, 6), ticket(2, ESTATE, 13)]) == 2


def test_overdue_ticket_is_not_held_back_by_a_low_weight() -> None:
    window = general_window(secondary_weight=0.25)
    # 25 of 20 minutes (overdue) x 1.0 beats business at 19 of 20 minutes.
    assert first(window, [ticket(1, BUSINESS, 19), ticket(2, ESTATE, 25)]) == 2
    # Not yet overdue: 19/20 x 0.25 loses.
    assert first(window, [ticket(1, BUSINESS, 10), ticket(2, ESTATE, 19)]) == 1


def test_idle_window_helps_at_once_when_nothing_of_its_own_waits() -> None:
    window = general_window(secondary_weight=0.1)
    assert first(window, [ticket(2, ESTATE, 0)]) == 2


def test_a_window_sees_only_its_services_and_tickets_passed_to_it() -> None:
    window = general_window()
    other = ticket(3, CONSULT, 30)
    passed_here = ticket(4, CONSULT, 1, target_window_id=7)
    passed_elsewhere = ticket(5, BUSINESS, 30, target_window_id=8)
    ranked = rank(window, [other, passed_here, passed_elsewhere], InterleaveState(), RATIO, NOW)
    assert [c.ticket_id for c in ranked] == [4]


def test_green_first_among_own_and_helped_tickets() -> None:
    window = general_window()
    tickets = [
        ticket(1, BUSINESS, 10),
        ticket(2, ESTATE, 1, P.GREEN),
        ticket(3, BUSINESS, 8, P.PRIORITY),
        ticket(4, ESTATE, 30),  # estate is helped: 30/20 beats 10/20
    ]
    ranked = rank(window, tickets, InterleaveState(), RATIO, NOW)
    assert [c.ticket_id for c in ranked][:2] == [2, 3]
    own_green = ticket(5, BUSINESS, 0, P.GREEN)
    ranked = rank(window, [*tickets, own_green], InterleaveState(), RATIO, NOW)
    assert {c.ticket_id for c in ranked[:2]} == {2, 5}


def test_help_is_decided_per_service_not_per_class() -> None:
    """The README's promise, the case the class-first rule got wrong (issue #21)."""
    window = WindowView(
        7, {CONSULT: Link(1.0, Role.PRIMARY), BUSINESS: Link(1.0, Role.SECONDARY)}, TARGETS
    )
    own_overdue = ticket(1, CONSULT, 15)  # 1.5x its 10-minute target
    their_priority = ticket(2, BUSINESS, 1, P.PRIORITY)  # one minute of 20
    their_green = ticket(3, BUSINESS, 1, P.GREEN)
    # Business is not the more overdue: its favoured and green tickets stay with its
    # own windows, and this window serves its own overdue citizen.
    ranked = rank(window, [own_overdue, their_priority, their_green], InterleaveState(), RATIO, NOW)
    assert [c.ticket_id for c in ranked] == [1]
    # Once business's oldest ticket (any class) is the more overdue, business is
    # helped and its tickets join: green first, then the interleave (favoured first).
    their_oldest = ticket(4, BUSINESS, 40)
    tickets = [own_overdue, their_priority, their_green, their_oldest]
    ranked = rank(window, tickets, InterleaveState(), RATIO, NOW)
    assert [c.ticket_id for c in ranked] == [3, 2, 4, 1]


def test_look_ahead_the_case_a_helping_window_commits_to() -> None:
    # Consult (own, 10-minute target) at 9 of 10 minutes; business (secondary, 20-minute
    # target) at 20 of 20: more overdue now (1.0 > 0.9).
    own, theirs = ticket(1, CONSULT, 9), ticket(2, BUSINESS, 20)
    plain = WindowView(
        7, {CONSULT: Link(1.0, Role.PRIMARY), BUSINESS: Link(1.0, Role.SECONDARY)}, TARGETS
    )
    assert first(plain, [own, theirs]) == 2
    # A business case takes 12 minutes, a consultation 3: helping would leave consult at
    # 21/10, serving consult first leaves business at 23/20. The window serves its own.
    handle = {CONSULT: 3 * 60.0, BUSINESS: 12 * 60.0}
    ahead = WindowView(7, plain.links, TARGETS, handle)
    assert first(ahead, [own, theirs]) == 1
    # Business far more overdue: it is helped even with the look-ahead.
    assert first(ahead, [own, ticket(3, BUSINESS, 50)]) == 3
    # Nothing of its own waits: the window helps at once, look-ahead or not.
    assert first(ahead, [theirs]) == 2
    # Four open windows do consultations: while this one helps, the other three go on,
    # so a consultation waits a quarter of the business case. At 8 minutes: 8 + 3 = 11
    # of 10 against business's 23 of 20: it helps; at 9 minutes (12 of 10) it does not.
    shared = WindowView(7, plain.links, TARGETS, handle, own_windows={CONSULT: 4})
    assert first(shared, [ticket(5, CONSULT, 8), theirs]) == 2
    assert first(shared, [own, theirs]) == 1
    # A ticket passed to this window by name has no other window: the full case.
    passed = ticket(4, CONSULT, 8, target_window_id=7)
    assert first(shared, [passed, theirs]) == 4


def test_interleave_two_favoured_then_one_normal() -> None:
    window = WindowView(7, {BUSINESS: Link()}, TARGETS)
    waiting = [ticket(i, BUSINESS, 60 - i, P.PRIORITY) for i in range(1, 7)]
    waiting += [ticket(i, BUSINESS, 90 - i) for i in range(11, 17)]
    state, order = InterleaveState(), []
    for _ in range(9):
        ranked = rank(window, waiting, state, RATIO, NOW)
        chosen = ranked[0]
        fav, norm = classes_waiting(ranked, NOW)
        state = advance(
            state, RATIO, taken_class(chosen, NOW), favoured_waiting=fav, normal_waiting=norm
        )
        waiting.remove(chosen)
        order.append("F" if chosen.priority is P.PRIORITY else "N")
    assert "".join(order) == "FFNFFNFFN"


def test_appointment_is_favoured_only_within_its_slot() -> None:
    start, end = NOW - timedelta(minutes=20), NOW + timedelta(minutes=10)
    on_time = ticket(1, BUSINESS, 5, P.APPOINTMENT, slot_start=start, slot_end=end)
    late = ticket(
        2, BUSINESS, 5, P.APPOINTMENT, slot_start=start - timedelta(hours=1), slot_end=start
    )
    early = ticket(
        3,
        BUSINESS,
        5,
        P.APPOINTMENT,
        slot_start=NOW + timedelta(minutes=30),
        slot_end=NOW + timedelta(hours=1),
    )
    unknown = ticket(4, BUSINESS, 5, P.APPOINTMENT)
    assert effective_class(on_time, NOW) is P.APPOINTMENT
    assert effective_class(late, NOW) is P.NORMAL
    assert effective_class(early, NOW) is P.NORMAL
    assert effective_class(early, NOW + timedelta(minutes=31)) is P.APPOINTMENT
    assert effective_class(unknown, NOW) is P.APPOINTMENT
    # A late appointment waits among the normal tickets: an older normal ticket goes first.
    window = WindowView(7, {BUSINESS: Link()}, TARGETS)
    older_normal = ticket(9, BUSINESS, 8)
    assert first(window, [late, older_normal]) == 9
    assert first(window, [on_time, older_normal]) == 1


def test_no_starvation_of_a_low_weight_secondary_under_a_steady_primary_stream() -> None:
    window = general_window(secondary_weight=0.05)
    estate = ticket(1, ESTATE, 0)
    clock = NOW
    waiting = [estate]
    called_at = None
    for n in range(2, 400):
        clock += timedelta(minutes=2)
        # A fresh business ticket every two minutes, so the primary queue never empties.
        waiting.append(Candidate(n, BUSINESS, P.NORMAL, clock - timedelta(minutes=1)))
        chosen = rank(window, waiting, InterleaveState(), RATIO, clock)[0]
        waiting.remove(chosen)
        if chosen.ticket_id == 1:
            called_at = clock
            break
    assert called_at is not None, "the secondary ticket starved"
    # Overdue at 20 minutes it competes at full weight and beats the one-minute-old primary.
    assert called_at - NOW <= timedelta(minutes=22)


def test_fifo_baseline_ignores_roles_and_weights() -> None:
    window = general_window(secondary_weight=0.1)
    tickets = [ticket(1, BUSINESS, 3), ticket(2, ESTATE, 4), ticket(3, BUSINESS, 1, P.GREEN)]
    assert [c.ticket_id for c in rank_fifo(window, tickets, InterleaveState(), RATIO, NOW)] == [
        3,
        2,
        1,
    ]


def test_policy_registry() -> None:
    # The names a hall file's ``policy`` may take.
    assert {"balanced": rank, "fifo": rank_fifo} == POLICIES
