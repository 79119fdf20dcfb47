"""The hub's observers (the engine's metrics): told every commit, every fan-out and every
subscriber that comes or goes; one that fails never stops the delivery."""

from __future__ import annotations

from services.engine.events.hub import EventHub, PublishedEvent
from tests.bus.subscription import subscribe
from tests.bus.test_hub import collect, event


class Seen:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.commits: list[int] = []
        self.fan_outs: list[tuple[int, int]] = []
        self.sockets: dict[int, int] = {}

    def published(self, events: list[PublishedEvent]) -> None:
        if self.fail:
            raise RuntimeError("a broken observer")
        self.commits += [e.seq for e in events]

    def delivered(self, event: PublishedEvent, subscribers: int) -> None:
        if self.fail:
            raise RuntimeError("a broken observer")
        self.fan_outs.append((event.seq, subscribers))

    def subscribed(self, hall_id: int, change: int) -> None:
        if self.fail:
            raise RuntimeError("a broken observer")
        self.sockets[hall_id] = self.sockets.get(hall_id, 0) + change


async def test_observers_see_commits_fan_outs_and_subscribers() -> None:
    hub = EventHub()
    broken, seen = Seen(fail=True), Seen()
    hub.observers += [broken, seen]
    first, second = subscribe(hub, 1), subscribe(hub, 1)
    assert seen.sockets == {1: 2}
    # Hall 2 has no subscriber here: its event is still a commit of this process.
    hub.publish([event(1), event(7, hall_id=2)])
    assert await collect(first, 1) == [1] and await collect(second, 1) == [1]
    assert seen.commits == [1, 7]
    assert seen.fan_outs == [(1, 2)]
    hub.detach(second)
    hub.detach(second)  # idempotent: counted once
    assert seen.sockets == {1: 1}
    await hub.close()
    assert seen.sockets == {1: 0}
