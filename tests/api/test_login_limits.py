"""Logins cannot stall the hall: failed logins are throttled, hashing is off the event loop.

The throttle's clock is the test's (moved by hand, never waited for); the Argon2
hashes are real, except where a test holds them to see what else goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from services.engine.auth import security
from services.engine.auth.throttle import LoginThrottle
from tests.helpers.api import API, assert_problem
from tests.helpers.app import app_for, started
from tests.helpers.halls import PASSWORD, Hall, seed_hall
from tests.helpers.waiting import until

WRONG = "Wr0ng-secret-never-logged"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def engine(url: str, **settings: object) -> AsyncIterator[tuple[Any, Hall, Clock]]:
    """A started engine, the test hall, and the login throttle's clock."""
    app = app_for(url, **settings)
    clock = Clock()
    async with started(app), client_from(app, "10.0.0.1") as client:
        throttle = app.state.login_throttle
        app.state.login_throttle = LoginThrottle(throttle.limits, clock=clock)
        yield app, await seed_hall(app, client), clock


@asynccontextmanager
async def client_from(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``address`` (the connection's peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def test_the_21st_wrong_login_is_refused_and_so_is_the_right_password_till_the_window_passes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with engine(database_url) as (app, hall, clock), client_from(app, "10.0.0.1") as client:
        manager = f"{hall.code}-manager"
        for second in range(20):
            clock.now = float(second)
            refused = await login(client, manager, WRONG)
            assert_problem(refused, 401, "unauthorized")
        clock.now = 30.0
        limited = await login(client, manager, WRONG)
        body = assert_problem(limited, 429, "login_throttled")
        # The first failure (at 0 s) leaves the one-minute window at 60 s.
        assert limited.headers["Retry-After"] == "30"
        assert body["retry_after_seconds"] == 30
        # The right password is refused too, from anywhere, while the window lasts.
        async with client_from(app, "10.0.0.2") as elsewhere:
            assert_problem(await login(elsewhere, manager, PASSWORD), 429, "login_throttled")
        clock.now = 59.9
        assert_problem(await login(client, manager, PASSWORD), 429, "login_throttled")
        # Other users log in meanwhile, from the same address.
        assert (await login(client, f"{hall.code}-staff", PASSWORD)).status_code == 200
        clock.now = 60.0
        passed = await login(client, manager, PASSWORD)
        assert passed.status_code == 200, passed.text

    failures = [r.getMessage() for r in caplog.records if "login refused" in r.getMessage()]
    assert len(failures) == 20
    assert manager in failures[-1] and "10.0.0.1" in failures[-1]
    assert WRONG not in caplog.text and PASSWORD not in caplog.text


async def test_failed_logins_from_one_address_are_throttled_over_every_username(
    database_url: str,
) -> None:
    """Guessing across many usernames (none needs to exist) from one address."""
    async with (
        engine(database_url, login_failures_per_address=5) as (app, hall, clock),
        client_from(app, "10.0.0.7") as client,
    ):
        for i in range(5):
            assert_problem(await login(client, f"nobody-{i}", WRONG), 401, "unauthorized")
        limited = await login(client, f"{hall.code}-staff", PASSWORD)
        assert_problem(limited, 429, "login_throttled")
        assert "from this address" in limited.json()["detail"]
        assert limited.headers["Retry-After"] == "60"
        # Another address is not held back; this one is after the window.
        async with client_from(app, "10.0.0.8") as other:
            assert (await login(other, f"{hall.code}-staff", PASSWORD)).status_code == 200
        clock.now += 60
        assert (await login(client, f"{hall.code}-staff", PASSWORD)).status_code == 200


async def test_a_hall_is_answered_while_logins_are_being_hashed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty wrong logins at once (no account needed): a GET /queues of another user is
    answered while every one of them is still waiting for its hash. With the hash on
    the event loop it would be answered after them (no clock involved: the hashes are
    held until the test lets them go)."""
    held = threading.Event()
    entered: list[str] = []  # the threads the hashes ran on
    verify = security.verify_password
    loop_thread = threading.current_thread()

    def held_verify(password_hash: str | None, password: str) -> bool:
        entered.append(threading.current_thread().name)
        if threading.current_thread() is not loop_thread:  # (held there, it would hold all)
            held.wait(30)
        return verify(password_hash, password)

    async with engine(database_url) as (app, hall, _), client_from(app, "10.0.0.1") as client:
        monkeypatch.setattr(security, "verify_password", held_verify)
        logins = [asyncio.create_task(login(client, f"nobody-{i}", WRONG)) for i in range(20)]
        threads = app.state.settings.login_hash_threads
        await until(lambda: len(entered) >= threads, what="the hashing begun")
        try:
            queues = await client.get(f"{API}/{hall.code}/queues", headers=hall.h("staff"))
            assert queues.status_code == 200, queues.text
            assert not any(task.done() for task in logins), "answered only after logins"
            # Only so many hashes run at once (64 MiB each): the rest wait their turn.
            assert len(entered) == threads
            assert all(name.startswith("jiaohao-argon2") for name in entered), entered
        finally:
            held.set()
        for answer in await asyncio.gather(*logins):
            assert_problem(answer, 401, "unauthorized")
        assert len(entered) == 20
