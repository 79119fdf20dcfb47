"""The hall's housekeeping (every minute, in every engine process).

Crosses bookings (no-shows past their arrival window), windows (held tickets whose
business day is over: held_expired), reviews (bad-review cases past a deadline, callback
phones past retention, system-default ratings) and partners (old request nonces). Each
step locks what it changes (SKIP LOCKED on PostgreSQL) or is idempotent, so several
engine processes may run it at once; each commits on its own, so one failing step
does not hold back the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.bookings import service as bookings
from services.engine.core.db import utcnow
from services.engine.halls import repository as halls_repo
from services.engine.partners.service import forget_old_nonces
from services.engine.reviews import service as reviews
from services.engine.statistics import rollup as statistics_facts
from services.engine.windows import service as windows

log = logging.getLogger(__name__)


@dataclass
class HousekeepingStats:
    booking_no_shows: int = 0
    held_expired: int = 0
    reviews_overdue: int = 0
    phones_erased: int = 0
    stats_days_rolled: int = 0
    failed_steps: int = 0


class Housekeeper:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval: float = 60.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def _step(
        self, name: str, stats: HousekeepingStats, work: Callable[[AsyncSession], Awaitable[None]]
    ) -> None:
        try:
            async with self._sessionmaker() as session:
                await work(session)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; the other steps go on
            stats.failed_steps += 1
            log.exception("housekeeping: %s failed", name)

    async def run_once(self, now: datetime | None = None) -> HousekeepingStats:
        now = now or utcnow()
        stats = HousekeepingStats()

        async def no_shows(session: AsyncSession) -> None:
            stats.booking_no_shows = await bookings.sweep_no_shows(session=session, now=now)

        async def held(session: AsyncSession) -> None:
            stats.held_expired = await windows.expire_held(session=session, now=now)

        async def cases(session: AsyncSession) -> None:
            for hall in await halls_repo.list_halls(session):
                swept = await reviews.sweep(session=session, hall=hall, now=now)
                stats.reviews_overdue += len(swept.overdue)
                stats.phones_erased += swept.phones_erased

        async def nonces(session: AsyncSession) -> None:
            await forget_old_nonces(session=session, now=now)

        async def facts(session: AsyncSession) -> None:
            # Closed days' statistics facts, recomputed where their raw rows changed.
            stats.stats_days_rolled = await statistics_facts.keep_facts(session, now)

        await self._step("booking no-shows", stats, no_shows)
        await self._step("held tickets", stats, held)
        await self._step("bad-review cases", stats, cases)
        await self._step("partner nonces", stats, nonces)
        await self._step("statistics facts", stats, facts)
        return stats

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        # An interval of 0 turns the loop off (the steps still run through run_once).
        if self._task is None and self._interval > 0:
            self._task = asyncio.create_task(self._loop(), name="jiaohao-housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
