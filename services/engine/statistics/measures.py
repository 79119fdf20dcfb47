"""The hall's measures (docs/statistics.md): waits, handling times, 忙闲不均, Erlang C.

Pure rules: plain numbers and timestamps in, figures out. Every definition here is
written out, with its formula, in docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


def wait_seconds(queued_at: datetime, served_call_at: datetime | None) -> float | None:
    """Wait: from issue (or check-in, or the transfer that queued it) to the call that
    served it (for a ticket re-queued after a no-show, its last call). None: never
    called."""
    if served_call_at is None:
        return None
    return max(0.0, (served_call_at - queued_at).total_seconds())


def handling_seconds(
    called_at: datetime | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    held_seconds: float = 0.0,
) -> float | None:
    """Handling: from the start of service (the call, when a keypad has no start key) to
    the finish, minus the time on hold. None: not finished."""
    begun = started_at or called_at
    if begun is None or finished_at is None:
        return None
    return max(0.0, (finished_at - begun).total_seconds() - held_seconds)


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks
    (numpy's default; what a spreadsheet's PERCENTILE.INC gives)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Iterable[float]) -> Summary:
    data = list(values)
    if not data:
        return Summary(0, None, None, None, None)
    return Summary(
        len(data), sum(data) / len(data), percentile(data, 50), percentile(data, 90), max(data)
    )


def share_over(values: Iterable[float], limit: float) -> float | None:
    """The share of values above a limit (waits over the target), 0-1."""
    data = list(values)
    if not data:
        return None
    return sum(1 for v in data if v > limit) / len(data)


def gini(values: Iterable[float]) -> float | None:
    """The Gini coefficient of a load across windows: 0 when every window carries the
    same, towards 1 when one carries it all. G = sum_i sum_j |x_i - x_j| / (2 n^2 mean).
    None for no window or no load at all."""
    data = sorted(v for v in values)
    n = len(data)
    total = sum(data)
    if n == 0 or total <= 0:
        return None
    # Sorted form of the same sum: sum_i (2i - n - 1) x_i / (n * total), i from 1.
    weighted = sum((2 * i - n - 1) * x for i, x in enumerate(data, start=1))
    return weighted / (n * total)


def shares(load: Mapping[str, float]) -> dict[str, float]:
    """Each one's share of the total (0-1); all zero when there is no load."""
    total = sum(load.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in load.items()}


def top_share(load: Mapping[str, float], top: int = 3) -> float | None:
    """The share of the busiest ``top`` (the seeds: three windows did 77% of the work)."""
    total = sum(load.values())
    if total <= 0:
        return None
    return sum(sorted(load.values(), reverse=True)[:top]) / total


def utilisation(handling: float, open_seconds: float) -> float | None:
    """Handling time over open time (0-1; None for a window never open)."""
    if open_seconds <= 0:
        return None
    return min(1.0, handling / open_seconds)


# --- Erlang C: windows needed for an arrival rate ----------------------------------------


def erlang_c(traffic: float, servers: int) -> float:
    """The probability that an arrival waits (Erlang C), for ``traffic`` Erlangs offered
    to ``servers`` windows; 1 when the windows cannot keep up. Computed through the
    Erlang B recursion, which never overflows."""
    if servers <= traffic:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = traffic * b / (k + traffic * b)
    return servers * b / (servers - traffic * (1 - b))


@dataclass(frozen=True)
class Staffing:
    """Erlang C's answer for one interval."""

    traffic: float  # Erlangs: arrivals x handling time / interval
    raw: int  # windows working at once
    positions: int  # staff to roster, after shrinkage
    service_level: float  # share answered within the target
    occupancy: float
    waiting_probability: float
    average_wait: float  # seconds


def staffing(
    *,
    arrivals: float,
    interval_seconds: float,
    handling_seconds: float,
    target_seconds: float,
    service_level: float = 0.8,
    max_occupancy: float = 0.85,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest windows that answer ``service_level`` of arrivals within the target
    wait without working above ``max_occupancy``; ``positions`` adds the share of paid
    time away from the window (shrinkage: breaks, training, leave)."""
    if arrivals <= 0:
        return Staffing(0.0, 0, 0, 1.0, 0.0, 0.0, 0.0)
    traffic = arrivals * handling_seconds / interval_seconds
    servers = max(1, math.floor(traffic) + 1)
    while True:
        pw = erlang_c(traffic, servers)
        level = 1 - pw * math.exp(-(servers - traffic) * target_seconds / handling_seconds)
        occupancy = traffic / servers
        if level >= service_level and occupancy <= max_occupancy:
            break
        servers += 1
    return Staffing(
        traffic=traffic,
        raw=servers,
        positions=math.ceil(servers / (1 - shrinkage) - 1e-9),
        service_level=level,
        occupancy=occupancy,
        waiting_probability=pw,
        average_wait=pw * handling_seconds / (servers - traffic),
    )
