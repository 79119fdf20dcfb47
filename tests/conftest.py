"""Shared fixtures: migrated SQLite and PostgreSQL databases, the app, a seeded hall."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.engine.app import create_app
from services.engine.config import Settings
from services.engine.core.db import make_engine
from services.engine.migrate import upgrade
from services.engine.models import Base

PG_ADMIN_URL = os.environ.get(
    "JIAOHAO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("JIAOHAO_REQUIRE_POSTGRES") == "1"
ROOT = Path(__file__).resolve().parents[1]
TEST_HALL = ROOT / "tests" / "data" / "test-hall.toml"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _outside_loop(fn, *args):  # type: ignore[no-untyped-def]
    """Run blocking set-up (which may call asyncio.run) on a thread of its own.

    Session fixtures can be first requested from inside an async test's loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _postgres_unavailable() -> str | None:
    try:
        _outside_loop(asyncio.run, _admin("SELECT 1"))
    except Exception as err:  # any failure to reach the server means "unavailable"
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {err!r}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; dropped afterwards."""
    reason = _postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (JIAOHAO_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"jiaohao_test_{os.getpid()}_{secrets.token_hex(3)}"
    _outside_loop(asyncio.run, _admin(f'CREATE DATABASE "{name}"'))
    base = _sqlalchemy_url(PG_ADMIN_URL).rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        _outside_loop(upgrade, url)
        yield url
    finally:
        _outside_loop(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "jiaohao-test.db"
    url = f"sqlite+aiosqlite:///{path}"
    _outside_loop(upgrade, url)
    return url


async def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and on PostgreSQL, from empty tables."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    await _empty_tables(url)
    return url


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": url,
        "secret_key": "test-secret-key-not-for-production",
        "pii_key": "test-pii-key-not-for-production",
        # Bursts of hundreds of requests on a loaded 2-core machine queue for connections.
        "database_pool_timeout": 300.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def app(database_url: str):  # type: ignore[no-untyped-def]
    application = create_app(make_settings(database_url))
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass
class Hall:
    """The seeded test hall and a bearer header for each kind of caller."""

    code: str
    headers: dict[str, dict[str, str]]

    def h(self, who: str) -> dict[str, str]:
        return self.headers[who]


PASSWORD = "correct horse battery"
_PASSWORD_HASH: list[str] = []


def password_hash() -> str:
    """Argon2 is slow on purpose: hash the test password once per session."""
    from services.engine.auth.security import hash_password

    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    return _PASSWORD_HASH[0]


async def seed_hall(
    app, client: httpx.AsyncClient, hall_file: Path = TEST_HALL, other_code: str | None = None
) -> Hall:  # type: ignore[no-untyped-def]
    """Apply a hall file and create one account of every kind in it.

    Staff tokens are minted directly (login itself is tested on its own).
    """
    from services.engine.auth import service as auth_service
    from services.engine.auth.models import User
    from services.engine.auth.permissions import DeviceKind, Role
    from services.engine.auth.security import create_access_token
    from services.engine.halls.config import parse_hall_file
    from services.engine.halls.service import apply_hall_file, get_hall

    spec = parse_hall_file(hall_file.read_text(encoding="utf-8"))  # noqa: ASYNC240 (tiny file)
    if other_code:
        spec = spec.model_copy(update={"hall": spec.hall.model_copy(update={"code": other_code})})
    headers: dict[str, dict[str, str]] = {}
    settings = app.state.settings
    async with app.state.sessionmaker() as session:
        await apply_hall_file(session=session, spec=spec)
        hall = await get_hall(session=session, code=spec.hall.code)
        users = [
            User(
                hall_id=hall.id,
                username=f"{spec.hall.code}-{role.value}",
                password_hash=password_hash(),
                role=role.value,
                active=True,
            )
            for role in Role
        ]
        session.add_all(users)
        await session.commit()
        for user in users:
            token = create_access_token(
                secret=settings.secret_key,
                user_id=user.id,
                role=user.role,
                hall_id=hall.id,
                minutes=60,
            )
            headers[user.role] = {"Authorization": f"Bearer {token}"}
        for kind in DeviceKind:
            created = await auth_service.add_device(
                session=session, hall=hall, kind=kind, name=f"{spec.hall.code}-{kind.value}"
            )
            headers[kind.value] = {"Authorization": f"Bearer {created.token}"}
    return Hall(spec.hall.code, headers)


@pytest.fixture
async def hall(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    return await seed_hall(app, client)
