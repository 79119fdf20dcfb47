"""Fan-out of committed hall events to listeners in this process.

The outbox writes events in the same transaction as the change; after the
commit they are handed to the hub, which delivers them to local subscribers.
A cross-process transport (PostgreSQL LISTEN/NOTIFY) feeds the same hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PublishedEvent:
    hall_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    at: datetime

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), "data": self.payload}


Listener = Callable[[PublishedEvent], None]


@dataclass
class EventHub:
    """In-process hub: per-hall listeners, called synchronously and never blocked."""

    _listeners: dict[int, set[Listener]] = field(default_factory=dict)
    _last_seq: dict[int, int] = field(default_factory=dict)

    def subscribe(self, hall_id: int, listener: Listener) -> Callable[[], None]:
        self._listeners.setdefault(hall_id, set()).add(listener)

        def unsubscribe() -> None:
            self._listeners.get(hall_id, set()).discard(listener)

        return unsubscribe

    def publish(self, events: list[PublishedEvent]) -> None:
        for ev in events:
            # The same event may arrive twice (local commit and NOTIFY): keep order, drop repeats.
            if ev.seq <= self._last_seq.get(ev.hall_id, 0):
                continue
            self._last_seq[ev.hall_id] = ev.seq
            for listener in list(self._listeners.get(ev.hall_id, ())):
                listener(ev)

    def last_seq(self, hall_id: int) -> int:
        return self._last_seq.get(hall_id, 0)


def queue_listener(queue: asyncio.Queue[PublishedEvent]) -> Listener:
    """A listener that drops events into an asyncio queue (for tests and sockets)."""

    def listener(event: PublishedEvent) -> None:
        queue.put_nowait(event)

    return listener
