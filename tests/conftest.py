"""Shared fixtures: migrated SQLite and PostgreSQL databases, the app, a seeded hall."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.engine.migrate import upgrade
from tests.helpers.app import app_for, client_of, started
from tests.helpers.bookings import BOOKING_HALL, PartnerClient, add_partner
from tests.helpers.db import empty_tables, new_postgres_database, outside_loop
from tests.helpers.halls import Hall, seed_hall


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; dropped afterwards."""
    with new_postgres_database("jiaohao_test") as url:
        outside_loop(upgrade, url)
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "jiaohao-test.db"
    url = f"sqlite+aiosqlite:///{path}"
    outside_loop(upgrade, url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and on PostgreSQL, from empty tables."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    await empty_tables(url)
    return url


@pytest.fixture
async def app(database_url: str):  # type: ignore[no-untyped-def]
    """The engine app on the test's database, its lifespan running as in production."""
    async with started(app_for(database_url)) as application:
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with client_of(app) as http:
        yield http


@pytest.fixture
async def hall(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    return await seed_hall(app, client)


@pytest.fixture
async def bhall(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    """A hall that takes bookings (预约)."""
    return await seed_hall(app, client, BOOKING_HALL)


@pytest.fixture
async def partner(app, client: httpx.AsyncClient, bhall: Hall) -> PartnerClient:  # type: ignore[no-untyped-def]
    """A booking partner (the mini-program's server) of ``bhall``, signing its requests."""
    partner_id, key_id, secret = await add_partner(app, bhall.code)
    return PartnerClient(client, key_id, secret, bhall.code, partner_id)
