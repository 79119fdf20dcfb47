"""Balanced calling policy (均衡叫号策略). Pure and replaceable.

A window has primary services (its own work) and secondary services (work it
helps with), each with a weight. A ticket's *urgency* is how overdue it is:
``waited / target wait x weight`` (past its target a weight below 1 no longer
holds it back). Rules, in order:

1. Help is decided per service. A secondary service is helped when its most
   overdue ticket (of any class) is more overdue than the most overdue ticket
   of the window's own services (primary, tidal, and tickets passed to the
   window by name); ties go to the window's own work. Only then do the
   helped service's tickets become candidates. With nothing of its own waiting
   a window helps every secondary service that has a ticket, so it never idles
   while a ticket it may serve waits.
2. Look-ahead: helping commits the window for a whole case. When the recent
   mean handle times are known (``WindowView.handle_seconds``), the secondary
   service must still be the more overdue at the end of the case: its most
   overdue ticket, left waiting for one case of the window's own most overdue
   service, against the window's own tickets, each left waiting for its share
   of one case of the helped service (shared with the other open windows
   whose own work it is, ``WindowView.own_windows``; ``helped_services``).
3. Among the candidates (own tickets and those of helped services): green
   channel (绿色通道) first; favoured tickets (priority groups 老弱病残孕, and
   appointments checked in within their slot 预约) and normal tickets then
   interleave F:M (default 2:1), so normal tickets never starve. An
   appointment checked in after its slot ended queues as a normal ticket.
4. Inside a class the most urgent first; on equal urgency the window's own
   service, then queue order. Urgency grows without bound, so no ticket starves.

``rank`` returns the candidates only: what the window may call now, best first
(the engine takes the first still free). ``rank_fifo`` is the baseline used by
the simulator (today's practice inside a window): the same green-first and
interleave rules over every ticket the window sees, first come first served
inside a class, roles and weights ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from services.engine.balancing.interleave import (
    FAVOURED,
    InterleaveRatio,
    InterleaveState,
    advance,
)
from services.engine.tickets.ahead import effective_class as ticket_class
from services.engine.tickets.states import PriorityClass

__all__ = [
    "FAVOURED",
    "POLICIES",
    "CallPolicy",
    "Candidate",
    "InterleaveRatio",
    "InterleaveState",
    "Link",
    "Role",
    "WindowView",
    "advance",
    "eligible",
    "helped_services",
    "rank",
    "rank_fifo",
]

DEFAULT_TARGET_SECONDS = 20 * 60.0


class Role(StrEnum):
    """Why a window serves a service."""

    PRIMARY = "primary"  # its own work
    SECONDARY = "secondary"  # helps when that queue has aged
    TIDAL = "tidal"  # added while the service surges (潮汐窗口); ranks as primary


@dataclass(frozen=True)
class Link:
    """A service a window serves: weight (higher is preferred) and role."""

    weight: float = 1.0
    role: Role = Role.PRIMARY


@dataclass(frozen=True)
class Candidate:
    """A waiting ticket as the policy sees it."""

    ticket_id: int
    service_id: int
    priority: PriorityClass
    queued_at: datetime
    # Set when a ticket was transferred to one window (转窗口).
    target_window_id: int | None = None
    # An appointment's booked slot (预约时段), when known.
    slot_start: datetime | None = None
    slot_end: datetime | None = None


@dataclass(frozen=True)
class WindowView:
    """What the policy knows of the calling window and the hall's targets."""

    window_id: int
    links: Mapping[int, Link]
    # Target wait per service in seconds; services not listed use the default.
    target_seconds: Mapping[int, float] = field(default_factory=dict)
    # Recent mean handle time per service in seconds, when known: the look-ahead
    # of helping (a helped case holds the window this long).
    handle_seconds: Mapping[int, float] = field(default_factory=dict)
    # Open windows that serve each service as their own work (primary or tidal),
    # this one included: while this one helps, the others go on with that work.
    own_windows: Mapping[int, int] = field(default_factory=dict)

    def sharing(self, candidate: Candidate) -> int:
        """How many open windows take this ticket as their own work (1 when passed here)."""
        if candidate.target_window_id == self.window_id:
            return 1
        return max(self.own_windows.get(candidate.service_id, 1), 1)

    def weight(self, service_id: int) -> float:
        link = self.links.get(service_id)
        return link.weight if link is not None else 0.0

    def is_primary(self, service_id: int) -> bool:
        link = self.links.get(service_id)
        return link is not None and link.role is not Role.SECONDARY


def eligible(candidate: Candidate, window: WindowView) -> bool:
    """A window sees tickets of its services, and tickets transferred to it."""
    if candidate.target_window_id is not None:
        return candidate.target_window_id == window.window_id
    return window.weight(candidate.service_id) > 0


def effective_class(candidate: Candidate, now: datetime) -> PriorityClass:
    """The class a ticket competes in now (``tickets.ahead.effective_class``)."""
    return ticket_class(
        candidate.priority, candidate.queued_at, candidate.slot_start, candidate.slot_end, now
    )


def aging(candidate: Candidate, window: WindowView, now: datetime) -> float:
    """How long the ticket waited relative to its service's target wait (1.0 = at target)."""
    waited = max((now - candidate.queued_at).total_seconds(), 0.0) + 1.0
    target = window.target_seconds.get(candidate.service_id, DEFAULT_TARGET_SECONDS)
    return waited / max(target, 1.0)


def _own(candidate: Candidate, window: WindowView) -> bool:
    """The window's own work: its primary and tidal services, and tickets passed to it."""
    return candidate.target_window_id == window.window_id or window.is_primary(candidate.service_id)


