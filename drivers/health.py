"""Device health as every device reports it: online / offline / error, reason, last_seen."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class HealthState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # not answering (unplugged, powered off, wrong address)
    ERROR = "error"  # answering wrongly, or its port is gone, or it reports a fault


@dataclass(frozen=True)
class DeviceHealth:
    state: HealthState
    reason: str = ""
    last_seen: datetime | None = None

    @property
    def online(self) -> bool:
        return self.state is HealthState.ONLINE


NEVER_SEEN = DeviceHealth(HealthState.OFFLINE, "not seen yet", None)


@dataclass
class Backoff:
    """Exponential backoff between retries of something that keeps failing."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial
