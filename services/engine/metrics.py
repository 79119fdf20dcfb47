"""``/metrics`` in the Prometheus format, and what feeds it (core/metrics.py declares them).

- HTTP requests: an ASGI middleware times each request and labels it with its route
  template (``/api/v1/halls/{hall}/tickets``, never the path itself: no codes or
  numbers of tickets in the labels) and its status. Login failures and throttles are
  its ``route="/api/v1/auth/login"`` rows with status 401 and 429.
- Tickets and events: counted from the events this process commits (the hub is told
  of every commit, ``EventHub.observers``), not by the services: a step is counted
  once, when committed, in the process that committed it.
- Bus sockets, delivery and its lag: the hub's fan-out.
- The database pool: SQLAlchemy's checkout and checkin events.
- The PostgreSQL listener: a task that follows its connected/disconnected events.
- Queues (waiting now, the oldest wait against the service's target) and device
  health: read from the database when /metrics is read, by the process answering.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``jiaohao serve --workers N`` sets it), each
process writes its values to files there and /metrics adds every process's up.

Access: with ``JIAOHAO_METRICS_TOKEN`` set, a scrape must send it as a bearer token;
without it only a client on this machine (loopback) may read /metrics, which a
reverse proxy's clients are not (the engine sees their forwarded address).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.engine.core import metrics as m
from services.engine.core.db import UTCDateTime
from services.engine.core.errors import Forbidden, Unauthorized
from services.engine.events.hub import PublishedEvent
from services.engine.logs import route_of

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TICKET_EVENT = "ticket."


# -- requests --------------------------------------------------------------------


class RequestMetrics:
    """Times every HTTP request; labels: method, route template, status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # no answer started: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            m.HTTP_REQUESTS.labels(scope["method"], route_of(scope), str(status)).observe(
                time.perf_counter() - started
            )


# -- committed events, the bus -----------------------------------------------------


class HubCounter:
    """Counts what the hub sees (an events.hub HubObserver)."""

    def published(self, events: list[PublishedEvent]) -> None:
        for e in events:
            m.EVENTS_PUBLISHED.labels(e.type).inc()
            if e.type.startswith(TICKET_EVENT):
                outcome = e.type.removeprefix(TICKET_EVENT)
                service = str(e.payload.get("service", ""))
                m.TICKETS.labels(str(e.hall_id), service, outcome).inc()

    def delivered(self, event: PublishedEvent, subscribers: int) -> None:
        if subscribers:
            m.EVENTS_DELIVERED.inc(subscribers)
            lag = (datetime.now(UTC) - event.at).total_seconds()
            m.DELIVERY_LAG.observe(max(lag, 0.0))

    def subscribed(self, hall_id: int, change: int) -> None:
        m.BUS_SOCKETS.labels(str(hall_id)).inc(change)


# -- the pool, the listener, the process --------------------------------------------


class PoolWatch:
    """Connections this app's pool has out, from the pool's own checkout and checkin
    events; set into the process's gauge when scraped (so one process holding several
    apps, as the tests do, reports the scraped app's pool, not a sum that drifts)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.pool = engine.sync_engine.pool
        self.out = 0

        @event.listens_for(self.pool, "checkout")
        def _out(*_: Any) -> None:
            self.out += 1

        @event.listens_for(self.pool, "checkin")
        def _in(*_: Any) -> None:
            self.out = max(0, self.out - 1)

    def in_use(self) -> int:
        # A queue pool counts for itself (PostgreSQL); SQLite's NullPool does not.
        counted = getattr(self.pool, "checkedout", None)
        return int(counted()) if callable(counted) else self.out


def watch_pool(engine: AsyncEngine, capacity: int | None) -> PoolWatch:
    """Follow the pool's connections in use; count its capacity (None: unbounded)."""
    if capacity is not None:
        m.DB_POOL_CAPACITY.inc(capacity)
    return PoolWatch(engine)


async def start(app: FastAPI) -> None:
    """At start-up, after the bus: follow the listener; count this process."""
    m.PROCESSES.inc()
    listener = app.state.listener
    app.state.listener_watch = None
    if listener is not None:
        app.state.listener_watch = asyncio.get_running_loop().create_task(
            _follow_listener(listener), name="jiaohao-metrics-listener"
        )


async def stop(app: FastAPI) -> None:
    watch: asyncio.Task[None] | None = getattr(app.state, "listener_watch", None)
    if watch is not None:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
    m.PROCESSES.dec()
    capacity = app.state.pool_capacity
    if capacity is not None:
        m.DB_POOL_CAPACITY.dec(capacity)


async def _follow_listener(listener: Any) -> None:
    try:
        while True:
            await listener.connected.wait()
            m.LISTENER_CONNECTED.set(1)
            await listener.disconnected.wait()
            m.LISTENER_CONNECTED.set(0)
    finally:
        m.LISTENER_CONNECTED.set(0)


