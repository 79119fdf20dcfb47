"""Liveness and readiness, and what every request answers while the database is away.

/healthz says the process runs; /readyz makes a database round trip, compares the
schema with the migrations' head and looks at the event listener (PostgreSQL), and
answers 503 problem+json naming what is wrong. While the database cannot be reached
every API request answers 503 problem+json (code ``database_unavailable``), never a
plain-text 500, and nothing is half-written: once the database is back the engine
carries on where it stopped.

Each test here takes a database of its own (the outage and the half-migrated schema
would break the shared ones): a file in a directory that is taken away (SQLite), a
PostgreSQL database that stops accepting connections, whose sessions are terminated
(``pg_terminate_backend``), or a port nothing listens on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory

from services.engine.auth.security import create_access_token
from services.engine.migrate import alembic_config, upgrade
from tests.helpers.api import API, assert_problem, issue
from tests.helpers.app import app_for, client_of, started
from tests.helpers.db import admin, new_postgres_database, outside_loop
from tests.helpers.halls import PASSWORD, seed_hall
from tests.helpers.net import free_port
from tests.helpers.waiting import until

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _heads() -> list[str]:
    return sorted(ScriptDirectory.from_config(alembic_config("unused://")).get_heads())


@contextmanager
def own_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (SQLite: in a directory of its own)."""
    if kind == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir()
        yield f"sqlite+aiosqlite:///{folder}/jiaohao.db"
    else:
        with new_postgres_database("jiaohao_ready") as url:
            yield url


@asynccontextmanager
async def outage(url: str) -> AsyncIterator[None]:
    """The database goes away for the block, then comes back.

    PostgreSQL: the database refuses new connections and its sessions (the pool's and
    the listener's) are terminated. SQLite: the file's directory is moved away.
    """
    if url.startswith("sqlite"):
        folder = Path(url.removeprefix("sqlite+aiosqlite:///")).parent
        hidden = folder.with_name(folder.name + "-away")
        folder.rename(hidden)
        try:
            yield
        finally:
            hidden.rename(folder)
        return
    name = url.rsplit("/", 1)[1]
    await admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    await admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    try:
        yield
    finally:
        await admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


