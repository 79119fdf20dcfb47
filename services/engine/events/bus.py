"""Wiring of the event bus into the app: endpoint, hub, LISTEN/NOTIFY listener, pruning."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from services.engine.config import Settings
from services.engine.events.guard import SocketGuard
from services.engine.events.hub import EventHub
from services.engine.events.pg import AccessListeners, PgListener, asyncpg_dsn
from services.engine.events.retention import prune_forever
from services.engine.events.router import BusEndpoint
from services.engine.events.snapshot import SnapshotCache
from services.engine.events.socket import Heartbeats
from services.engine.events.source import OutboxSource


def install(app: FastAPI, settings: Settings) -> None:
    """Give the app its hub (on PostgreSQL the outbox statement NOTIFYs the other processes)."""
    app.state.hub = EventHub(
        OutboxSource(app.state.sessionmaker), resync_seconds=settings.bus_resync_seconds
    )
    # The WebSocket endpoint, ahead of routing (see BusEndpoint).
    app.add_middleware(BusEndpoint)
    app.state.snapshots = SnapshotCache(app.state.sessionmaker)
    app.state.heartbeats = Heartbeats(settings.bus_heartbeat_seconds)
    # Closes open sockets whose caller lost access (events/guard.py).
    app.state.socket_guard = SocketGuard(
        app.state.sessionmaker, settings.secret_key, settings.bus_access_recheck_seconds
    )
    app.state.listener = None
    app.state.pruner = None


async def start(app: FastAPI) -> None:
    """At start-up: LISTEN (PostgreSQL) and the periodic outbox pruning."""
    settings: Settings = app.state.settings
    if not settings.is_sqlite:
        listener = PgListener(
            asyncpg_dsn(settings.database_url),
            app.state.hub,
            access=AccessListeners(app.state.access_cache, app.state.socket_guard),
        )
        await listener.start()
        app.state.listener = listener
    app.state.pruner = asyncio.get_running_loop().create_task(
        prune_forever(
            app.state.sessionmaker,
            settings.event_retention_days,
            settings.event_prune_interval_seconds,
        ),
        name="jiaohao-outbox-prune",
    )


async def stop(app: FastAPI) -> None:
    pruner: asyncio.Task[None] | None = app.state.pruner
    if pruner is not None:
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
    listener: PgListener | None = app.state.listener
    if listener is not None:
        await listener.stop()
    hub: EventHub = app.state.hub
    await hub.close()
    heartbeats: Heartbeats = app.state.heartbeats
    heartbeats.stop()
    guard: SocketGuard = app.state.socket_guard
    guard.stop()
