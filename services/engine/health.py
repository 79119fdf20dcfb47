"""Liveness and readiness.

``/healthz``: the process runs (a supervisor restarts it when this stops answering).
``/readyz``: it can serve: a database round trip, the schema at the migrations' head,
on PostgreSQL the event listener connected; 503 problem+json saying what is wrong (a
load balancer sends requests elsewhere meanwhile). Neither needs a login, so neither
says more than which check failed and its kind (no addresses, no messages).

Module-level functions, not closures over the app: FastAPI keeps endpoint functions
in a cache, which would keep every app built in a process alive.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache

from alembic.script import ScriptDirectory
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.engine.core.db import database_unavailable
from services.engine.core.problems import problem
from services.engine.migrate import alembic_config

log = logging.getLogger(__name__)

# A readiness probe answers within this long, whatever the database does.
READY_TIMEOUT_SECONDS = 5.0


async def healthz(request: Request) -> dict[str, str]:
    """The process runs; access_cache: "live" while it keeps callers (auth/cache.py)."""
    live = request.app.state.access_cache.live
    return {"status": "ok", "access_cache": "live" if live else "off"}


@cache
def migration_heads() -> frozenset[str]:
    """The revisions ``jiaohao migrate`` brings a database to (read once per process)."""
    script = ScriptDirectory.from_config(alembic_config("unused://"))
    return frozenset(script.get_heads())


async def readyz(request: Request) -> JSONResponse:
    """200 when this process can serve; 503 problem+json naming every check that fails."""
    app = request.app
    checks: dict[str, str] = {}
    failed: list[str] = []
    heads = await asyncio.to_thread(migration_heads)
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            checks["database"], checks["schema"] = await _database_and_schema(
                app.state.engine, heads
            )
    except TimeoutError:
        checks["database"] = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
        checks["schema"] = "unknown"
    if checks["database"] != "ok":
        failed.append("database")  # the schema is then unknown, not wrong
    elif not checks["schema"].startswith("at head"):
        failed.append("schema")
    listener = app.state.listener
    if app.state.settings.is_sqlite:
        checks["event_listener"] = "not used (SQLite: one process)"
    elif listener is not None and listener.connected.is_set():
        checks["event_listener"] = "listening"
    else:
        checks["event_listener"] = "disconnected (other processes' events and changes unheard)"
        failed.append("event_listener")
    checks["access_cache"] = "live" if app.state.access_cache.live else "off"
    if not failed:
        return JSONResponse({"status": "ready", "checks": checks})
    detail = "; ".join(f"{name}: {checks[name]}" for name in failed)
    log.warning("not ready: %s", detail)
    extra = {"checks": checks, "failed": failed}
    return problem(503, "not_ready", "Not ready", detail, request.url.path, extra)


async def _database_and_schema(engine: AsyncEngine, heads: frozenset[str]) -> tuple[str, str]:
    """(the database's state, the schema's state) after one round trip each."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = frozenset(str(v) for v in rows.scalars())
            except DBAPIError as err:
                if not _no_such_table(err):
                    raise
                return "ok", "not migrated (run `jiaohao migrate`)"
    except Exception as err:  # whatever it is, the probe says so rather than failing
        reason = database_unavailable(err) or f"the database failed ({type(err).__name__})"
        log.warning("readiness: %s: %r", reason, err)
        return reason, "unknown"
    if versions == heads:
        return "ok", f"at head ({', '.join(sorted(heads))})"
    return "ok", (
        f"at {', '.join(sorted(versions)) or 'nothing'}, the engine expects "
        f"{', '.join(sorted(heads))} (run `jiaohao migrate`)"
    )


def _no_such_table(err: DBAPIError) -> bool:
    """The table asked for does not exist (PostgreSQL's undefined_table, SQLite's words)."""
    return getattr(err.orig, "sqlstate", None) == "42P01" or "no such table" in str(err.orig)
