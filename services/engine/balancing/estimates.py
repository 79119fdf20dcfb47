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

A ticket first in line with every able window busy (most of the error) gets
the *median* of its wait, since the mean absolute error shown to citizens is
smallest at the median: any busy window may free first (the rest of the
ticket in its hand is drawn from a lognormal handle time that has already run
as long as it has), and a window that has other work of its own waiting is
less likely to take the new ticket when it frees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.engine.balancing.policy import Link, Role

# Weight of the newest handle time in the moving average.
DEFAULT_ALPHA = 0.2
# Typical spread of handle times (coefficient of variation) for the rest of a
# ticket in hand; the median estimate is not sensitive to it (0.4-0.8 alike).
HANDLE_CV = 0.6
# A window's secondary queues count this much against a new ticket of its own
# service: it helps them only once they have aged past the new ticket.
SECONDARY_AHEAD = 0.25


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
    ``held_average`` and ``elapsed``: the moving average handle time of the
    ticket in hand's service and the seconds it has taken so far, when known.
    """

    window_id: int
    links: Mapping[int, Link]
    free_in: float = 0.0
    held_average: float | None = None
    elapsed: float = 0.0


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


def _survival(average: float, cv: float) -> Callable[[float], float]:
    """P(handle time > x) for a lognormal handle time of this mean and spread."""
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(average) - sigma * sigma / 2
    scale = sigma * math.sqrt(2)

    def survival(x: float) -> float:
        return 1.0 if x <= 0 else 0.5 * math.erfc((math.log(x) - mu) / scale)

    return survival


def ahead_at_window(
    service_id: int, links: Mapping[int, Link], waiting: Mapping[int, int]
) -> float:
    """Waiting tickets of other services a window would take before a new ticket of this one.

    Where the service is the window's own, its other own services' tickets
    (older, so ranked first) and a part of its secondary ones (helped once
    aged); where it only helps, every other ticket it serves (its own work
    first, older secondary tickets have aged more).
    """
    link = links.get(service_id)
    if link is None:
        return 0.0
    helper = link.role is Role.SECONDARY
    n = 0.0
    for other, other_link in links.items():
        count = waiting.get(other, 0)
        if other == service_id or count <= 0 or other_link.weight <= 0:
            continue
        if helper or other_link.role is not Role.SECONDARY:
            n += count
        else:
            n += SECONDARY_AHEAD * count
    return n


def median_first_call(
    service_id: int,
    windows: Sequence[WindowLoad],
    waiting: Mapping[int, int],
    cv: float = HANDLE_CV,
) -> float | None:
    """Median wait of a ticket first in line while every window able to serve it is busy.

    It waits until the first busy window that takes it frees. Each window
    frees after the rest of its ticket in hand (lognormal, conditional on the
    time already taken) and then takes the new ticket with chance
    ``1 / (1 + other tickets it would take first)``. So the chance of still
    waiting after ``t`` is the product over windows of ``1 - take x P(freed by
    t)``; the median is where it falls to one half (by bisection). ``None``
    when the windows are too likely to take other work first for a median to
    exist, or a window's ticket in hand is unknown.
    """
    # Per busy window: chance it takes the ticket, survival of its ticket in
    # hand, time that ticket has taken, survival at that time.
    parts: list[tuple[float, Callable[[float], float], float, float]] = []
    never = 1.0
    for window in windows:
        link = window.links.get(service_id)
        if link is None or link.weight <= 0 or window.free_in <= 0:
            continue
        if window.held_average is None or window.held_average <= 0:
            return None
        take = 1.0 / (1.0 + ahead_at_window(service_id, window.links, waiting))
        survival = _survival(window.held_average, cv)
        parts.append((take, survival, window.elapsed, max(survival(window.elapsed), 1e-12)))
        never *= 1.0 - take
    if not parts or never >= 0.5:
        return None

    def still_waiting(t: float) -> float:
        p = 1.0
        for take, survival, elapsed, at_elapsed in parts:
            p *= 1.0 - take * (1.0 - survival(elapsed + t) / at_elapsed)
        return p

    low, high = 0.0, 600.0
    while still_waiting(high) > 0.5:
        low, high = high, high * 2
        if high > 86400:
            return None
    for _ in range(20):  # to within a second or so
        mid = (low + high) / 2
        if still_waiting(mid) > 0.5:
            low = mid
        else:
            high = mid
    return (low + high) / 2


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

    A ticket with nobody ahead and every able window busy gets the median of
    ``median_first_call`` instead, when the windows' tickets in hand are known
    (it measured closer than the mean formula; with tickets ahead the flow
    formula measured better, see bench/estimate_bound.py).

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
    if ahead == 0:
        median = median_first_call(service_id, windows, waiting)
        if median is not None:
            return median
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
