"""The hall event bus through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.engine.core.db import utcnow
from services.engine.events import outbox
from services.engine.events.models import HallEvent
from services.engine.events.retention import prune_once
from services.engine.halls.models import Hall as HallRow
from tests.bus.asgi_ws import AsgiWebSocket, Closed
from tests.helpers.api import API, act, issue, token
from tests.helpers.app import app_for, client_of, serving
from tests.helpers.halls import Hall, seed_hall


def bus(app: Any, hall: Hall, who: str = "display", **query: object) -> AsgiWebSocket:
    return AsgiWebSocket(
        app, f"{API}/{hall.code}/events", query={"token": token(hall, who), **query}
    )


async def outbox_rows(app: Any, after: int = 0) -> list[HallEvent]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(HallEvent)
            .where(HallEvent.seq > after)
            .order_by(HallEvent.hall_id, HallEvent.seq)
        )
        return list(rows.scalars())


async def test_snapshot_then_live_events_in_order(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    await issue(client, hall, "estate")
    assert (await act(client, hall, 1, "open")).status_code == 200
    assert (await act(client, hall, 1, "call-next")).status_code == 200

    async with bus(app, hall) as ws:
        snapshot = await ws.receive_kind("snapshot")
        live = await ws.receive_kind("live")
        assert snapshot["reason"] == "initial"
        assert live["seq"] == snapshot["seq"] == (await outbox_rows(app))[-1].seq
        assert snapshot["hall"]["code"] == hall.code and snapshot["hall"]["name"] == "测试大厅"
        windows = {w["window"]: w for w in snapshot["windows"]}
        assert windows[1]["state"] == "calling" and windows[1]["number"] == "A001"
        assert windows[2]["state"] == "closed" and windows[2]["number"] is None
        waiting = {s["service"]: s["waiting"] for s in snapshot["services"]}
        assert waiting == {"business": 0, "estate": 1, "night": 0}
        assert [(c["number"], c["window"]) for c in snapshot["recent_calls"]] == [("A001", 1)]

        # A clerk opening a window signs in there (window.staff).
        assert (await act(client, hall, 2, "open", who="staff")).status_code == 200
        assert (await act(client, hall, 2, "call-next")).status_code == 200
        events = await ws.events(5)
        assert [e["seq"] for e in events] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 6))
        assert [e["type"] for e in events] == [
            "window.staff",
            "window.state",
            "ticket.called",
            "window.state",
            "queue.changed",
        ]
        called = events[2]["data"]
        assert (called["number"], called["window"], called["service"]) == ("B001", 2, "estate")
        # Public screens get numbers, never personal data.
        assert not {"person_hash", "phone_hash", "phone_tail", "id_number", "phone"} & set(called)
        assert ws.pending() == 0


async def test_resume_with_since_gets_exactly_the_missed_events(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        await issue(client, hall)
    await act(client, hall, 3, "open")
    async with bus(app, hall) as ws:
        await ws.receive_kind("snapshot")
        left_at = (await ws.receive_kind("live"))["seq"]
    for _ in range(5):
        assert (await act(client, hall, 3, "call-next")).status_code == 200
    missed = await outbox_rows(app, left_at)

    async with bus(app, hall, since=left_at, topics="ticket.called") as ws:
        resume = await ws.receive_kind("resume")
        assert (resume["since"], resume["seq"]) == (left_at, missed[-1].seq)
        calls = await ws.events(5)
        live = await ws.receive_kind("live")
        assert [c["data"]["number"] for c in calls] == ["A001", "A002", "A003", "A004", "A005"]
        assert all(c["type"] == "ticket.called" for c in calls)
        assert live["seq"] == missed[-1].seq
        assert ws.pending() == 0

    async with bus(app, hall, since=left_at) as ws:
        await ws.receive_kind("resume")
        everything = await ws.events(len(missed))
        await ws.receive_kind("live")
        assert [(e["seq"], e["type"]) for e in everything] == [(r.seq, r.type) for r in missed]
        assert [e["seq"] for e in everything] == list(range(left_at + 1, missed[-1].seq + 1))


async def test_since_too_old_or_ahead_gets_a_snapshot(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    await issue(client, hall)
    head = (await outbox_rows(app))[-1].seq
    async with bus(app, hall, since=head + 50) as ws:
        snapshot = await ws.receive_kind("snapshot", "resume")
        assert (snapshot["kind"], snapshot["reason"], snapshot["seq"]) == (
            "snapshot",
            "since_ahead",
            head,
        )
    # Retention removes every event: older positions can no longer be replayed.
    removed = await prune_once(app.state.sessionmaker, 7, now=utcnow() + timedelta(days=8))
    assert removed == head
    async with bus(app, hall, since=1) as ws:
        snapshot = await ws.receive_kind("snapshot", "resume")
        assert (snapshot["kind"], snapshot["reason"], snapshot["seq"]) == (
            "snapshot",
            "since_too_old",
            head,
        )
        assert {s["service"]: s["waiting"] for s in snapshot["services"]}["business"] == 2
    async with bus(app, hall, since=head) as ws:
        # Nothing was missed: an up-to-date client resumes even with nothing retained.
        assert (await ws.receive_kind("snapshot", "resume"))["kind"] == "resume"
        assert (await ws.receive_kind("live"))["seq"] == head


async def test_retention_prunes_only_old_events(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    rows = await outbox_rows(app)
    assert await prune_once(app.state.sessionmaker, 7) == 0
    assert await prune_once(app.state.sessionmaker, 7, now=utcnow() + timedelta(days=6)) == 0
    assert await prune_once(
        app.state.sessionmaker, 7, now=utcnow() + timedelta(days=7, minutes=1)
    ) == len(rows)
    assert await outbox_rows(app) == []
    # Sequence numbers keep growing after a prune.
    await issue(client, hall)
    assert (await outbox_rows(app))[0].seq == rows[-1].seq + 1


@pytest.mark.parametrize("how", ["query", "header", "subprotocol"])
async def test_token_by_query_header_or_subprotocol(app, hall, how: str) -> None:  # type: ignore[no-untyped-def]
    path = f"{API}/{hall.code}/events"
    ws = {
        "query": AsgiWebSocket(app, path, query={"token": token(hall)}),
        "header": AsgiWebSocket(app, path, headers=hall.h("display")),
        "subprotocol": AsgiWebSocket(
            app, path, subprotocols=["jiaohao.v1", f"jiaohao.bearer.{token(hall)}"]
        ),
    }[how]
    async with ws:
        assert (await ws.receive_kind("snapshot"))["hall"]["code"] == hall.code
        assert ws.subprotocol == ("jiaohao.v1" if how == "subprotocol" else None)


async def test_refusals_close_with_documented_codes(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    other = await seed_hall(app, client, other_code="otherhall")
    path = f"{API}/{hall.code}/events"
    cases = [
        (AsgiWebSocket(app, path), 4401),
        (AsgiWebSocket(app, path, query={"token": "jhd_not-a-real-token"}), 4401),
        (AsgiWebSocket(app, path, query={"token": token(other)}), 4403),
        (AsgiWebSocket(app, f"{API}/nohall/events", query={"token": token(hall)}), 4404),
        (AsgiWebSocket(app, path, query={"token": token(hall), "since": "-3"}), 4400),
        (AsgiWebSocket(app, path, query={"token": token(hall), "topics": "DROP TABLE"}), 4400),
    ]
    for ws, code in cases:
        async with ws:
            with pytest.raises(Closed) as closed:
                await ws.receive()
            assert closed.value.code == code, closed.value
    # Staff of the hall may listen too (a manager's console).
    async with bus(app, hall, who="manager") as ws:
        assert (await ws.receive_kind("snapshot"))["kind"] == "snapshot"


async def test_rolled_back_action_emits_nothing(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    await act(client, hall, 1, "open")
    async with bus(app, hall) as ws:
        await ws.receive_kind("snapshot")
        head = (await ws.receive_kind("live"))["seq"]
        async with app.state.sessionmaker() as session:
            hall_id = (
                await session.execute(select(HallRow.id).where(HallRow.code == hall.code))
            ).scalar_one()
        # A call fails at the last moment before COMMIT, after its events were written:
        # a listener on every session, for this one request (the engine has no hook).
        written: list[Any] = []

        def fail_before_commit(session: Session) -> None:
            rows = session.execute(
                select(HallEvent.seq, HallEvent.type)
                .where(HallEvent.hall_id == hall_id, HallEvent.seq > head)
                .order_by(HallEvent.seq)
            ).all()
            if rows:  # the transaction that wrote the call's events, not an earlier read
                written.extend(rows)
                raise RuntimeError("the disk is full")

        event.listen(Session, "before_commit", fail_before_commit)
        try:
            async with client_of(app, raise_app_exceptions=False) as failing:
                refused = await failing.post(
                    f"{API}/{hall.code}/windows/1/call-next", headers=hall.h("manager")
                )
        finally:
            event.remove(Session, "before_commit", fail_before_commit)
        assert refused.status_code == 500
        assert "ticket.called" in [e.type for e in written] and written[0].seq == head + 1
        # And a change staged in a session that rolls back instead of committing.
        async with app.state.sessionmaker() as session:
            outbox.stage(session, hall_id, "ticket.called", {"number": "Z999", "window": 9})
            await session.rollback()
            outbox.discard(session)
        assert await outbox_rows(app, head) == []
        assert ws.pending() == 0

        # The next real change takes the same sequence numbers: nothing was lost or skipped.
        assert (await act(client, hall, 1, "call-next")).status_code == 200
        following = await ws.events(len(written))
        assert [e["seq"] for e in following] == [e.seq for e in written]
        assert [e["type"] for e in following] == [e.type for e in written]
        called = next(e for e in following if e["type"] == "ticket.called")
        assert called["data"]["number"] == "A001"
        assert ws.pending() == 0


@asynccontextmanager
async def app_with(database_url: str, **settings: Any) -> AsyncIterator[tuple[Any, Any, Hall]]:
    """An app with its own bus settings, a client and a seeded hall; stopped after."""
    app = app_for(database_url, **settings)
    async with serving(app) as client:
        yield app, client, await seed_hall(app, client)


async def test_heartbeats_both_ways(database_url: str) -> None:
    settings = {"bus_heartbeat_seconds": 0.2}
    async with app_with(database_url, **settings) as (app, _, hall), bus(app, hall) as ws:
        await ws.receive_kind("snapshot")
        assert (await ws.receive_kind("live"))["heartbeat"] == 0.2
        ping = await ws.receive(within=5)
        assert ping["kind"] == "ping" and ping["seq"] >= 0
        await ws.send({"kind": "ping"})
        assert (await ws.receive_kind("pong"))["seq"] == ping["seq"]
        # A client that says nothing for three heartbeats is closed (and told to resume).
        with pytest.raises(Closed) as closed:
            while True:
                await ws.receive(within=5)
        assert closed.value.code == 4408


async def test_slow_client_is_cut_off_and_resumes(database_url: str) -> None:
    async with app_with(database_url, bus_client_buffer=4) as (app, client, hall):
        slow = AsgiWebSocket(
            app, f"{API}/{hall.code}/events", query={"token": token(hall)}, read_buffer=1
        )
        async with slow, bus(app, hall) as other:
            await slow.receive_kind("snapshot")
            await slow.receive_kind("live")
            await other.receive_kind("snapshot")
            start = (await other.receive_kind("live"))["seq"]
            for _ in range(6):  # 12 events; the slow client reads none of them meanwhile
                await issue(client, hall)
            # The other client got every event, in order, while the slow one lagged.
            others = await other.events(12)
            assert [e["seq"] for e in others] == list(range(start + 1, start + 13))
            received: list[int] = []
            with pytest.raises(Closed) as closed:
                while True:
                    received.append((await slow.receive_kind("event"))["seq"])
            assert closed.value.code == 4409
            resume_at = int(closed.value.reason.rsplit("since=", 1)[1])
            assert received == list(range(start + 1, resume_at + 1))
            assert resume_at < start + 12
        async with bus(app, hall, since=resume_at) as again:
            await again.receive_kind("resume")
            rest = await again.events(start + 12 - resume_at)
            assert [e["seq"] for e in rest] == list(range(resume_at + 1, start + 13))
            await again.receive_kind("live")


async def test_client_asks_for_a_fresh_snapshot(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    async with bus(app, hall) as ws:
        first = await ws.receive_kind("snapshot")
        await ws.receive_kind("live")
        await issue(client, hall)
        assert [e["type"] for e in await ws.events(2)] == ["ticket.issued", "queue.changed"]
        await ws.send({"kind": "snapshot"})
        fresh = await ws.receive_kind("snapshot")
        assert fresh["reason"] == "requested" and fresh["seq"] == first["seq"] + 2
        assert {s["service"]: s["waiting"] for s in fresh["services"]}["business"] == 1


async def test_every_socket_keeps_its_own_position_under_its_topics(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    async with bus(app, hall) as everything, bus(app, hall, topics="ticket.called") as calls:
        await everything.receive_kind("snapshot")
        start = (await everything.receive_kind("live"))["seq"]
        await calls.receive_kind("snapshot")
        assert (await calls.receive_kind("live"))["seq"] == start
        await issue(client, hall)
        await act(client, hall, 1, "open")
        assert (await act(client, hall, 1, "call-next")).status_code == 200
        events = await everything.events(len(await outbox_rows(app, start)))
        assert [e["seq"] for e in events] == list(range(start + 1, start + 1 + len(events)))
        called = next(e for e in events if e["type"] == "ticket.called")
        assert await calls.receive_kind("event") == called
        # Each socket's position counts the events filtered out for it too.
        await calls.send({"kind": "ping"})
        assert (await calls.receive_kind("pong"))["seq"] == events[-1]["seq"]
        await everything.send({"kind": "ping"})
        assert (await everything.receive_kind("pong"))["seq"] == events[-1]["seq"]


async def test_an_event_is_encoded_once_for_every_socket(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    async with bus(app, hall) as one, bus(app, hall) as two:
        for ws in (one, two):
            await ws.receive_kind("snapshot")
            await ws.receive_kind("live")
        await issue(client, hall)
        first_one, first_two = await one.receive_kind("event"), await two.receive_kind("event")
        assert first_one == first_two
        # The very same text object went to both sockets: no JSON encoding per socket.
        assert one.last_text is two.last_text


async def test_an_idle_socket_costs_one_task(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    async with bus(app, hall) as first:
        await first.receive_kind("snapshot")
        await first.receive_kind("live")
        before_tasks = asyncio.all_tasks()
        before = len(before_tasks)
        screens = [bus(app, hall) for _ in range(5)]
        for ws in screens:
            await ws.__aenter__()
            await ws.receive_kind("snapshot")
            await ws.receive_kind("live")
        try:
            # One task each: the connection's own (no sender, receiver or timer tasks).
            assert len(asyncio.all_tasks()) - before == len(screens), [
                t.get_coro() for t in asyncio.all_tasks() - before_tasks
            ]
            await issue(client, hall)
            for ws in (first, *screens):
                assert (await ws.receive_kind("event"))["type"] == "ticket.issued"
            assert len(asyncio.all_tasks()) - before == len(screens)
        finally:
            for ws in screens:
                await ws.disconnect()


async def test_a_snapshot_is_read_once_while_the_hall_does_not_move(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    snapshots = app.state.snapshots
    reads = snapshots.reads
    firsts = []
    for _ in range(3):
        async with bus(app, hall) as ws:
            firsts.append(await ws.receive_kind("snapshot"))
    assert snapshots.reads == reads + 1
    assert all(s == firsts[0] for s in firsts) and firsts[0]["reason"] == "initial"
    # The hall moved: the next screen gets the hall as it is now.
    await issue(client, hall)
    async with bus(app, hall) as ws:
        fresh = await ws.receive_kind("snapshot")
    assert snapshots.reads == reads + 2
    assert fresh["seq"] > firsts[0]["seq"]
    assert {s["service"]: s["waiting"] for s in fresh["services"]}["business"] == 1
    # A requested snapshot of an unmoved hall comes from the cache, with its own reason.
    async with bus(app, hall) as ws:
        await ws.receive_kind("snapshot")
        await ws.receive_kind("live")
        await ws.send({"kind": "snapshot"})
        again = await ws.receive_kind("snapshot")
    assert again["reason"] == "requested" and again["seq"] == fresh["seq"]
    assert snapshots.reads == reads + 2


def test_topics_match_a_type_or_its_prefix() -> None:
    from services.engine.events.socket import BusRequest

    request = BusRequest(None, None, frozenset({"ticket", "window.state"}))
    assert request.wants("ticket.called") and request.wants("ticket")
    assert request.wants("window.state")
    assert not request.wants("window.staff") and not request.wants("tickets.called")
    assert not request.wants("queue.changed")
    assert BusRequest(None, None, frozenset()).wants("queue.changed")
    assert not BusRequest(None, None, frozenset({"ticket.called"})).wants("ticket.calledx")


async def test_other_websocket_paths_go_on_to_the_app(app, hall) -> None:  # type: ignore[no-untyped-def]
    ws = AsgiWebSocket(app, f"{API}/{hall.code}/eventsx", query={"token": token(hall)})
    with pytest.raises(Closed):
        async with ws:
            await ws.receive()


class HeldHeadSource:
    """The hub's outbox source with its reads of a hall's head held until released."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.release = asyncio.Event()

    async def head(self, hall_id: int) -> int:
        await self.release.wait()
        head: int = await self.inner.head(hall_id)
        return head

    async def read(self, hall_id: int, after: int, upto: int | None = None) -> Any:
        return await self.inner.read(hall_id, after, upto)


