"""Which waiting ticket a window calls next (叫号策略). Pure and replaceable.

Rules: green channel (绿色通道) first; then favoured tickets (priority groups
老弱病残孕 and appointments 预约) and normal tickets interleave F:M (default 2:1)
so normal tickets never starve; inside a class, each service's oldest ticket
competes by ``waited seconds x window weight`` (FIFO when weights are equal,
and a low-weight service still ages its way to the front).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.engine.tickets.states import PriorityClass

FAVOURED = frozenset({PriorityClass.PRIORITY, PriorityClass.APPOINTMENT})


@dataclass(frozen=True)
class Candidate:
    """A waiting ticket as the policy sees it."""

    ticket_id: int
    service_id: int
    priority: PriorityClass
    queued_at: datetime
    # Set when a ticket was transferred to one window (转窗口).
    target_window_id: int | None = None


@dataclass(frozen=True)
class WindowView:
    """What the policy knows of the calling window."""

    window_id: int
    service_weights: Mapping[int, float]


@dataclass(frozen=True)
class InterleaveRatio:
    favoured: int = 2
    normal: int = 1

    def __post_init__(self) -> None:
        if self.favoured < 1 or self.normal < 1:
            raise ValueError("both sides of the interleave ratio must be at least 1")


@dataclass(frozen=True)
class InterleaveState:
    """How far the window is through its current F:M cycle."""

    favoured_run: int = 0
    normal_run: int = 0


def _score(candidate: Candidate, window: WindowView, now: datetime) -> tuple[float, float, int]:
    waited = max((now - candidate.queued_at).total_seconds(), 0.0) + 1.0
    if candidate.target_window_id == window.window_id:
        weight = max(window.service_weights.values(), default=1.0)
    else:
        weight = window.service_weights.get(candidate.service_id, 0.0)
    # Sort key: higher weighted wait first, then earlier queue time, then id.
    return (-waited * weight, candidate.queued_at.timestamp(), candidate.ticket_id)


def eligible(candidate: Candidate, window: WindowView) -> bool:
    """A window sees tickets of its services, and tickets transferred to it."""
    if candidate.target_window_id is not None:
        return candidate.target_window_id == window.window_id
    return window.service_weights.get(candidate.service_id, 0.0) > 0


def rank(
    window: WindowView,
    candidates: Iterable[Candidate],
    state: InterleaveState,
    ratio: InterleaveRatio,
    now: datetime,
) -> list[Candidate]:
    """All eligible candidates, best first (the engine takes the first still free)."""
    pool = [c for c in candidates if eligible(c, window)]
    green = [c for c in pool if c.priority is PriorityClass.GREEN]
    favoured = [c for c in pool if c.priority in FAVOURED]
    normal = [c for c in pool if c.priority is PriorityClass.NORMAL]

    def by_score(items: list[Candidate]) -> list[Candidate]:
        return sorted(items, key=lambda c: _score(c, window, now))

    favoured_first = bool(favoured) and (not normal or state.favoured_run < ratio.favoured)
    middle = (
        by_score(favoured) + by_score(normal)
        if favoured_first
        else by_score(normal) + by_score(favoured)
    )
    return by_score(green) + middle


def advance(
    state: InterleaveState,
    ratio: InterleaveRatio,
    taken: PriorityClass,
    *,
    favoured_waiting: bool,
    normal_waiting: bool,
) -> InterleaveState:
    """The interleave state after the window took a ticket of class ``taken``.

    ``favoured_waiting``/``normal_waiting`` say whether the other class had
    tickets when the choice was made; with only one class waiting the cycle
    starts afresh so nobody builds up a debt.
    """
    if taken is PriorityClass.GREEN:
        return state
    if not (favoured_waiting and normal_waiting):
        return InterleaveState()
    if taken in FAVOURED:
        return InterleaveState(state.favoured_run + 1, state.normal_run)
    normal_run = state.normal_run + 1
    if normal_run >= ratio.normal:
        return InterleaveState()
    return InterleaveState(state.favoured_run, normal_run)


CallPolicy = Callable[
    [WindowView, Sequence[Candidate], InterleaveState, InterleaveRatio, datetime], list[Candidate]
]
POLICIES: dict[str, CallPolicy] = {"interleave": rank}
