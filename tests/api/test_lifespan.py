"""The API tests talk to the engine as it runs in production: its lifespan started.

On PostgreSQL the lifespan's LISTEN connection makes the access cache live
(auth/cache.py); on both databases it starts the outbox pruning and the webhook
worker. A client fixture or helper that skipped the lifespan would test another
engine than the one deployed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers.app import app_for, client_of, serving, started


async def test_the_api_client_talks_to_an_app_running_its_lifespan(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    postgres = database_url.startswith("postgresql")
    health = await client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok", "access_cache": "live" if postgres else "off"}
    assert app.state.access_cache.live is postgres
    pruner = app.state.pruner
    assert pruner is not None and not pruner.done(), "the outbox pruning was not started"
    if postgres:
        assert app.state.listener is not None and app.state.listener.connected.is_set()


async def test_a_client_is_given_only_of_a_started_app(database_url: str) -> None:
    app = app_for(database_url)
    with pytest.raises(AssertionError, match="lifespan is not running"):
        async with client_of(app):
            pass
    async with serving(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        pruner = app.state.pruner
    assert pruner.done(), "the shutdown did not stop the outbox pruning"
    with pytest.raises(AssertionError, match="lifespan is not running"):
        async with client_of(app):
            pass


async def test_a_failing_start_up_fails_with_the_apps_own_error() -> None:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database today")
        yield

    with pytest.raises(RuntimeError, match="no database today"):
        async with started(FastAPI(lifespan=lifespan)):
            pass
