"""Outbox retention: events older than the configured days are pruned periodically."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.core.db import utcnow
from services.engine.events import repository

log = logging.getLogger(__name__)


async def prune_once(
    sessionmaker: async_sessionmaker[AsyncSession], retention_days: int, now: datetime | None = None
) -> int:
    """Delete outbox rows older than ``retention_days``; returns how many."""
    before = (now or utcnow()) - timedelta(days=retention_days)
    async with sessionmaker() as session:
        removed = await repository.prune(session, before)
        await session.commit()
    if removed:
        log.info("outbox: pruned %d events older than %s", removed, before.isoformat())
    return removed


async def prune_forever(
    sessionmaker: async_sessionmaker[AsyncSession], retention_days: int, interval: float
) -> None:
    """Prune now and then every ``interval`` seconds; a failure waits for the next round."""
    while True:
        try:
            await prune_once(sessionmaker, retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be away for a while; try again next round
            log.exception("outbox: pruning failed")
        await asyncio.sleep(interval)
