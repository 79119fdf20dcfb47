"""A caller that loses access loses its open sockets too (close code 4401).

On PostgreSQL the database announces the change and every engine process re-reads
its sockets' callers at once (events/guard.py); here the guard's own re-check is
set to an hour, so only the announcement can close anything. On SQLite nothing is
announced: the guard re-reads every ``bus_access_recheck_seconds`` (so it does on
PostgreSQL while its listener is down). A revoked kiosk's token, a disabled staff
account: their sockets close; everyone else's stay and go on getting events.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.engine.auth.models import Device, User
from services.engine.events import socket
from tests.bus.asgi_ws import AsgiWebSocket, Closed
from tests.helpers.api import API, issue, token
from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import empty_tables
from tests.helpers.halls import Hall, seed_hall, seeded
from tests.helpers.processes import EngineProcess, start
from tests.helpers.waiting import until


def bus(app: Any, hall: Hall, who: str) -> AsgiWebSocket:
    return AsgiWebSocket(app, f"{API}/{hall.code}/events", query={"token": token(hall, who)})


async def live(ws: AsgiWebSocket) -> None:
    await ws.receive_kind("snapshot")
    await ws.receive_kind("live")


async def closed(ws: AsgiWebSocket, within: float = 10) -> Closed:
    """The socket's close (events before it are skipped); fails if it stays open."""
    with pytest.raises(Closed) as done:
        while True:
            await ws.receive(within)
    return done.value


async def told_of_an_issue(ws: AsgiWebSocket) -> str:
    """The events of one ticket issued; its number."""
    events = await ws.events(2)
    assert [e["type"] for e in events] == ["ticket.issued", "queue.changed"], events
    number: str = events[0]["data"]["number"]
    return number


def revoke(url: str, tmp_path: Path, hall: Hall, name: str) -> None:
    done = Cli(url, tmp_path, None)("device", "revoke", "--hall", hall.code, "--name", name)
    assert done.returncode == 0, done.stderr


async def disable(app: Any, username: str) -> None:
    async with app.state.sessionmaker() as session:
        await session.execute(update(User).where(User.username == username).values(active=False))
        await session.commit()


@asynccontextmanager
async def engine(database_url: str, recheck: float) -> AsyncIterator[tuple[Any, Any, Hall]]:
    app = app_for(database_url, bus_access_recheck_seconds=recheck)
    async with serving(app) as client:
        yield app, client, await seed_hall(app, client)


async def test_revoking_a_device_or_disabling_an_account_closes_its_sockets(
    database_url: str, tmp_path: Path
) -> None:
    postgres = database_url.startswith("postgresql")
    # PostgreSQL: only an announcement could close within the test (the re-check is an
    # hour away, and a minute while announcements are heard). SQLite: the re-check.
    async with engine(database_url, 3600 if postgres else 0.05) as (app, client, hall):
        guard = app.state.socket_guard
        assert guard.live is postgres
        async with (
            bus(app, hall, "display") as display,
            bus(app, hall, "staff") as staff,
            bus(app, hall, "manager") as manager,
        ):
            for ws in (display, staff, manager):
                await live(ws)
            await asyncio.to_thread(revoke, database_url, tmp_path, hall, f"{hall.code}-display")
            shut = await closed(display)
            assert shut.code == 4401 and "revoked" in shut.reason, shut
            # The others stay, and are told what happens in the hall: the revocation
            # itself (device.changed, for the manager's pages; on SQLite heard from the
            # command's process with the next commit here), then an issue.
            await issue(client, hall)
            for ws in (staff, manager):
                (told,) = await ws.events(1)
                assert (told["type"], told["data"]["action"]) == ("device.changed", "revoked")
            for ws in (staff, manager):
                assert await told_of_an_issue(ws) == "A001"

            await disable(app, f"{hall.code}-staff")
            shut = await closed(staff)
            assert shut.code == 4401 and "disabled" in shut.reason, shut
            await issue(client, hall)
            assert await told_of_an_issue(manager) == "A002"
        # A new socket with the revoked token is refused as before.
        async with bus(app, hall, "display") as again:
            assert (await closed(again)).code == 4401


