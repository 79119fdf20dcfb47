"""Callers and halls already checked against the database, kept while it says nothing changed.

Every request names its caller (a bearer token) and its hall (a code in the
path), and every ticket issued reads the hall's services. Reading them from the
database took a connection, a transaction and three queries per request: at a
busy kiosk bank, more than the ticket itself. This process keeps what it read
only while it is sure to hear of a change:

- PostgreSQL announces every change to devices, staff accounts, halls and
  services on the ``jiaohao_access`` channel (triggers of migration 0007, so a
  change from the CLI, another engine process or psql is announced too); the
  event listener (events/pg.py) forgets everything kept when one arrives;
- while the listener has no connection, nothing is kept or used: a change
  made meanwhile would go unheard;
- a reading that began before a change was announced is not kept (the
  generation check), so a revocation cannot be undone by a slow request;
- the listener also checks every few seconds that the announcing triggers are
  there and enabled, and whatever is kept is read again after MAX_AGE_SECONDS
  anyway: a change that went unannounced all the same is not kept for long.

On SQLite (one process, no announcements) the cache is never live: every
request reads the database, as before. A token that is refused is never kept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import make_transient_to_detached

from services.engine.auth.permissions import Principal
from services.engine.halls.models import Hall, Service

# More callers than any city's halls have: past it, start again rather than grow.
MAX_ENTRIES = 10_000
# Read again after this long, announced or not (a bound, should an announcement be missed).
MAX_AGE_SECONDS = 60.0

# Not a hall's event_seq: it moves with every event; reading it from a kept
# hall raises instead of lying.
_MOVING: dict[type[Any], frozenset[str]] = {Hall: frozenset({"event_seq"})}

Row = TypeVar("Row", Hall, Service)


class AccessCache:
    """Principals by token, halls by code and their services, till a change is announced."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._live = False
        self._generation = 0
        # Key -> (what was read, when it was read).
        self._principals: dict[str, tuple[Principal, float]] = {}
        self._halls: dict[str, tuple[Hall, float]] = {}
        self._services: dict[int, tuple[list[Service], float]] = {}
        # How many announcements arrived (tests wait on it; no clock involved).
        self.announcements = 0

    @property
    def live(self) -> bool:
        return self._live

    @property
    def generation(self) -> int:
        """Taken before a database read; the reading is kept only if it is unchanged after."""
        return self._generation

    def set_live(self, live: bool) -> None:
        """The listener got (True) or lost (False) its connection: start from nothing."""
        self._live = live
        self.forget()

    def changed(self) -> None:
        """The database announced a change to devices, staff accounts, halls or services."""
        self.announcements += 1
        self.forget()

    def forget(self) -> None:
        self._generation += 1
        self._principals.clear()
        self._halls.clear()
        self._services.clear()

    def principal(self, key: str) -> Principal | None:
        return self._fresh(self._principals, key)

    def keep_principal(self, key: str, principal: Principal, generation: int) -> None:
        if self._usable(generation, self._principals):
            self._principals[key] = (principal, self._clock())

    def hall(self, code: str) -> Hall | None:
        return self._fresh(self._halls, code)

    def keep_hall(self, hall: Hall, generation: int) -> None:
        if self._usable(generation, self._halls):
            self._halls[hall.code] = (detached_copy(hall), self._clock())

    def services(self, hall_id: int) -> list[Service] | None:
        """Every service of the hall, retired ones too (as the issue batch reads them)."""
        return self._fresh(self._services, hall_id)

    def keep_services(self, hall_id: int, services: Sequence[Service], generation: int) -> None:
        if self._usable(generation, self._services):
            self._services[hall_id] = ([detached_copy(s) for s in services], self._clock())

    # Read-through: what is kept, else ``read()`` -- kept unless a change was announced
    # while it was read.
    async def principal_or(self, key: str, read: Callable[[], Awaitable[Principal]]) -> Principal:
        kept = self.principal(key)
        if kept is not None:
            return kept
        generation = self._generation
        principal = await read()
        self.keep_principal(key, principal, generation)
        return principal

    async def hall_or(self, code: str, read: Callable[[], Awaitable[Hall]]) -> Hall:
        kept = self.hall(code)
        if kept is not None:
            return kept
        generation = self._generation
        hall = await read()
        self.keep_hall(hall, generation)
        return hall

    async def services_or(
        self, hall_id: int, read: Callable[[], Awaitable[Sequence[Service]]]
    ) -> Sequence[Service]:
        kept = self.services(hall_id)
        if kept is not None:
            return kept
        generation = self._generation
        services = await read()
        self.keep_services(hall_id, services, generation)
        return services

    def _fresh(self, entries: dict[Any, tuple[Any, float]], key: Any) -> Any:
        if not self._live:
            return None
        kept = entries.get(key)
        if kept is None:
            return None
        value, read_at = kept
        if self._clock() - read_at >= MAX_AGE_SECONDS:
            del entries[key]
            return None
        return value

    def _usable(self, generation: int, entries: dict[Any, Any]) -> bool:
        if not self._live or generation != self._generation:
            return False
        if len(entries) >= MAX_ENTRIES:
            entries.clear()
        return True


def detached_copy(row: Row) -> Row:
    """A copy of no session, shared by requests that only read it."""
    model = type(row)
    leave_out = _MOVING.get(model, frozenset())
    values = {
        c.key: copy.deepcopy(getattr(row, c.key))
        for c in model.__table__.columns
        if c.key not in leave_out
    }
    kept = model(**values)
    make_transient_to_detached(kept)
    return kept
