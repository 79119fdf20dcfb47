"""Events the device APIs deliver to callers, and the hub that carries them across threads."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..health import DeviceHealth
from ..protocols.keypad import KeypadAction
from ..protocols.rating import Satisfaction


@dataclass(frozen=True)
class KeypadPressed:
    """A clerk pressed a key (sequence) on the keypad (呼叫器) of ``window``."""

    window: int
    action: KeypadAction
    device: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class RatingPressed:
    """A citizen rated the service at ``window`` (好差评), level 1-5."""

    window: int
    level: Satisfaction
    device: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class HealthChanged:
    device: str  # e.g. "hall/keypad@1" or "printer:kiosk-1"
    health: DeviceHealth
    window: int | None = None


DeviceEvent = KeypadPressed | RatingPressed | HealthChanged

_CLOSED = object()


class EventSubscription:
    """An async iterator of events; subscribed from the moment it is created."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def _put(self, item: object) -> None:
        self._queue.put_nowait(item)

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> DeviceEvent:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # stay closed for later calls
            raise StopAsyncIteration
        assert isinstance(item, KeypadPressed | RatingPressed | HealthChanged)
        return item

    def close(self) -> None:
        self._hub._unsubscribe(self)
        self._put(_CLOSED)


class EventHub:
    """Publishes events from worker threads into the asyncio loop the device started on."""

    def __init__(self, callback: Callable[[DeviceEvent], None] | None = None) -> None:
        self._callback = callback
        self._subscribers: list[EventSubscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> EventSubscription:
        sub = EventSubscription(self)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def _unsubscribe(self, sub: EventSubscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def publish(self, event: DeviceEvent) -> None:
        """Thread-safe; delivery happens in the loop, in publication order."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # RuntimeError: the loop shut down while we were stopping
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: DeviceEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub._put(event)
        if self._callback is not None:
            self._callback(event)

    def close(self) -> None:
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for sub in subscribers:
            sub._put(_CLOSED)
