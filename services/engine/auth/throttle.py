"""Failed staff logins counted per username and per client address (in-process).

A login needs no account, and each costs an Argon2 hash (~0.1 s of CPU): without
a bound anyone could guess passwords as fast as the engine hashes, and keep its
cores busy doing so. Each attempt is counted when it starts (so a burst of
concurrent attempts cannot slip past the limit), and given back if the password
was right or the check never happened; a failure stays counted for the window.
While a username or an address has ``limit`` failures in the last
``window_seconds``, every login for it is refused (429 with ``Retry-After``) before
the database or the hash is touched -- a right password too, until the oldest
failure leaves the window.

The counts live in this process (docs/limits.md): with N engine processes behind a
load balancer a username gets at most N x ``per_user`` tries a window. Memory is
bounded: at most ``limit`` times per key, at most ``max_keys`` keys.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from services.engine.core.errors import Refusal


class LoginThrottled(Refusal):
    status = 429
    code = "login_throttled"
    title = "Too many failed logins"


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 20
    per_address: int = 100
    window_seconds: float = 60.0


@dataclass(frozen=True)
class Attempt:
    """One login being checked: the keys it was counted under, and when."""

    user_key: str
    address_key: str
    at: float


# A username longer than any account's (64) counts under its first characters.
_USERNAME_KEPT = 100


class LoginThrottle:
    """Counts failed logins; ``clock`` is injectable (tests move it by hand)."""

    def __init__(
        self,
        limits: LoginLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limits = limits or LoginLimits()
        self.clock = clock
        self.max_keys = max_keys
        # Key -> times of the failures (and attempts under way) still in the window.
        self._times: dict[str, deque[float]] = {}

    def begin(self, username: str, address: str) -> Attempt:
        """Count an attempt, or refuse it (429) while its username or address is blocked."""
        now = self.clock()
        user_key = "user:" + username[:_USERNAME_KEPT]
        address_key = "address:" + address
        limits = self.limits
        waits = [
            (what, self._wait(key, limit, now))
            for what, key, limit in (
                ("for this username", user_key, limits.per_user),
                ("from this address", address_key, limits.per_address),
            )
        ]
        blocked = [(what, wait) for what, wait in waits if wait is not None]
        if blocked:
            retry = max(math.ceil(wait) for _, wait in blocked)
            reasons = " and ".join(what for what, _ in blocked)
            raise LoginThrottled(
                f"too many failed logins {reasons}; try again in {retry} s",
                retry_after_seconds=max(retry, 1),
            )
        for key in (user_key, address_key):
            self._times_of(key).append(now)
        return Attempt(user_key, address_key, now)

    def failed(self, attempt: Attempt) -> int:
        """The password was wrong: the attempt stays counted. The username's failures now."""
        times = self._times.get(attempt.user_key)
        return len(times) if times is not None else 0

    def give_back(self, attempt: Attempt) -> None:
        """The password was right, or never checked (the database away): uncount it."""
        for key in (attempt.user_key, attempt.address_key):
            times = self._times.get(key)
            if times is None:
                continue
            with contextlib.suppress(ValueError):  # already out of the window
                times.remove(attempt.at)
            if not times:
                del self._times[key]

    def _wait(self, key: str, limit: int, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it may now."""
        times = self._times.get(key)
        if times is None:
            return None
        self._expire(times, now)
        if not times:
            del self._times[key]
            return None
        if len(times) < limit:
            return None
        return times[-limit] + self.limits.window_seconds - now

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.limits.window_seconds:
            times.popleft()

    def _times_of(self, key: str) -> deque[float]:
        times = self._times.get(key)
        if times is None:
            if len(self._times) >= self.max_keys:
                self._make_room()
            times = self._times[key] = deque()
        return times

    def _make_room(self) -> None:
        now = self.clock()
        for key in list(self._times):
            times = self._times[key]
            self._expire(times, now)
            if not times:
                del self._times[key]
        # Still full (a flood of distinct names and addresses): the oldest keys go.
        while len(self._times) >= self.max_keys:
            del self._times[next(iter(self._times))]
