"""Wait estimates (预计等待时间). Pure.

A ticket's wait is estimated from three things:

* its position: how many tickets of its service wait ahead of it;
* the windows able to serve it, each counted by the share of its time that
  goes to this service (a dedicated window counts 1; a general window that also
  serves three other busy queues counts less) -- the service's *capacity* in
  windows;
* a moving average of recent handle times per service, seeded from the
  service's configured average before any ticket has been handled.

Windows free now take the first tickets at once; after the first busy window
frees, tickets of the service leave every ``handle / capacity`` on average.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.engine.balancing.policy import FAVOURED, Link, Role
from services.engine.tickets.states import PriorityClass

# Weight of the newest handle time in the moving average.
DEFAULT_ALPHA = 0.2


def moving_average(seed: float, samples: Iterable[float], alpha: float = DEFAULT_ALPHA) -> float:
    """Exponentially weighted moving average of ``samples`` (oldest first), starting at ``seed``."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    value = seed
    for sample in samples:
        if sample >= 0:
            value += alpha * (sample - value)
    return value


@dataclass
class HandleTimes:
    """Moving averages of handle time per service (seconds), updated as tickets finish."""

    averages: dict[int, float]
    alpha: float = DEFAULT_ALPHA

    def record(self, service_id: int, seconds: float) -> None:
        seed = self.averages.get(service_id, seconds)
        self.averages[service_id] = moving_average(seed, [seconds], self.alpha)

    def get(self, service_id: int) -> float:
        return self.averages[service_id]


@dataclass(frozen=True)
class WindowLoad:
    """An open window as the estimator sees it.

    ``free_in``: seconds until it is expected to be free (0 when idle now).
    """

    window_id: int
    links: Mapping[int, Link]
    free_in: float = 0.0


def expected_remaining(average: float, elapsed: float) -> float:
    """Seconds left on a ticket in hand, from its service's average handle time.

    Past the average a ticket is still expected to take a while (long cases
    run long), so the remainder never drops below a quarter of the average.
    """
    return max(average - elapsed, 0.25 * average)


def window_shares(links: Mapping[int, Link], demand: Mapping[int, float]) -> dict[int, float]:
    """The share of a window's time expected to go to each of its services.

    Proportional to ``weight x (waiting work + one ticket)`` over the services
    it serves, so a window counts for a service even with nothing waiting (a
    new ticket would be taken). Secondary services are helped when they have
    aged, so they count at half their weight.
    """
    raw: dict[int, float] = {}
    for service_id, link in links.items():
        if link.weight <= 0:
            continue
        factor = 0.5 if link.role is Role.SECONDARY else 1.0
        raw[service_id] = link.weight * factor * (demand.get(service_id, 0.0) + 1.0)
    total = sum(raw.values())
    return {s: v / total for s, v in raw.items()} if total > 0 else {}


def demand_of(waiting: Mapping[int, int], handle: Mapping[int, float]) -> dict[int, float]:
    """Work waiting per service, in seconds."""
    return {s: n * handle.get(s, 0.0) for s, n in waiting.items()}


def estimate_wait_seconds(
    *,
    service_id: int,
    ahead: int,
    windows: Sequence[WindowLoad],
    waiting: Mapping[int, int],
    handle: Mapping[int, float],
) -> float | None:
    """Expected wait of a ticket with ``ahead`` tickets called before it.

    Windows free now take the first tickets at once. Among busy windows, each
    takes the next ticket of this service when it frees -- surely if the
    service is its own (primary or tidal), with its share of time if it only
    helps (secondary). The first of them frees sooner than the one expected
    earliest, since any of them may finish first: the estimate takes the mean
    of that earliest expected time and the time to the first of several
    competing windows (rates adding up). After that, tickets of the service
    leave every ``handle / capacity`` seconds, capacity being the windows'
    shares of time added up.

    ``None`` when no open window serves the service.
    """
    h = handle.get(service_id)
    if h is None or ahead < 0:
        return None
    demand = demand_of(waiting, handle)
    total = free_now = rate = 0.0
    busy: list[tuple[float, float]] = []
    for window in windows:
        link = window.links.get(service_id)
        share = window_shares(window.links, demand).get(service_id, 0.0)
        if link is None or share <= 0:
            continue
        total += share
        idle = window.free_in <= 0
        # Chance that this window's next free moment goes to this service.
        takes = 1.0 if idle or link.role is not Role.SECONDARY else share
        if idle:
            free_now += takes
        else:
            rate += takes / window.free_in
            busy.append((window.free_in, takes))
    if total <= 0:
        return None
    needed = ahead + 1.0 - free_now
    if needed <= 0:
        return 0.0
    if rate <= 0:
        return needed * h / total
    busy.sort()
    earliest = busy[-1][0]
    chance = 0.0
    for free_in, takes in busy:
        chance += takes
        if chance >= 1.0 - 1e-9:
            earliest = free_in
            break
    first = (earliest + 1.0 / rate) / 2.0
    return first + max(needed - 1.0, 0.0) * h / total


def wait_minutes(seconds: float | None) -> int | None:
    """Whole minutes to show, rounded up (0 only when nobody needs to wait)."""
    if seconds is None:
        return None
    return math.ceil(seconds / 60.0 - 1e-9) if seconds > 0 else 0


def wait_text(ahead: int, minutes: int | None) -> str:
    """The sentence on the ticket and the phone: 前方还有 N 人，预计等待 M 分钟."""
    if minutes is None:
        return f"前方还有 {ahead} 人，暂无法预计等待时间"
    return f"前方还有 {ahead} 人，预计等待 {minutes} 分钟"


def classes_before(
    priority: PriorityClass,
) -> tuple[frozenset[PriorityClass], frozenset[PriorityClass]]:
    """Which waiting tickets of the service are called before a ticket of this class.

    Returns (classes called before it whatever their queue time, classes that
    go before it only if queued earlier): green goes before everyone; favoured
    tickets (priority, appointment) before normal ones.
    """
    green = frozenset({PriorityClass.GREEN})
    if priority is PriorityClass.GREEN:
        return frozenset(), green
    if priority in FAVOURED:
        return green, FAVOURED
    return green | FAVOURED, frozenset({PriorityClass.NORMAL})


def position(
    priority: PriorityClass,
    waiting: Mapping[PriorityClass, int],
    earlier: Mapping[PriorityClass, int],
) -> int:
    """How many tickets are called before this one (前方还有N人), from counts per class.

    ``waiting``: tickets of the service waiting now per class; ``earlier``: of
    those, the ones queued before this ticket.
    """
    before, same = classes_before(priority)
    return sum(waiting.get(c, 0) for c in before) + sum(earlier.get(c, 0) for c in same)