def install(app: FastAPI) -> None:
    """Count requests, committed events, the pool; serve /metrics."""
    settings = app.state.settings
    app.add_middleware(RequestMetrics)
    app.state.hub.observers.append(HubCounter())
    capacity = None if settings.is_sqlite else 2 * settings.database_pool_size
    app.state.pool_capacity = capacity
    app.state.pool_watch = watch_pool(app.state.engine, capacity)
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        tags=["meta"],
        include_in_schema=False,
    )


# -- /metrics --------------------------------------------------------------------


def _allowed(request: Request) -> None:
    token: str | None = request.app.state.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise Unauthorized("/metrics needs the metrics token (JIAOHAO_METRICS_TOKEN)")
        return
    host = request.client.host if request.client is not None else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("/metrics answers only on this machine unless JIAOHAO_METRICS_TOKEN is set")


async def metrics_endpoint(request: Request) -> Response:
    """The engine's metrics (every process's, added up), in the Prometheus text format."""
    _allowed(request)
    # Before the reads below take a connection of their own.
    m.DB_POOL_IN_USE.set(request.app.state.pool_watch.in_use())
    halls, database = await _read_database(request.app)
    families = [*_relabelled(_process_metrics(), halls), *database]
    body = await asyncio.to_thread(generate_latest, _Families(families))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Families:
    """What generate_latest reads: a collector's ``collect``."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


_PID_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def _process_metrics() -> list[Metric]:
    """This process's metrics, or every process's when they share a directory."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return list(REGISTRY.collect())
    _forget_dead(Path(folder))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return list(registry.collect())


def _forget_dead(folder: Path) -> None:
    """A worker that died (and was replaced) leaves its live gauges: drop them."""
    pids = {
        int(found[1]) for p in folder.glob("gauge_live*.db") if (found := _PID_FILE.match(p.name))
    }
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))
        except PermissionError:
            pass  # alive, another user's


def _relabelled(families: Iterable[Metric], halls: dict[str, str]) -> Iterator[Metric]:
    """The ``hall`` label's id replaced by the hall's code (kept when unknown)."""
    for family in families:
        family.samples = [
            s._replace(labels={**s.labels, "hall": halls[s.labels["hall"]]})
            if s.labels.get("hall") in halls
            else s
            for s in family.samples
        ]
        yield family


_HALLS = text("SELECT id, code FROM halls")
_QUEUES = text(
    """
    SELECT h.code, s.code, s.target_wait_minutes, count(*), min(t.queued_at)
    FROM tickets t JOIN services s ON s.id = t.service_id JOIN halls h ON h.id = t.hall_id
    WHERE t.status = 'waiting'
    GROUP BY h.code, s.code, s.target_wait_minutes
    """
)
_DEVICES = text(
    """
    SELECT h.code, d.kind, d.status, count(*)
    FROM device_health d JOIN halls h ON h.id = d.hall_id
    GROUP BY h.code, d.kind, d.status
    """
)


async def _read_database(app: FastAPI) -> tuple[dict[str, str], list[Metric]]:
    """Hall codes by id, and the families read from the database (queues, devices)."""
    up = GaugeMetricFamily("jiaohao_metrics_database_up", "1 when /metrics could read the database")
    waiting = GaugeMetricFamily(
        "jiaohao_queue_waiting", "Tickets waiting now", labels=["hall", "service"]
    )
    oldest = GaugeMetricFamily(
        "jiaohao_queue_oldest_wait_seconds",
        "How long the longest-waiting ticket has waited",
        labels=["hall", "service"],
    )
    target = GaugeMetricFamily(
        "jiaohao_queue_target_wait_seconds",
        "The service's target wait (compare with the oldest wait)",
        labels=["hall", "service"],
    )
    devices = GaugeMetricFamily(
        "jiaohao_devices",
        "Devices by kind and last reported status",
        labels=["hall", "kind", "status"],
    )
    halls: dict[str, str] = {}
    now = datetime.now(UTC)
    as_utc = UTCDateTime().process_result_value
    try:
        async with asyncio.timeout(5), app.state.sessionmaker() as session:
            dialect = session.get_bind().dialect
            halls = {str(i): c for i, c in (await session.execute(_HALLS)).all()}
            for hall, service, target_minutes, count, first in await session.execute(_QUEUES):
                waiting.add_metric([hall, service], count)
                target.add_metric([hall, service], 60.0 * target_minutes)
                if isinstance(first, str):  # SQLite hands raw text to a text() query
                    first = datetime.fromisoformat(first)
                first = as_utc(first, dialect)
                if first is not None:
                    oldest.add_metric([hall, service], max((now - first).total_seconds(), 0.0))
            for hall, kind, status, count in await session.execute(_DEVICES):
                devices.add_metric([hall, kind, status], count)
            await session.rollback()
        up.add_metric([], 1)
    except Exception as err:  # the metrics still answer, saying the database did not
        log.warning("metrics: could not read the database: %r", err)
        up.add_metric([], 0)
        return halls, [up]
    return halls, [up, waiting, oldest, target, devices]
