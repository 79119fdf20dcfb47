"""Injectable clocks: every timeout and backoff decision in the drivers reads one of these.

Tests pass a :class:`FakeClock` and move time forward themselves instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for timeouts and backoff."""
        ...

    def now(self) -> datetime:
        """Aware wall-clock time, for ``last_seen`` timestamps."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to; safe to read from worker threads."""

    def __init__(self, start: float = 1000.0, wall: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._t = start
        self._start = start
        self._wall = wall or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def now(self) -> datetime:
        with self._lock:
            return self._wall + timedelta(seconds=self._t - self._start)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._t += seconds