def urgency(candidate: Candidate, window: WindowView, now: datetime) -> float:
    """How overdue a ticket is at this window: aging x weight (1.0 = at target, weight 1)."""
    if candidate.target_window_id == window.window_id:
        # Passed to this window by name: as its own work at its highest weight.
        weight = max((link.weight for link in window.links.values()), default=1.0)
    else:
        weight = window.weight(candidate.service_id)
    age = aging(candidate, window, now)
    if age >= 1.0:
        # Past its target wait a ticket is every able window's concern: a low
        # weight no longer holds it back.
        weight = max(weight, 1.0)
    return age * weight


def helped_services(window: WindowView, pool: Iterable[Candidate], now: datetime) -> set[int]:
    """The secondary services the window helps now (rules 1 and 2 of the module).

    Helping a service ``S`` holds the window for one of its cases (``h_S``);
    serving its own most overdue ticket instead would hold it for ``h_own``.
    ``S`` is helped when its most overdue ticket, left for ``h_own``, would be
    more overdue than each own ticket left for its share of ``h_S`` (the other
    open windows that take that ticket as their own work go on meanwhile:
    ``h_S / n``): whichever is left waiting ends the case the less overdue.
    Without known handle times all are 0: the most overdue now.
    """
    own: list[Candidate] = []
    secondary: dict[int, list[Candidate]] = {}
    for c in pool:
        if _own(c, window):
            own.append(c)
        else:
            secondary.setdefault(c.service_id, []).append(c)
    if not own:
        return set(secondary)
    top = max(own, key=lambda c: urgency(c, window, now))
    own_case = _handle(window, top.service_id)
    helped = set()
    for service_id, tickets in secondary.items():
        their_case = _handle(window, service_id)
        theirs = max(urgency(c, window, now + own_case) for c in tickets)
        mine = max(urgency(c, window, now + their_case / window.sharing(c)) for c in own)
        if theirs > mine:
            helped.add(service_id)
    return helped


def _handle(window: WindowView, service_id: int) -> timedelta:
    return timedelta(seconds=max(window.handle_seconds.get(service_id, 0.0), 0.0))


def _key(candidate: Candidate, window: WindowView, now: datetime) -> tuple[float, int, float, int]:
    primary = _own(candidate, window)
    # Most urgent first; on equal urgency the window's own service; then queue order.
    return (
        -urgency(candidate, window, now),
        0 if primary else 1,
        candidate.queued_at.timestamp(),
        candidate.ticket_id,
    )


def _interleave(
    green: list[Candidate],
    favoured: list[Candidate],
    normal: list[Candidate],
    state: InterleaveState,
    ratio: InterleaveRatio,
) -> list[Candidate]:
    favoured_first = bool(favoured) and (not normal or state.favoured_run < ratio.favoured)
    middle = favoured + normal if favoured_first else normal + favoured
    return green + middle


def _split(
    pool: list[Candidate], now: datetime
) -> tuple[list[Candidate], list[Candidate], list[Candidate]]:
    green, favoured, normal = [], [], []
    for c in pool:
        cls = effective_class(c, now)
        if cls is PriorityClass.GREEN:
            green.append(c)
        elif cls in FAVOURED:
            favoured.append(c)
        else:
            normal.append(c)
    return green, favoured, normal


def rank(
    window: WindowView,
    candidates: Iterable[Candidate],
    state: InterleaveState,
    ratio: InterleaveRatio,
    now: datetime,
) -> list[Candidate]:
    """The window's candidates, best first: its own tickets and those of the services it helps."""
    pool = [c for c in candidates if eligible(c, window)]
    helped = helped_services(window, pool, now)
    pool = [c for c in pool if _own(c, window) or c.service_id in helped]
    green, favoured, normal = _split(pool, now)

    def by_urgency(items: list[Candidate]) -> list[Candidate]:
        return sorted(items, key=lambda c: _key(c, window, now))

    return _interleave(by_urgency(green), by_urgency(favoured), by_urgency(normal), state, ratio)


def rank_fifo(
    window: WindowView,
    candidates: Iterable[Candidate],
    state: InterleaveState,
    ratio: InterleaveRatio,
    now: datetime,
) -> list[Candidate]:
    """Baseline: green first, the same interleave, first come first served inside a class."""
    pool = [c for c in candidates if eligible(c, window)]
    green, favoured, normal = _split(pool, now)

    def fifo(items: list[Candidate]) -> list[Candidate]:
        return sorted(items, key=lambda c: (c.queued_at.timestamp(), c.ticket_id))

    return _interleave(fifo(green), fifo(favoured), fifo(normal), state, ratio)


def taken_class(candidate: Candidate, now: datetime) -> PriorityClass:
    """The class to advance the interleave with after taking ``candidate``."""
    return effective_class(candidate, now)


def classes_waiting(candidates: Sequence[Candidate], now: datetime) -> tuple[bool, bool]:
    """Whether favoured and normal tickets were among the ranked candidates."""
    classes = {effective_class(c, now) for c in candidates}
    return bool(classes & FAVOURED), PriorityClass.NORMAL in classes


class CallPolicy(Protocol):
    def __call__(
        self,
        window: WindowView,
        candidates: Iterable[Candidate],
        state: InterleaveState,
        ratio: InterleaveRatio,
        now: datetime,
    ) -> list[Candidate]: ...


POLICIES: dict[str, CallPolicy] = {"balanced": rank, "fifo": rank_fifo}