async def readiness(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/readyz")


async def ready(client: httpx.AsyncClient) -> None:
    """Wait until /readyz says ready (the listener reconnects with a back-off)."""
    answers: list[httpx.Response] = []

    async def poll() -> None:
        while True:
            answers.append(await readiness(client))
            if answers[-1].status_code == 200:
                return
            await asyncio.sleep(0.1)  # how often to look, not a timing assumption

    try:
        await asyncio.wait_for(poll(), 30)
    except TimeoutError:
        raise AssertionError(f"never ready: {answers[-1].text}") from None


@pytest.mark.parametrize("kind", DATABASES)
async def test_ready_on_a_migrated_database(kind: str, tmp_path: Path) -> None:
    with own_database(kind, tmp_path) as url:
        outside_loop(upgrade, url)
        app = app_for(url)
        async with started(app), client_of(app) as client:
            live = await client.get("/healthz")
            assert live.status_code == 200 and live.json()["status"] == "ok"
            answer = await readiness(client)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["status"] == "ready"
            checks = body["checks"]
            assert checks["database"] == "ok"
            assert checks["schema"] == f"at head ({', '.join(_heads())})"
            if kind == "postgres":
                assert checks["event_listener"] == "listening"
                assert checks["access_cache"] == "live"
            else:
                assert checks["event_listener"].startswith("not used")


@pytest.mark.parametrize("kind", DATABASES)
async def test_not_ready_until_the_schema_reaches_the_migrations_head(
    kind: str, tmp_path: Path
) -> None:
    heads = _heads()
    script = ScriptDirectory.from_config(alembic_config("unused://"))
    before_head = script.get_revision(heads[0]).down_revision
    assert isinstance(before_head, str)
    with own_database(kind, tmp_path) as url:
        app = app_for(url)
        async with started(app), client_of(app) as client:
            # Never migrated.
            body = assert_problem(await readiness(client), 503, "not_ready")
            assert body["failed"] == ["schema"], body
            assert body["checks"]["database"] == "ok"
            assert "not migrated" in body["detail"] and "jiaohao migrate" in body["detail"]
            # One migration short of the head.
            # On a thread, the loop running: the app's own tasks finish their transactions.
            await asyncio.to_thread(upgrade, url, before_head)
            body = assert_problem(await readiness(client), 503, "not_ready")
            assert body["failed"] == ["schema"], body
            assert f"at {before_head}, the engine expects {heads[0]}" in body["detail"], body
            # Migrated: ready, without a restart.
            await asyncio.to_thread(upgrade, url)
            await ready(client)


def _assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"].isdigit()


@pytest.mark.parametrize("kind", DATABASES)
async def test_a_database_outage_answers_503_problem_json_and_loses_nothing(
    kind: str, tmp_path: Path
) -> None:
    with own_database(kind, tmp_path) as url:
        outside_loop(upgrade, url)
        app = app_for(url)
        # Errors reach the client as the server would send them (no exception raised
        # through the test transport): a 500 would show as a 500.
        async with started(app), client_of(app, raise_app_exceptions=False) as client:
            hall = await seed_hall(app, client)
            first = await issue(client, hall)
            assert (await readiness(client)).status_code == 200
            base = f"{API}/{hall.code}"
            requests: list[Callable[[], Awaitable[httpx.Response]]] = [
                lambda: client.get(f"{base}/queues", headers=hall.h("manager")),
                lambda: client.get(f"{base}/tickets/{first['id']}", headers=hall.h("staff")),
                lambda: client.post(
                    f"{base}/tickets", json={"service": "business"}, headers=hall.h("kiosk")
                ),
                lambda: client.post(f"{base}/windows/1/open", headers=hall.h("manager")),
                lambda: client.post(f"{base}/windows/1/call-next", headers=hall.h("manager")),
                lambda: client.get(base, headers=hall.h("manager")),
                lambda: client.post(
                    "/api/v1/auth/token",
                    data={"username": f"{hall.code}-staff", "password": PASSWORD},
                ),
            ]
            async with outage(url):
                assert (await client.get("/healthz")).status_code == 200  # the process runs
                for request in requests:
                    _assert_unavailable(await request())
                # Several kiosks at once: the batch they share fails as a whole.
                batch = await asyncio.gather(*(requests[2]() for _ in range(5)))
                for response in batch:
                    assert response.status_code == 503, response.text
                    assert response.headers["content-type"].startswith("application/problem+json")
                body = assert_problem(await readiness(client), 503, "not_ready")
                assert "database" in body["failed"], body
                assert body["checks"]["database"].startswith("the database cannot be"), body
                if kind == "postgres":
                    await until(
                        lambda: not app.state.listener.connected.is_set(),
                        what="the listener notices",
                    )
                    body = assert_problem(await readiness(client), 503, "not_ready")
                    assert body["failed"] == ["database", "event_listener"], body
            await ready(client)
            # Nothing was written meanwhile: the next ticket follows the first one.
            second = await issue(client, hall)
            assert (first["number"], second["number"]) == ("A001", "A002")
            opened = await client.post(f"{base}/windows/1/open", headers=hall.h("manager"))
            assert opened.status_code == 200, opened.text


async def test_an_unreachable_postgresql_answers_503_problem_json() -> None:
    """An engine pointed at a port nobody listens on (start-up waits for the listener)."""
    app = app_for(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/jiaohao")
    settings: Any = app.state.settings
    staff = create_access_token(
        secret=settings.secret_key, user_id=1, role="manager", hall_id=1, minutes=5
    )
    async with started(app), client_of(app, raise_app_exceptions=False) as client:
        assert (await client.get("/healthz")).status_code == 200
        body = assert_problem(await readiness(client), 503, "not_ready")
        assert body["failed"] == ["database", "event_listener"], body
        assert body["checks"]["database"] == (
            "the database cannot be reached (ConnectionRefusedError)"
        )
        assert "127.0.0.1" not in body["detail"], "the answer names the database's address"
        headers = {"Authorization": f"Bearer {staff}"}
        _assert_unavailable(await client.get(f"{API}/demo/queues", headers=headers))
        _assert_unavailable(
            await client.post(f"{API}/demo/tickets", json={"service": "x"}, headers=headers)
        )
        _assert_unavailable(
            await client.post("/api/v1/auth/token", data={"username": "a", "password": "b"})
        )
