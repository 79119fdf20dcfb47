"""Open sockets cut off when their caller loses access (close code 4401).

A socket's caller is checked when it connects, and a screen stays connected for
days: a revoked device or a disabled account would go on receiving the hall's
events. The guard reads the caller of every open socket of this process again
(one short transaction, one read per distinct token) and closes those now
refused: 4401 (token revoked, account disabled, staff token expired) or 4403
(the caller may no longer read that hall).

When it reads them again:

- PostgreSQL, announcements heard: at once when the database announces a change
  to devices, staff accounts or halls (``jiaohao_access``, events/pg.py; the same
  announcement that empties the access cache), on every engine process, and after
  the listener reconnects (changes made meanwhile were not announced). Otherwise
  every MAX_AGE_SECONDS, should an announcement be missed.
- While no announcement can be heard -- always on SQLite (one process, nothing
  announced), on PostgreSQL while the listener is down or a trigger is off -- every
  ``bus_access_recheck_seconds`` (1 s by default) while sockets are open.

A socket that connected while a change was being announced is read again too
(the generation check), so a revocation cannot slip past a socket being set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.auth import service as auth_service
from services.engine.auth.cache import MAX_AGE_SECONDS
from services.engine.auth.permissions import Capability, authorise
from services.engine.core.errors import Refusal
from services.engine.events.socket import CloseCode, SocketTimer
from services.engine.events.source import shielded

if TYPE_CHECKING:
    from services.engine.events.socket import BusConnection

log = logging.getLogger(__name__)

# What a refusal on re-check closes with (the codes a refused connection gets).
_CLOSE = {401: CloseCode.UNAUTHORIZED, 403: CloseCode.FORBIDDEN}


class SocketGuard(SocketTimer):
    """Told what the access channel says (an events.pg AccessListener), it re-checks sockets."""

    task_name = "jiaohao-bus-guard"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
        recheck_seconds: float,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._secret = secret
        self._recheck_seconds = recheck_seconds
        self._live = False
        self._wake = asyncio.Event()
        # Moves with every announcement: a socket set up across one is re-checked.
        self.generation = 0
        # Re-checks done (tests wait on it; no clock involved).
        self.rechecks = 0
        self._failing = False

    # -- what the access channel says (events.pg.AccessListener) ----------------

    @property
    def live(self) -> bool:
        return self._live

    def changed(self) -> None:
        self.generation += 1
        self._wake.set()

    def set_live(self, live: bool) -> None:
        """Announcements can (True) or cannot (False) be heard now; either way, what
        changed meanwhile went unheard: re-check."""
        self._live = live
        self.changed()

    # -- sockets ---------------------------------------------------------------

    def add(self, connection: BusConnection, seen: int = -1) -> None:
        """A socket whose caller was checked when ``generation`` was ``seen`` (not given:
        re-checked at once)."""
        if seen != self.generation:
            self._wake.set()
        super().add(connection)

    async def _run(self) -> None:
        me = asyncio.current_task()
        while self._task is me:
            period = MAX_AGE_SECONDS if self._live else self._recheck_seconds
            with contextlib.suppress(TimeoutError):  # the timer, or an announcement
                await asyncio.wait_for(self._wake.wait(), period)
            self._wake.clear()
            try:
                await shielded(self.recheck())
            except Exception as err:  # the database away: keep the sockets, try again later
                # Once per outage, not once a second.
                (log.debug if self._failing else log.warning)(
                    "bus: could not read the sockets' callers again: %r", err
                )
                self._failing = True
            else:
                self._failing = False

    async def recheck(self) -> int:
        """Read every open socket's caller again; close those refused. How many closed."""
        by_token: dict[str, list[BusConnection]] = defaultdict(list)
        for connection in list(self._sockets):
            if connection.request.token is not None:
                by_token[connection.request.token].append(connection)
        closed = 0
        async with self._sessionmaker() as session:
            for token, connections in by_token.items():
                try:
                    principal = await auth_service.principal_from_token(
                        session=session, token=token, secret=self._secret
                    )
                except Refusal as refused:
                    closed += self._close(connections, refused)
                    continue
                for connection in connections:
                    try:
                        authorise(principal, Capability.READ, connection.hall_id)
                    except Refusal as refused:
                        closed += self._close([connection], refused)
            await session.rollback()
        self.rechecks += 1
        return closed

    def _close(self, connections: list[BusConnection], refused: Refusal) -> int:
        for connection in connections:
            log.info("bus: closing a socket of hall %s: %s", connection.hall_id, refused.detail)
            connection.end(_CLOSE.get(refused.status, CloseCode.UNAUTHORIZED), refused.detail)
        return len(connections)
