"""The engine app as it runs in production: its lifespan started, then served.

uvicorn starts an app by sending it the ASGI lifespan events before the first
request and stops it the same way; ``started`` does exactly that, so the app's
start-up (webhook worker, outbox pruning, on PostgreSQL the LISTEN connection that
makes the access cache live) runs in every test that talks to the app. A client
is given only of an app so started (``client_of``); ``serving`` does both.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.engine.app import create_app
from services.engine.config import Settings
from tests.helpers.waiting import until

# Start-up and shutdown each get this long; on PostgreSQL start-up waits for LISTEN.
LIFESPAN_SECONDS = 60.0

_started: weakref.WeakSet[Any] = weakref.WeakSet()
# The SQLite connection threads there were when the first of the running apps started.
_threads_before: set[threading.Thread] = set()


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": url,
        "secret_key": "test-secret-key-not-for-production",
        "pii_key": "test-pii-key-not-for-production",
        # Bursts of hundreds of requests on a loaded 2-core machine queue for connections.
        "database_pool_timeout": 300.0,
        # The background loops write on their own schedule and would contend with the
        # test's own writes (SQLite has one writer); tests that need them run their
        # steps directly (app.state.housekeeper.run_once) or set an interval.
        "housekeeping_seconds": 0,
        "alert_check_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def app_for(url: str, **settings: object) -> Any:
    """A new engine app on this database (not started: see ``started``/``serving``)."""
    return create_app(make_settings(url, **settings))


def is_started(app: Any) -> bool:
    return app in _started


class _Lifespan:
    """The server's side of the ASGI lifespan protocol, as uvicorn speaks it."""

    def __init__(self, app: Any) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.get_running_loop().create_task(
            app(scope, self._to_app.get, self._from_app.put), name="test-lifespan"
        )

    async def send(self, phase: str) -> None:
        """Send ``lifespan.<phase>``; return once the app reports it complete."""
        await self._to_app.put({"type": f"lifespan.{phase}"})
        answer = asyncio.ensure_future(self._from_app.get())
        try:
            done, _ = await asyncio.wait(
                {answer, self._task},
                timeout=LIFESPAN_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if not answer.done():
                answer.cancel()
        if answer in done and answer.result()["type"] == f"lifespan.{phase}.complete":
            return
        if not done:
            self._task.cancel()
            raise AssertionError(f"the app's {phase} took more than {LIFESPAN_SECONDS}s")
        # The app failed (it reports "failed", then raises): show its own exception.
        message = answer.result().get("message", "") if answer in done else ""
        await asyncio.wait({self._task}, timeout=LIFESPAN_SECONDS)
        if self._task.done() and not self._task.cancelled() and self._task.exception():
            raise self._task.exception()  # type: ignore[misc]
        raise AssertionError(f"the app's {phase} failed: {message}")

    async def ended(self) -> None:
        await self._task


@asynccontextmanager
async def started(app: Any) -> AsyncIterator[Any]:
    """Run ``app``'s lifespan around the block: start-up before, shutdown after."""
    global _threads_before
    if not _started:
        _threads_before = sqlite_threads()
    lifespan = _Lifespan(app)
    await lifespan.send("startup")
    _started.add(app)
    try:
        yield app
    finally:
        _started.discard(app)
        try:
            await lifespan.send("shutdown")
            await lifespan.ended()
        finally:
            _let_go()
        if not _started:
            await _sqlite_threads_ended(_threads_before)


def sqlite_threads() -> set[threading.Thread]:
    """aiosqlite's threads: one per SQLite connection, until the connection is closed."""
    return {t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")}


async def _sqlite_threads_ended(before: set[threading.Thread]) -> None:
    """Keep the test's event loop open until the SQLite connections the stopped apps
    opened are closed for good (their threads ended).

    Shutdown cancels the webhook worker and the outbox pruning wherever they are, maybe
    in the middle of a statement: the connection's thread finishes it, then closes and
    reports both to the loop. pytest closes a test's loop right after the test; a
    report to a closed loop is an exception on that thread ("Event loop is closed").
    """
    await until(lambda: not (sqlite_threads() - before), what="every SQLite connection closed")


def _let_go() -> None:
    """Let a stopped app be collected: a test process runs hundreds, one after the other.

    Start-up freezes what exists into the collector's permanent generation (right for a
    process that runs one app): thaw it, or every start-up's full collection would take
    longer than the one before.
    """
    gc.unfreeze()


@asynccontextmanager
async def access_change(app: Any) -> AsyncIterator[None]:
    """Around a change to devices, staff accounts, halls or services made beside the API
    (a session of the test's own, another process, psql): on leaving, wait until the app
    has heard of it, as it does within moments in production.

    On PostgreSQL the app keeps callers and halls (auth/cache.py) until the change is
    announced; once it forgets what it kept (any announcement after the block began will
    do: nothing is read meanwhile), its next request reads the change. On SQLite nothing
    is kept. Fails if the change is never heard.
    """
    cache = app.state.access_cache
    seen = cache.generation
    yield
    if cache.live:
        await until(lambda: cache.generation != seen, what="the change announced")


def transport_of(app: Any, *, raise_app_exceptions: bool = True) -> httpx.ASGITransport:
    """An HTTP transport to an app that is ``started`` (refused otherwise: not as in
    production), for clients that take a transport (the kiosk's engine client)."""
    assert is_started(app), "the app's lifespan is not running: use tests.helpers.app.serving"
    return httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)


@asynccontextmanager
async def client_of(
    app: Any, *, base_url: str = "http://test", raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that is ``started``."""
    transport = transport_of(app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


@asynccontextmanager
async def serving(app: Any, *, base_url: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app`` and give a client of it; stop it after (its database engine disposed)."""
    async with started(app), client_of(app, base_url=base_url) as client:
        yield client
