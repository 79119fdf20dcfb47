"""The outbox as the hub's source for filling gaps."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.events import repository
from services.engine.events.hub import PublishedEvent

T = TypeVar("T")


class OutboxSource:
    """Reads committed events in short transactions of their own.

    Each read is shielded from cancellation: a task cancelled inside a database
    call can leave its connection checked out (and SQLite's lock held).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], page: int = 500) -> None:
        self._sessionmaker = sessionmaker
        self._page = page

    async def head(self, hall_id: int) -> int:
        return await shielded(self._head(hall_id))

    async def read(self, hall_id: int, after: int, upto: int | None = None) -> list[PublishedEvent]:
        return await shielded(self._read(hall_id, after, upto))

    async def _head(self, hall_id: int) -> int:
        async with self._sessionmaker() as session:
            return await repository.head(session, hall_id)

    async def _read(self, hall_id: int, after: int, upto: int | None) -> list[PublishedEvent]:
        async with self._sessionmaker() as session:
            return await repository.read_events(session, hall_id, after, upto, self._page)


_IN_FLIGHT: set[asyncio.Future[Any]] = set()


async def shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run a database read to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    _IN_FLIGHT.add(task)
    task.add_done_callback(_IN_FLIGHT.discard)
    return await asyncio.shield(task)


async def settle() -> None:
    """Wait for the shielded reads of this event loop that are still running."""
    loop = asyncio.get_running_loop()
    while running := [t for t in _IN_FLIGHT if t.get_loop() is loop]:
        await asyncio.wait(running)
