"""Fan-out of committed hall events to subscribers in this process, strictly in order.

Events reach a process two ways: its own commits (``EventHub.publish`` right after
COMMIT) and other processes' commits (``EventHub.notify(hall_id, seq)`` from the
PostgreSQL LISTEN/NOTIFY listener). Neither arrives reliably in sequence order:
two local commits may hand over their events in either order, a NOTIFY may come
before or after the local hand-over, and a NOTIFY can be lost with its
connection. So each hall with local subscribers has one *channel* that delivers
every sequence number exactly once and in order: it keeps what it was handed,
and fills any gap by reading the outbox.

Reading the outbox always fills a gap: per-hall sequence numbers come from an
``UPDATE halls ... RETURNING`` inside the committing transaction, so seq N+1 can
only be taken after the transaction that took N has committed (a rolled-back
transaction gives its numbers back). Once seq N is known to be committed,
every seq below it is committed and readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from services.engine.core.changes import note_changes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedEvent:
    """A committed outbox row."""

    hall_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    at: datetime

    def as_message(self) -> dict[str, Any]:
        """The event as the bus sends it (docs/bus.md)."""
        return {
            "kind": "event",
            "seq": self.seq,
            "type": self.type,
            "at": self.at.isoformat(),
            "data": self.payload,
        }

    @cached_property
    def text(self) -> str:
        """The message as JSON text, encoded once and sent as is to every socket."""
        return json.dumps(self.as_message(), ensure_ascii=False, separators=(",", ":"))


class EventSource(Protocol):
    """Where a channel reads what it was not handed: the outbox."""

    async def head(self, hall_id: int) -> int:
        """The hall's last committed sequence number."""

    async def read(self, hall_id: int, after: int, upto: int | None = None) -> list[PublishedEvent]:
        """Committed events with ``after < seq <= upto``, in order (a bounded page)."""


class HubObserver(Protocol):
    """Told what the hub sees (the engine's metrics): it must not wait, nor fail."""

    def published(self, events: list[PublishedEvent]) -> None:
        """Events this process just committed (every one, listened to or not)."""

    def delivered(self, event: PublishedEvent, subscribers: int) -> None:
        """An event handed to ``subscribers`` local subscribers of its hall."""

    def subscribed(self, hall_id: int, change: int) -> None:
        """A subscriber of the hall came (+1) or went (-1)."""


class HubClosed(Exception):
    """The hub shut down (the engine is stopping)."""


class Subscriber(Protocol):
    """What the hub hands events to, in its own task, one hall in order.

    ``deliver`` must not wait (it runs inside the hall's fan-out loop): a
    subscriber buffers, or writes what can be written at once.
    """

    hall_id: int

    def deliver(self, event: PublishedEvent) -> None:
        """The hall's next event (seq order, each once)."""

    def hub_closed(self) -> None:
        """The hub shut down (the engine is stopping); nothing more will come."""


