"""Schemathesis over every operation of the engine's OpenAPI schema (issue #15).

On SQLite and on PostgreSQL, as a manager and as a kiosk: no response is a 5xx and
every response conforms to the schema. Bounded for CI: a fixed number of examples per
operation and a fixed seed, so a run is repeatable.

Schemathesis drives the app over ASGI on an event loop of its own and runs the app's
lifespan there (as uvicorn would), so these tests are sync: the database is made and
the hall seeded before, outside any loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.engine.migrate import upgrade
from tests.helpers.app import app_for
from tests.helpers.db import new_postgres_database, outside_loop
from tests.helpers.halls import Hall, seeded

EXAMPLES_PER_OPERATION = 25
SEED = 15
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def sqlite_hall(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Hall]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "jiaohao.db"
    url = f"sqlite+aiosqlite:///{path}"
    outside_loop(upgrade, url)
    return url, outside_loop(asyncio.run, seeded(url))


@pytest.fixture(scope="module")
def postgres_hall() -> Iterator[tuple[str, Hall]]:
    """A database of its own (the session's is emptied per test); fails in CI without PostgreSQL."""
    with new_postgres_database("jiaohao_schemathesis") as url:
        outside_loop(upgrade, url)
        yield url, outside_loop(asyncio.run, seeded(url))


def fuzz(url: str, hall: Hall, who: str) -> list[str]:
    """Every operation, EXAMPLES_PER_OPERATION cases each; the failures, one line per operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_for(url))
    headers = hall.h(who)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            # Mostly the seeded hall (else nearly every path is a 404), else the generated code.
            params = case.path_parameters
            if params and "hall" in params and len(str(params["hall"])) % 4 != 0:
                params["hall"] = hall.code
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        # A check that fails raises a FailureGroup (a BaseExceptionGroup); the app's own
        # exception propagates as itself. Both are collected and reported together below.
        except (Exception, FailureGroup) as error:
            first = [line for line in str(error).splitlines() if line.strip()][:4]
            failures.append(f"{operation.method.upper()} {operation.path}: {' | '.join(first)}")
    assert operations > 30, f"only {operations} operations in the schema"
    return failures


@pytest.mark.parametrize("who", ["manager", "kiosk"])
def test_sqlite(sqlite_hall: tuple[str, Hall], who: str) -> None:
    url, hall = sqlite_hall
    failures = fuzz(url, hall, who)
    assert not failures, "\n".join(failures)


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["manager", "kiosk"])
def test_postgres(postgres_hall: tuple[str, Hall], who: str) -> None:
    url, hall = postgres_hall
    failures = fuzz(url, hall, who)
    assert not failures, "\n".join(failures)
