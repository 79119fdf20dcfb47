"""End to end with real uvicorn engine processes and real WebSocket clients.

PostgreSQL: two engine processes share one bus through LISTEN/NOTIFY.
Both databases: the bus client rides out an engine restart and resumes.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from services.busclient import BusClient, BusRefused
from services.engine.core.db import make_engine, make_sessionmaker
from services.engine.events import outbox
from services.engine.halls.models import Hall as HallRow
from tests.helpers.api import API, issue, token
from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import empty_tables
from tests.helpers.halls import Hall, seeded
from tests.helpers.processes import EngineProcess, call, start, window


def ws_url(engine: EngineProcess, hall: Hall, **query: object) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"ws://127.0.0.1:{engine.port}{API}/{hall.code}/events" + (
        f"?{params}" if params else ""
    )


async def next_of(ws: ClientConnection, *kinds: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["kind"] in kinds:
            return message
        assert message["kind"] == "ping", message


async def test_two_engine_processes_share_one_bus(postgres_url: str, tmp_path: Path) -> None:
    await empty_tables(postgres_url)
    hall = await seeded(postgres_url)
    a = EngineProcess(postgres_url, tmp_path, "engine-a")
    b = EngineProcess(postgres_url, tmp_path, "engine-b")
    auth = {"Authorization": f"Bearer {token(hall)}"}
    try:
        await start(a, b)
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(12):
                await issue(http, hall, base=a.base_url)
            for number in (1, 2, 3):
                await window(http, a, hall, number, "open")

            # A call through A reaches a screen on B.
            latencies: list[float] = []
            fan_out: list[float] = []  # from the commit's timestamp to the socket on B
            async with connect(ws_url(b, hall), additional_headers=auth) as ws:
                await next_of(ws, "snapshot")
                await next_of(ws, "live")
                for _ in range(5):
                    sent = time.perf_counter()
                    number = await call(http, a, hall, 1)
                    while True:
                        message = await next_of(ws, "event")
                        if message["type"] == "ticket.called":
                            break
                    latencies.append((time.perf_counter() - sent) * 1000)
                    committed = datetime.fromisoformat(message["at"]).timestamp()
                    fan_out.append((time.time() - committed) * 1000)
                    assert (message["data"]["number"], message["data"]["window"]) == (number, 1)
                left_at = message["seq"]  # the client disconnects here
            print(
                f"\ncall through engine A -> ticket.called on a socket of engine B: "
                f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms "
                f"(HTTP call included); commit -> socket median "
                f"{statistics.median(fan_out):.1f} ms, max {max(fan_out):.1f} ms"
            )

            # Offline: 5 calls, through both engines; back with since: exactly those 5, in order.
            made = []
            for i in range(5):
                made.append(await call(http, (a, b)[i % 2], hall, 2 + i % 2))
            async with connect(
                ws_url(b, hall, since=left_at, topics="ticket.called"), additional_headers=auth
            ) as ws:
                resume = await next_of(ws, "resume", "snapshot")
                assert resume["kind"] == "resume" and resume["since"] == left_at
                calls = [await next_of(ws, "event") for _ in range(5)]
                live = await next_of(ws, "live")
                assert [c["data"]["number"] for c in calls] == made
                assert [c["data"]["window"] for c in calls] == [2, 3, 2, 3, 2]
                assert live["seq"] == await _head(postgres_url, hall.code)

                # A transaction that wrote events and queued its NOTIFY, then rolled back:
                # nothing reaches any engine's clients, and no number is used up.
                await _rolled_back_change(postgres_url, hall.code)
                assert await _head(postgres_url, hall.code) == live["seq"]
                number = await call(http, a, hall, 1)
                following = await next_of(ws, "event")
                assert (following["type"], following["data"]["number"]) == ("ticket.called", number)
                assert live["seq"] < following["seq"] <= await _head(postgres_url, hall.code)
    finally:
        a.stop()
        b.stop()
    for engine in (a, b):
        assert "Traceback" not in engine.log(), engine.log()


async def _head(url: str, code: str) -> int:
    from sqlalchemy import select

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return int(
                (
                    await session.execute(select(HallRow.event_seq).where(HallRow.code == code))
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def _rolled_back_change(url: str, code: str) -> None:
    from sqlalchemy import event, select

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            hall_id = (
                await session.execute(select(HallRow.id).where(HallRow.code == code))
            ).scalar_one()

            def fail_before_commit(s: Any) -> None:
                # The outbox statement has written the rows and queued the NOTIFY...
                raise RuntimeError("...and then the transaction fails")

            # A listener on this session only: the engine has no hook for failing a commit.
            event.listen(session.sync_session, "before_commit", fail_before_commit)
            outbox.stage(session, hall_id, "ticket.called", {"number": "Z999", "window": 9})
            with pytest.raises(RuntimeError):
                await outbox.commit(session)
            await session.rollback()
    finally:
        await engine.dispose()


async def next_message(queue: asyncio.Queue[dict[str, Any]], *kinds: str) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(queue.get(), 30)
        if message["kind"] in kinds:
            return message


async def test_bus_client_rides_out_an_engine_restart(database_url: str, tmp_path: Path) -> None:
    hall = await seeded(database_url)
    engine = EngineProcess(database_url, tmp_path, "engine")
    await start(engine)
    states: list[str] = []
    client = BusClient(
        engine.base_url,
        hall.code,
        token(hall),
        min_backoff=0.1,
        max_backoff=0.5,
        on_state=states.append,
    )
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def follow() -> None:
        async for message in client:
            await received.put(message)

    follower = asyncio.create_task(follow())
    # While the engine is down the hall goes on: changes are made by another engine
    # (here an in-test app on the same database).
    try:
        snapshot = await next_message(received, "snapshot")
        await next_message(received, "live")
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(6):
                await issue(http, hall, base=engine.base_url)
            await window(http, engine, hall, 1, "open")
            assert await call(http, engine, hall, 1) == "A001"
        while (message := await next_message(received, "event"))["type"] != "ticket.called":
            pass
        assert message["data"]["number"] == "A001"
        seen = client.last_seq
        assert seen is not None and seen > snapshot["seq"]

        await asyncio.to_thread(engine.stop)
        async with serving(app_for(database_url)) as http:
            made = []
            for _ in range(5):
                response = await http.post(
                    f"{API}/{hall.code}/windows/1/call-next", headers=hall.h("manager")
                )
                assert response.status_code == 200, response.text
                made.append(response.json()["ticket"]["number"])
        await asyncio.to_thread(engine.start)

        resume = await next_message(received, "resume", "snapshot")
        assert resume["kind"] == "resume" and resume["since"] >= seen
        replayed = []
        while (message := await next_message(received, "event", "live"))["kind"] == "event":
            replayed.append(message)
        seqs = [m["seq"] for m in replayed]
        assert seqs == list(range(resume["since"] + 1, message["seq"] + 1))  # none lost, none twice
        calls = [m["data"]["number"] for m in replayed if m["type"] == "ticket.called"]
        assert calls == made == ["A002", "A003", "A004", "A005", "A006"]
        assert client.connects == 2 and "offline" in states and states[-1] == "live"

        # A token the engine does not know is refused for good, not retried forever.
        with pytest.raises(BusRefused) as refused:
            async for _ in BusClient(engine.base_url, hall.code, "jhd_unknown-token"):
                pass
        assert refused.value.code == 4401
    finally:
        await client.close()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        engine.stop()


async def refused_within(
    http: httpx.AsyncClient, engine: EngineProcess, hall: Hall, seconds: float
) -> int:
    """Issue with the kiosk until the engine refuses it (bounded); the attempts it took."""
    deadline = time.monotonic() + seconds
    for attempt in range(1, 10_000):
        response = await http.post(
            f"{engine.base_url}{API}/{hall.code}/tickets",
            json={"service": "business"},
            headers=hall.h("kiosk"),
        )
        if response.status_code == 401:
            assert response.json()["code"] == "unauthorized"
            return attempt
        assert response.status_code == 201, response.text
        assert time.monotonic() < deadline, f"{engine.base_url} still takes a revoked token"
        await asyncio.sleep(0.02)
    raise AssertionError("unreachable")


async def test_a_token_revoked_by_the_command_is_refused_by_every_engine_process(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two engine processes each keep the kiosk they have checked; ``jiaohao device
    revoke`` run beside them reaches both through PostgreSQL, well before the cache's
    one-minute limit."""
    await empty_tables(postgres_url)
    hall = await seeded(postgres_url)
    a = EngineProcess(postgres_url, tmp_path, "engine-a")
    b = EngineProcess(postgres_url, tmp_path, "engine-b")
    try:
        await start(a, b)
        async with httpx.AsyncClient(timeout=10) as http:
            for engine in (a, b):
                health = (await http.get(f"{engine.base_url}/healthz")).json()
                assert health["access_cache"] == "live", "each process keeps the kiosk it checks"
            for engine in (a, b, a, b):
                await issue(http, hall, base=engine.base_url)
            done = await asyncio.to_thread(
                Cli(postgres_url, tmp_path, None),
                "device",
                "revoke",
                "--hall",
                hall.code,
                "--name",
                f"{hall.code}-kiosk",
            )
            assert done.returncode == 0, done.stderr
            for engine in (a, b):
                await refused_within(http, engine, hall, seconds=5)
    finally:
        a.stop()
        b.stop()
    for engine in (a, b):
        assert "Traceback" not in engine.log(), engine.log()