@dataclass
class _Channel:
    """Ordered delivery for one hall: what was handed over, and how far it got."""

    hall_id: int
    subscribers: set[Subscriber] = field(default_factory=set)
    delivered: int | None = None  # None until the head was read
    target: int = 0  # highest seq known to be committed
    pending: dict[int, PublishedEvent] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    check_head: bool = False
    stopped: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class EventHub:
    """Per-hall, in-order, exactly-once delivery of committed events to local subscribers.

    ``source`` reads the outbox to fill gaps; without one (unit tests of the
    fast path) the hub delivers only what it is handed, still in order.
    """

    def __init__(self, source: EventSource | None = None, *, resync_seconds: float = 30.0) -> None:
        self._source = source
        self._resync_seconds = resync_seconds
        self._channels: dict[int, _Channel] = {}
        self._pumps: set[asyncio.Task[None]] = set()
        self._closed = False
        self.observers: list[HubObserver] = []

    # -- subscribers ---------------------------------------------------------

    def attach(self, sub: Subscriber) -> None:
        """Hand every event of ``sub.hall_id`` committed from now on to ``sub``, in order."""
        if self._closed:
            raise HubClosed("the event hub closed")
        hall_id = sub.hall_id
        channel = self._channels.get(hall_id)
        if channel is None:
            channel = self._channels[hall_id] = _Channel(hall_id)
            channel.task = asyncio.get_running_loop().create_task(
                self._pump(channel), name=f"jiaohao-hub-{hall_id}"
            )
            self._pumps.add(channel.task)
            channel.task.add_done_callback(self._pumps.discard)
        if sub not in channel.subscribers:
            channel.subscribers.add(sub)
            self._observe("subscribed", hall_id, 1)

    def detach(self, sub: Subscriber) -> None:
        """Stop handing events to ``sub`` (idempotent)."""
        channel = self._channels.get(sub.hall_id)
        if channel is None:
            return
        if sub in channel.subscribers:
            channel.subscribers.discard(sub)
            self._observe("subscribed", sub.hall_id, -1)
        if not channel.subscribers:
            # Not cancelled: a pump cancelled inside a database read could leave its
            # connection (and on SQLite the database lock) behind. It stops at its next turn.
            del self._channels[sub.hall_id]
            channel.stopped = True
            channel.wake.set()

    async def position(self, hall_id: int) -> int | None:
        """The last seq delivered for a hall, once known (None: nobody listens to it)."""
        channel = self._channels.get(hall_id)
        if channel is None:
            return None
        await channel.ready.wait()
        return channel.delivered

    def subscriber_count(self, hall_id: int | None = None) -> int:
        channels = self._channels.values() if hall_id is None else [self._channels.get(hall_id)]
        return sum(len(c.subscribers) for c in channels if c is not None)

    # -- producers -----------------------------------------------------------

    def publish(self, events: Iterable[PublishedEvent]) -> None:
        """Hand over events this process just committed."""
        events = list(events)
        self._observe("published", events)
        for event in events:
            channel = self._channels.get(event.hall_id)
            if channel is None:
                continue  # nobody here listens to that hall
            if channel.delivered is None or event.seq > channel.delivered:
                channel.pending[event.seq] = event
                channel.target = max(channel.target, event.seq)
                channel.wake.set()

    def notify(self, hall_id: int, seq: int) -> None:
        """Another process committed the hall's events up to ``seq`` (LISTEN/NOTIFY)."""
        channel = self._channels.get(hall_id)
        if channel is not None and seq > channel.target:
            channel.target = seq
            channel.wake.set()

    def resync(self) -> None:
        """Notifications may have been lost (the listener reconnected): check every hall."""
        for channel in self._channels.values():
            channel.check_head = True
            channel.wake.set()

    async def idle(self) -> None:
        """Wait until the channels nobody listens to any more have stopped."""
        live = {c.task for c in self._channels.values()}
        stopping = [t for t in self._pumps if t not in live]
        if stopping:
            await asyncio.wait(stopping)

    async def close(self) -> None:
        """End every subscription (the engine is stopping)."""
        self._closed = True
        channels = list(self._channels.values())
        self._channels.clear()
        for channel in channels:
            channel.stopped = True
            channel.wake.set()
            for sub in channel.subscribers:
                sub.hub_closed()
            self._observe("subscribed", channel.hall_id, -len(channel.subscribers))
        tasks = [c.task for c in channels if c.task is not None]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=5)
            for task in late:
                task.cancel()

    # -- the per-hall pump ---------------------------------------------------

    async def _pump(self, channel: _Channel) -> None:
        backoff = 0.2
        while not channel.stopped:
            try:
                await self._advance(channel)
                backoff = 0.2
                if channel.stopped:
                    return
                try:
                    await asyncio.wait_for(channel.wake.wait(), self._resync_seconds)
                except TimeoutError:
                    # A lost NOTIFY must not leave a screen behind for long.
                    channel.check_head = self._source is not None
                channel.wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away: keep the channel alive
                log.exception("event hub: hall %s could not catch up; retrying", channel.hall_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(channel.wake.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _advance(self, channel: _Channel) -> None:
        source = self._source
        if source is None:
            if channel.delivered is None:
                if not channel.pending:
                    return
                # Nothing to read gaps from: start at the first event handed over.
                channel.delivered = min(channel.pending) - 1
                channel.ready.set()
        elif channel.delivered is None or channel.check_head:
            channel.check_head = False
            head = await source.head(channel.hall_id)
            if channel.delivered is None:
                channel.delivered = head
                for seq in [s for s in channel.pending if s <= head]:
                    del channel.pending[seq]
                channel.ready.set()
            channel.target = max(channel.target, head)
        while channel.delivered < channel.target:
            following = channel.delivered + 1
            event = channel.pending.pop(following, None)
            if event is None:
                if source is None:
                    return  # cannot fill the gap; wait for the event itself
                rows = await source.read(channel.hall_id, channel.delivered, channel.target)
                if not rows:
                    log.warning(
                        "event hub: hall %s seq %s..%s not readable",
                        channel.hall_id,
                        following,
                        channel.target,
                    )
                    return
                if rows[0].seq != following:
                    # Only pruning can make committed rows vanish; subscribers see the
                    # gap and tell their clients to take a snapshot.
                    log.warning(
                        "event hub: hall %s seq %s..%s pruned",
                        channel.hall_id,
                        following,
                        rows[0].seq - 1,
                    )
                for row in rows:
                    channel.pending.pop(row.seq, None)
                    self._fan_out(channel, row)
                continue
            self._fan_out(channel, event)

    def _observe(self, what: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, what)(*args)
            except Exception:  # counting must never stop the delivery
                log.exception("event hub: an observer failed")

    def _fan_out(self, channel: _Channel, event: PublishedEvent) -> None:
        channel.delivered = event.seq
        # Changes committed by other engine processes end this one's reuse of hall readings.
        note_changes([(event.hall_id, event.type)])
        if self.observers:
            self._observe("delivered", event, len(channel.subscribers))
        for sub in list(channel.subscribers):
            try:
                sub.deliver(event)
            except Exception:  # one broken subscriber must not stop the hall's delivery
                log.exception("event hub: a subscriber of hall %s failed", channel.hall_id)
