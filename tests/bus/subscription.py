"""A pull-style subscriber of the event hub for the hub's tests: a bounded buffer read with
``wait``. (The engine's own subscriber is the bus connection, events/socket.py.)"""

from __future__ import annotations

import asyncio
import contextlib

from services.engine.events.hub import EventHub, HubClosed, PublishedEvent


class Overflow(Exception):
    """The subscriber fell too far behind; it must reconnect and resume."""


def subscribe(hub: EventHub, hall_id: int, *, maxsize: int = 256) -> Subscription:
    """Receive every event of the hall committed from now on, in order."""
    sub = Subscription(hub, hall_id, maxsize)
    hub.attach(sub)
    return sub


class Subscription:
    """One subscriber's bounded buffer of events for one hall, read with ``wait``.

    Delivery never waits: when the buffer is full the subscription is cut off
    (``overflowed``) instead of slowing the engine or other subscribers.
    """

    def __init__(self, hub: EventHub, hall_id: int, maxsize: int) -> None:
        self.hall_id = hall_id
        self.maxsize = maxsize
        self._hub = hub
        self._items: list[PublishedEvent] = []
        self._wake = asyncio.Event()
        self.overflowed = False
        self.closed = False
        # Set when the subscription ends for a reason the consumer must act on.
        self.ended = asyncio.Event()

    def deliver(self, event: PublishedEvent) -> None:
        if self.overflowed or self.closed:
            return
        if len(self._items) >= self.maxsize:
            self.overflowed = True
            self._items.clear()
            self._wake.set()
            self.ended.set()
            self._hub.detach(self)
            return
        self._items.append(event)
        self._wake.set()

    def hub_closed(self) -> None:
        self.closed = True
        self._wake.set()
        self.ended.set()

    async def wait(self, within: float | None = None) -> list[PublishedEvent]:
        """The events buffered so far (possibly none after ``within`` seconds or a poke)."""
        if not self._items and not self.overflowed and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), within)
        self._wake.clear()
        if self.overflowed:
            raise Overflow(f"more than {self.maxsize} events waiting")
        if self.closed and not self._items:
            raise HubClosed("the event hub closed")
        items, self._items = self._items, []
        return items

    def close(self) -> None:
        """Stop receiving (the consumer went away)."""
        self.closed = True
        self._hub.detach(self)
