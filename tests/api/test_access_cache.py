"""Callers and halls an engine process keeps, and forgets when PostgreSQL announces a change.

The engine here runs its lifespan, so its LISTEN connection (and with it the
access cache) is live, as in production. Changes are made the way an operator
makes them: from another connection, or with the ``jiaohao`` command.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.engine.auth.cache import AccessCache
from services.engine.auth.security import device_token_hash
from services.engine.events.pg import ACCESS_TRIGGERS
from tests.helpers.api import API, token
from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import asyncpg_dsn, empty_tables
from tests.helpers.halls import Hall, seed_hall


async def sql(url: str, statement: str, *args: object) -> None:
    """A change from outside the engine, as psql or another process makes it."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


def announcement(cache: AccessCache, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once the listener hands the cache its next announcement."""
    heard = asyncio.Event()
    forget = cache.changed

    def changed() -> None:
        forget()
        heard.set()

    monkeypatch.setattr(cache, "changed", changed)
    return heard


async def heard(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), 10)


@dataclass
class Engine:
    """An engine with its lifespan running, a client of it and the seeded test hall."""

    app: Any
    client: httpx.AsyncClient
    hall: Hall
    url: str

    @property
    def cache(self) -> AccessCache:
        cache: AccessCache = self.app.state.access_cache
        return cache

    async def issue(self, who: str = "kiosk", service: str = "business") -> httpx.Response:
        return await self.client.post(
            f"{API}/{self.hall.code}/tickets", json={"service": service}, headers=self.hall.h(who)
        )

    async def changed_outside(self, statement: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make a change from outside the engine and wait until the engine has heard of it."""
        announced = announcement(self.cache, monkeypatch)
        await sql(self.url, statement)
        await heard(announced)

    async def revoke_with_the_command(self, tmp_path: Path, name: str) -> Any:
        return await asyncio.to_thread(
            Cli(self.url, tmp_path, None),
            "device",
            "revoke",
            "--hall",
            self.hall.code,
            "--name",
            name,
        )


@asynccontextmanager
async def engine_on(url: str) -> AsyncIterator[Engine]:
    await empty_tables(url)
    app = app_for(url)
    async with serving(app) as client:
        yield Engine(app, client, await seed_hall(app, client), url)


@pytest.fixture
async def live(postgres_url: str) -> AsyncIterator[Engine]:
    async with engine_on(postgres_url) as engine:
        assert engine.cache.live, "the listener is connected once start-up is done"
        yield engine


def new_service(code: str, prefix: str) -> str:
    """SQL that adds a service to the test hall, as a hall file applied elsewhere would."""
    return (
        "INSERT INTO services (hall_id, code, name, prefix, number_width, period_quotas, "
        "target_wait_minutes, average_handle_minutes, sort_order, active) "
        f"SELECT hall_id, '{code}', '新业务', '{prefix}', 3, '[]', 20, 8.0, 99, true "
        "FROM services WHERE code = 'business'"
    )


@pytest.mark.postgres
async def test_a_device_revoked_from_outside_is_refused_once_announced(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = live.cache
    assert (await live.issue()).status_code == 201
    # The kiosk and its hall are kept: the next request reads neither.
    key = f"device:{device_token_hash(token(live.hall, 'kiosk'))}"
    assert cache.principal(key) is not None
    assert cache.hall(live.hall.code) is not None

    await live.changed_outside(
        "UPDATE devices SET active = false WHERE kind = 'kiosk'", monkeypatch
    )

    refused = await live.issue()
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "unauthorized"
    # Others were forgotten too, and are read again: still allowed.
    assert (await live.issue("staff")).status_code == 201


@pytest.mark.postgres
async def test_a_disabled_staff_account_is_refused_though_its_token_has_not_expired(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await live.issue("staff")).status_code == 201
    await live.changed_outside("UPDATE users SET active = false WHERE role = 'staff'", monkeypatch)
    assert (await live.issue("staff")).status_code == 401


@pytest.mark.postgres
async def test_a_hall_changed_from_outside_is_read_again(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = live.cache
    read = await live.client.get(f"{API}/{live.hall.code}", headers=live.hall.h("staff"))
    assert read.status_code == 200
    assert cache.hall(live.hall.code) is not None
    await live.changed_outside(
        "UPDATE halls SET notice = 'closed at noon' WHERE code = 'testhall'", monkeypatch
    )
    again = await live.client.get(f"{API}/{live.hall.code}", headers=live.hall.h("staff"))
    assert again.json()["notice"] == "closed at noon"


@pytest.mark.postgres
async def test_tickets_and_device_contact_announce_nothing(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every issue moves the hall's event numbers and devices report in all day: the
    kept callers must survive both, or the cache would be emptied on every request."""
    cache = live.cache
    before = cache.announcements
    announced = announcement(cache, monkeypatch)
    for _ in range(3):
        assert (await live.issue()).status_code == 201
    await sql(live.url, "UPDATE devices SET last_seen_at = now()")
    # A change that is announced, committed after all of the above: once it is
    # heard, anything they announced would have been heard before it.
    await sql(live.url, "UPDATE users SET username = username || '-x' WHERE role = 'admin'")
    await heard(announced)
    assert cache.announcements == before + 1


@pytest.mark.postgres
async def test_nothing_is_kept_while_the_listener_is_down(live: Engine) -> None:
    cache = live.cache
    assert (await live.issue()).status_code == 201
    await live.app.state.listener.stop()
    assert not cache.live
    assert cache.hall(live.hall.code) is None
    # Unheard, the revocation still holds at once: every request reads the database.
    await sql(live.url, "UPDATE devices SET active = false WHERE kind = 'kiosk'")
    assert (await live.issue()).status_code == 401
    assert (await live.issue("staff")).status_code == 201


@pytest.mark.postgres
async def test_the_revoke_command_stops_a_serving_engine_from_taking_the_token(
    live: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator revokes a lost kiosk's token with ``jiaohao device revoke`` while
    the engine runs: its next request is refused."""
    assert (await live.issue()).status_code == 201
    announced = announcement(live.cache, monkeypatch)
    done = await live.revoke_with_the_command(tmp_path, f"{live.hall.code}-kiosk")
    assert done.returncode == 0, done.stderr
    assert "revoked" in done.stdout
    await heard(announced)
    assert (await live.issue()).status_code == 401
    missing = await live.revoke_with_the_command(tmp_path, "no-such-kiosk")
    assert missing.returncode == 2 and "no device" in missing.stderr


@pytest.mark.postgres
async def test_a_service_retired_or_added_from_outside_is_read_again(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue batch reads the hall's services from the cache: a service retired,
    added or deleted elsewhere must reach the next ticket."""
    from services.engine.halls import repository as halls_repo

    cache = live.cache
    assert (await live.issue()).status_code == 201
    kept_hall = cache.hall(live.hall.code)
    assert kept_hall is not None and cache.services(kept_hall.id) is not None
    # The next issue takes them from the cache: the batch's own read is not made.
    reads: list[bool] = []
    read_services = halls_repo.services_of

    async def counted(session: Any, hall_id: int, *, active_only: bool = False) -> Any:
        reads.append(active_only)
        return await read_services(session, hall_id, active_only=active_only)

    monkeypatch.setattr(halls_repo, "services_of", counted)
    assert (await live.issue()).status_code == 201
    assert False not in reads, "the issue batch read the services from the database"
    await live.changed_outside(
        "UPDATE services SET active = false WHERE code = 'business'", monkeypatch
    )
    retired = await live.issue()
    assert retired.status_code == 409, retired.text
    assert retired.json()["code"] == "service_unavailable"

    await live.changed_outside(new_service("newdesk", "N"), monkeypatch)
    added = await live.issue(service="newdesk")
    assert added.status_code == 201, added.text
    assert added.json()["number"].startswith("N")

    await live.changed_outside(new_service("brief", "Q"), monkeypatch)
    # An issue reads the list again and keeps it, 'brief' in it; then 'brief' is deleted.
    assert (await live.issue()).status_code == 409  # 'business' is retired
    assert any(s.code == "brief" for s in cache.services(kept_hall.id) or [])
    await live.changed_outside("DELETE FROM services WHERE code = 'brief'", monkeypatch)
    gone = await live.issue(service="brief")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found", gone.text


async def listener_backend_terminated(app: Any, url: str) -> None:
    """Cut the engine's LISTEN connection as a server restart would; wait for its return."""
    listener = app.state.listener
    await sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'jiaohao-listener' AND datname = current_database()",
    )
    await asyncio.wait_for(listener.disconnected.wait(), 10)
    await asyncio.wait_for(listener.connected.wait(), 10)


@pytest.mark.postgres
async def test_after_the_listener_reconnects_changes_are_heard_again(
    live: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = live.cache
    assert (await live.issue()).status_code == 201
    await listener_backend_terminated(live.app, live.url)
    assert cache.live
    assert cache.hall(live.hall.code) is None, "what was kept before the cut is forgotten"
    assert (await live.issue()).status_code == 201
    # A device deleted (not only deactivated) is announced too.
    await live.changed_outside("DELETE FROM devices WHERE kind = 'kiosk'", monkeypatch)
    assert (await live.issue()).status_code == 401


@pytest.mark.postgres
@pytest.mark.parametrize("trigger", ACCESS_TRIGGERS)
@pytest.mark.parametrize("mode", ["DISABLE", "ENABLE REPLICA"])
async def test_with_any_trigger_off_nothing_is_kept(live: Engine, trigger: str, mode: str) -> None:
    """A change nobody would announce (a restore with triggers off, a trigger that fires
    on replicas only): the engine finds it out when it connects and keeps nothing."""
    cache = live.cache
    table = trigger.split("_", 1)[0]
    await sql(live.url, f"ALTER TABLE {table} {mode} TRIGGER {trigger}")
    try:
        await listener_backend_terminated(live.app, live.url)
        assert not cache.live
        health = await live.client.get("/healthz")
        assert health.json()["access_cache"] == "off"
        assert (await live.issue()).status_code == 201
        assert cache.hall(live.hall.code) is None
        await sql(live.url, "UPDATE devices SET active = false WHERE kind = 'kiosk'")
        assert (await live.issue()).status_code == 401
    finally:
        await sql(live.url, f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    await listener_backend_terminated(live.app, live.url)
    assert cache.live
    assert (await live.client.get("/healthz")).json()["access_cache"] == "live"


@pytest.mark.postgres
async def test_every_column_but_those_that_move_on_their_own_is_watched(
    postgres_url: str,
) -> None:
    """A column added to devices, users or halls without adding it to its trigger would
    change what a kept caller or hall says without anyone hearing of it."""
    from services.engine.auth.models import Device, User
    from services.engine.halls.models import Hall as HallRow

    # A login stamps last_login_at: no kept caller says anything about it.
    moving = {"devices": {"last_seen_at"}, "users": {"last_login_at"}, "halls": {"event_seq"}}
    # Services have no column that moves on its own: every change of them is announced.
    conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        for model in (Device, User, HallRow):
            table = model.__table__.name
            rows = await conn.fetch(
                "SELECT a.attname FROM pg_trigger t JOIN pg_attribute a "
                "ON a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr::int2[]) "
                "WHERE t.tgname = $1",
                f"{table}_access_update",
            )
            watched = {r["attname"] for r in rows}
            assert watched == {c.name for c in model.__table__.columns} - moving[table], table
    finally:
        await conn.close()


async def test_on_sqlite_nothing_is_kept_and_a_revocation_holds_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    """One-PC stations: no announcements, so every request reads the database."""
    async with engine_on(sqlite_url) as engine:
        assert (await engine.issue()).status_code == 201
        assert not engine.cache.live
        assert engine.cache.hall(engine.hall.code) is None
        done = await engine.revoke_with_the_command(tmp_path, f"{engine.hall.code}-kiosk")
        assert done.returncode == 0, done.stderr
        assert (await engine.issue()).status_code == 401