async def test_a_socket_set_up_while_a_change_is_announced_is_checked_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller was read just before the revocation, its socket is watched just after
    the guard went over the sockets for the announcement: the guard reads it again (no
    timer here: an hour away)."""
    async with engine(database_url, 3600) as (app, _client, hall), bus(app, hall, "manager") as ws:
        await live(ws)  # a socket already watched: the guard runs
        guard = app.state.socket_guard
        authorise = socket.authorise_socket

        async def revoked_meanwhile(*args: Any) -> int:
            hall_id = await authorise(*args)  # still a good token
            async with app.state.sessionmaker() as session:
                await session.execute(
                    update(Device).where(Device.name == f"{hall.code}-display").values(active=False)
                )
                await session.commit()
            before = guard.rechecks
            guard.changed()  # announced, and the sockets then watched read again...
            await until(lambda: guard.rechecks > before, what="the sockets read again")
            return hall_id  # ...before this one is watched

        monkeypatch.setattr(socket, "authorise_socket", revoked_meanwhile)
        async with bus(app, hall, "display") as display:
            assert (await closed(display)).code == 4401


@pytest.mark.postgres
async def test_with_the_listener_down_the_sockets_are_checked_on_a_timer(
    postgres_url: str, tmp_path: Path
) -> None:
    """No announcement can be heard: PostgreSQL falls back to SQLite's way."""
    await empty_tables(postgres_url)
    async with engine(postgres_url, 0.05) as (app, _client, hall), bus(app, hall, "display") as ws:
        await live(ws)
        await app.state.listener.stop()
        assert not app.state.socket_guard.live
        await asyncio.to_thread(revoke, postgres_url, tmp_path, hall, f"{hall.code}-display")
        assert (await closed(ws)).code == 4401


# --- across engine processes ---------------------------------------------------------


def ws_url(engine: EngineProcess, hall: Hall, who: str) -> str:
    return f"ws://127.0.0.1:{engine.port}{API}/{hall.code}/events?token={token(hall, who)}"


async def until_live(ws: ClientConnection) -> None:
    while json.loads(await asyncio.wait_for(ws.recv(), 10))["kind"] != "live":
        pass


async def close_code(ws: ClientConnection, within: float = 10) -> int:
    """Wait for the engine to close the socket (messages before it are skipped)."""
    with pytest.raises(ConnectionClosed) as done:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    assert done.value.rcvd is not None, "closed without a close frame"
    return done.value.rcvd.code


@pytest.mark.postgres
async def test_a_revoked_device_is_cut_off_on_every_engine_process(
    postgres_url: str, tmp_path: Path
) -> None:
    """``jiaohao device revoke`` beside two engine processes: the display's sockets on
    both close with 4401 (announced through PostgreSQL: each engine's timer is an hour);
    a manager's socket on the second engine stays and gets the next event."""
    await empty_tables(postgres_url)
    hall = await seeded(postgres_url)
    a = EngineProcess(postgres_url, tmp_path, "engine-a", bus_access_recheck_seconds=3600)
    b = EngineProcess(postgres_url, tmp_path, "engine-b", bus_access_recheck_seconds=3600)
    try:
        await start(a, b)
        async with (
            connect(ws_url(a, hall, "display")) as on_a,
            connect(ws_url(b, hall, "display")) as on_b,
            connect(ws_url(b, hall, "manager")) as manager,
        ):
            for ws in (on_a, on_b, manager):
                await until_live(ws)
            await asyncio.to_thread(revoke, postgres_url, tmp_path, hall, f"{hall.code}-display")
            revoked_at = time.perf_counter()
            codes = await asyncio.gather(close_code(on_a), close_code(on_b))
            elapsed = (time.perf_counter() - revoked_at) * 1000
            assert codes == [4401, 4401]
            print(
                f"\nrevoked (the command done) -> sockets on both engines closed: {elapsed:.0f} ms"
            )
            async with httpx.AsyncClient(timeout=10) as http:
                await issue(http, hall, base=a.base_url)
            seen = []
            while len(seen) < 2:
                message = json.loads(await asyncio.wait_for(manager.recv(), 10))
                if message["kind"] == "event":
                    seen.append(message["type"])
            # The revocation (for the manager's pages), then the ticket.
            assert seen == ["device.changed", "ticket.issued"]
    finally:
        a.stop()
        b.stop()
    for process in (a, b):
        assert "Traceback" not in process.log(), process.log()