async def test_first_screen_gets_events_committed_before_the_hub_read_the_head(
    app, client, hall
) -> None:  # type: ignore[no-untyped-def]
    from services.engine.events.hub import EventHub
    from services.engine.events.source import OutboxSource

    await issue(client, hall)
    held = HeldHeadSource(OutboxSource(app.state.sessionmaker))
    app.state.hub = EventHub(held)
    async with bus(app, hall) as ws:
        snapshot = await ws.receive_kind("snapshot")
        # Another engine issues a ticket after this snapshot, before this engine's hub
        # has read the hall's head (its channel starts with the first screen).
        async with app.state.sessionmaker() as session:
            row = (
                await session.execute(select(HallRow).where(HallRow.code == hall.code))
            ).scalar_one()
            outbox.stage(session, row.id, "queue.changed", {"service": "business", "waiting": 2})
            await outbox.commit(session)
        held.release.set()
        missed = await ws.receive_kind("event", "live")
        assert (missed["kind"], missed["seq"]) == ("event", snapshot["seq"] + 1)
        assert missed["data"] == {"service": "business", "waiting": 2}
        live = await ws.receive_kind("live")
        assert live["seq"] == snapshot["seq"] + 1
        # And it goes on live from there.
        await issue(client, hall)
        after = await ws.events(2)
        assert [e["seq"] for e in after] == [snapshot["seq"] + 2, snapshot["seq"] + 3]
