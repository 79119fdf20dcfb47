"""Token buckets for partner and citizen rate limits (in-process).

Each engine process keeps its own buckets: with N processes behind a load
balancer a caller can reach up to N times the configured rate. That is the
documented trade-off for not writing to the database on every request; the
per-citizen rules that matter for fairness (one booking per day, capacity,
no-show suspension) are enforced in the database and hold across processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.engine.core.errors import Refusal


class RateLimited(Refusal):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Token buckets keyed by caller; ``capacity`` tokens refilled over one minute."""

    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key: str, per_minute: int, *, what: str) -> None:
        """Spend one token or refuse with 429 and how long to wait."""
        now = self.clock()
        rate = per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict_full(now)
            bucket = self._buckets[key] = _Bucket(float(per_minute), now)
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            retry = (1.0 - bucket.tokens) / rate if rate > 0 else 60.0
            raise RateLimited(
                f"{what}: at most {per_minute} requests a minute; retry in {retry:.0f} s",
                retry_after_seconds=round(retry, 1),
            )
        bucket.tokens -= 1.0

    def _evict_full(self, now: float) -> None:
        # Buckets idle for a minute are full again: forgetting them changes nothing.
        for key in [k for k, b in self._buckets.items() if now - b.updated > 60]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
