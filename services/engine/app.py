"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import services.engine.models  # noqa: F401  (every table known to the ORM)
from services.engine import apidocs, metrics
from services.engine.alerts.service import AlertSweeper
from services.engine.auth.cache import AccessCache
from services.engine.auth.hashing import PasswordChecker
from services.engine.auth.router import router as auth_router
from services.engine.auth.throttle import LoginLimits, LoginThrottle
from services.engine.balancing.router import router as balancing_router
from services.engine.bookings.router import partner_router as partner_bookings_router
from services.engine.bookings.router import staff_router as bookings_router
from services.engine.config import Settings, get_settings
from services.engine.console.router import router as console_router
from services.engine.core.db import make_engine, make_sessionmaker
from services.engine.core.limits import BodyLimit
from services.engine.core.problems import (
    declare_problems,
    install_problem_docs,
    install_problem_handlers,
    problem_responses,
)
from services.engine.deps import refuse_nul
from services.engine.devices.router import pages as devices_pages_router
from services.engine.devices.router import router as devices_router
from services.engine.display.router import router as display_router
from services.engine.evaluations.router import router as evaluations_router
from services.engine.events import bus
from services.engine.flows.housekeeping import Housekeeper
from services.engine.halls.router import router as halls_router
from services.engine.health import healthz, readyz
from services.engine.logs import RequestLog
from services.engine.manage.router import api as manage_api_router
from services.engine.manage.router import pages as manage_pages_router
from services.engine.manage.settings import api as settings_api_router
from services.engine.manage.settings import pages as settings_pages_router
from services.engine.pages import router as pages_router
from services.engine.partners.webhooks import WebhookWorker
from services.engine.public.router import router as public_router
from services.engine.regions.router import page_router as regions_page_router
from services.engine.regions.router import router as regions_router
from services.engine.reviews.pages import router as reviews_pages_router
from services.engine.reviews.public import router as reviews_public_router
from services.engine.reviews.router import partner_router as reviews_partner_router
from services.engine.reviews.router import router as reviews_router
from services.engine.statistics.push_router import router as statistics_push_router
from services.engine.statistics.router import page_router as statistics_page_router
from services.engine.statistics.router import router as statistics_router
from services.engine.statistics.satisfaction import router as statistics_satisfaction_router
from services.engine.statistics.simulation_router import router as statistics_simulation_router
from services.engine.tickets.router import router as tickets_router
from services.engine.windows.router import router as windows_router

DESCRIPTION = """
jiaohao (叫号) ticket engine: numbers tickets, calls them at windows, records ratings.

Staff log in with **StaffLogin** (username and password); kiosks, gateways and
displays use their **DeviceToken**. Every refusal is `application/problem+json`
with a stable `code`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the engine app; the database engine is created here and disposed on shutdown."""
    settings = settings or get_settings()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
        echo=settings.database_echo,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.webhook_worker.start()  # partner webhooks
        app.state.housekeeper.start()  # no-shows, held tickets, bad-review deadlines
        await bus.start(app)  # LISTEN/NOTIFY fan-out, outbox pruning
        await metrics.start(app)  # follows the listener, counts this process
        app.state.alert_sweeper.start()  # the dashboard's alert rules (alerts/)
        # What start-up built lives as long as the process: keep it out of the
        # collector's full passes (they paused requests for 30-120 ms).
        gc.collect()
        gc.freeze()
        yield
        await app.state.alert_sweeper.stop()
        await metrics.stop(app)
        await bus.stop(app)
        await app.state.housekeeper.stop()
        await app.state.webhook_worker.stop()
        app.state.passwords.close()
        await engine.dispose()

    app = FastAPI(
        title="jiaohao ticket engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc from installed files, never a CDN (apidocs.py).
        docs_url=None,
        redoc_url=None,
        # Every route first refuses text holding NUL (U+0000): deps.refuse_nul.
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    # Live only while the PostgreSQL listener runs (bus.start): auth/cache.py.
    app.state.access_cache = AccessCache()
    bus.install(app, settings)
    # Logins: Argon2 off the event loop; failed logins counted (auth/hashing.py, throttle.py).
    app.state.passwords = PasswordChecker(settings.login_hash_threads)
    app.state.login_throttle = LoginThrottle(
        LoginLimits(
            per_user=settings.login_failures_per_user,
            per_address=settings.login_failures_per_address,
            window_seconds=settings.login_window_seconds,
        )
    )
    # An oversized body is refused before anything reads it (core/limits.py).
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Around it: request metrics and /metrics (metrics.py), then each request's id and
    # log context (logs.py), outermost so that every line of a request names it.
    metrics.install(app)
    app.add_middleware(
        RequestLog, access_lines=settings.log_format == "json" and settings.access_log
    )
    app.state.webhook_worker = WebhookWorker(app.state.sessionmaker, settings)
    app.state.housekeeper = Housekeeper(
        app.state.sessionmaker, interval=settings.housekeeping_seconds
    )
    app.state.alert_sweeper = AlertSweeper(
        app.state.sessionmaker,
        every=settings.alert_check_seconds,
        silent_after=settings.device_silent_seconds,
        hub=app.state.hub,
    )
    install_problem_handlers(app)
    install_problem_docs(app)
    # Each route declares the problem+json answers it can give, derived from its
    # dependencies, path and body (core/problems.py: declare_problems).
    for router in (
        auth_router,
        halls_router,
        tickets_router,
        windows_router,
        evaluations_router,
        reviews_router,
        reviews_partner_router,
        bookings_router,
        balancing_router,
        partner_bookings_router,
        display_router,
        console_router,
        pages_router,
        manage_api_router,
        manage_pages_router,
        settings_api_router,
        settings_pages_router,
        devices_router,
        devices_pages_router,
        public_router,
        statistics_router,
        statistics_page_router,
        statistics_satisfaction_router,
        statistics_simulation_router,
        statistics_push_router,
        reviews_public_router,
        reviews_pages_router,
        regions_router,
        regions_page_router,
    ):
        app.include_router(declare_problems(router))

    apidocs.install(app)
    # Liveness (the process runs) and readiness (it can serve): health.py.
    app.add_api_route(
        "/healthz", healthz, methods=["GET"], tags=["meta"], responses=problem_responses(422)
    )
    app.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        tags=["meta"],
        responses={
            **problem_responses(422, 503),
            503: {**problem_responses(503)[503], "description": "Not ready: which check fails"},
        },
    )
    return app
