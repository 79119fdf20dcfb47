"""The databases under test: the PostgreSQL server, emptying tables, whole-database snapshots."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.core.db import make_engine
from services.engine.models import Base

PG_ADMIN_URL = os.environ.get(
    "JIAOHAO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("JIAOHAO_REQUIRE_POSTGRES") == "1"


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def admin(statement: str) -> None:
    """Run one statement on the server's admin database (CREATE/DROP DATABASE)."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def outside_loop(fn, *args):  # type: ignore[no-untyped-def]
    """Run blocking set-up (which may call asyncio.run) on a thread of its own.

    Session fixtures can be first requested from inside an async test's loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def postgres_unavailable() -> str | None:
    try:
        outside_loop(asyncio.run, admin("SELECT 1"))
    except Exception as err:  # any failure to reach the server means "unavailable"
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {err!r}"
    return None


async def empty_tables(url: str) -> None:
    engine = make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()


async def snapshot(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for comparing the whole database before and after."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards.

    Without a server the test is skipped, or fails when JIAOHAO_REQUIRE_POSTGRES=1 (CI).
    """
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (JIAOHAO_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    outside_loop(asyncio.run, admin(f'CREATE DATABASE "{name}"'))
    base = sqlalchemy_url(PG_ADMIN_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        outside_loop(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
