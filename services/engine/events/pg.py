"""Fan-out across engine processes through PostgreSQL LISTEN/NOTIFY.

The committing transaction sends ``pg_notify('jiaohao_events', '<hall_id>:<last_seq>')``
(in the outbox's own statement, see ``outbox.py``); PostgreSQL delivers it only if,
and when, the transaction commits. Every engine
process LISTENs on a dedicated asyncpg connection and tells its hub that the
hall has reached that sequence number; the hub reads the rows it has not seen
from the outbox. Nothing but numbers travels in the notification.

The same connection LISTENs on ``jiaohao_access``, where triggers announce
changes to devices, staff accounts, halls and services: the access cache (auth/cache.py)
forgets what it kept, and keeps nothing while the connection is down; the socket
guard (events/guard.py) reads open sockets' callers again and closes the refused.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from services.engine.events.hub import EventHub

log = logging.getLogger(__name__)


class AccessListener(Protocol):
    """Told what the access channel says (the access cache, auth/cache.py, is one).

    The listener only reports: a change was announced, or announcements can or
    cannot be trusted now. It does not know what is kept.
    """

    @property
    def live(self) -> bool: ...

    def changed(self) -> None: ...

    def set_live(self, live: bool) -> None: ...


class AccessListeners:
    """Several listeners told the same (the access cache, the bus's socket guard)."""

    def __init__(self, *listeners: AccessListener) -> None:
        self._listeners = listeners

    @property
    def live(self) -> bool:
        return all(listener.live for listener in self._listeners)

    def changed(self) -> None:
        for listener in self._listeners:
            listener.changed()

    def set_live(self, live: bool) -> None:
        for listener in self._listeners:
            listener.set_live(live)


CHANNEL = "jiaohao_events"
ACCESS_CHANNEL = "jiaohao_access"  # migration 0007's triggers
# migration 0007's triggers: the access cache is live only while all are enabled
# ('O': fires in ordinary sessions, 'A': always; not 'R', replicas only, nor 'D').
ACCESS_TRIGGERS = (
    *(
        f"{table}_{what}"
        for table in ("devices", "users", "halls")
        for what in ("access_update", "access_delete")
    ),
    "services_access_change",
    "regions_access_change",  # migration 0012: a region admin's scope follows the tree
)
_ENABLED_ACCESS_TRIGGERS = """
    SELECT tgname FROM pg_trigger
    WHERE tgname = ANY($1::text[]) AND tgenabled IN ('O', 'A')
      AND tgrelid IN (to_regclass('devices'), to_regclass('users'), to_regclass('halls'),
                      to_regclass('services'), to_regclass('regions'))
"""
WATCH_SECONDS = 15.0
APPLICATION_NAME = "jiaohao-listener"  # how the LISTEN connection shows in pg_stat_activity


def parse_payload(payload: str) -> tuple[int, int] | None:
    hall, sep, seq = payload.partition(":")
    if not sep or not hall.isdigit() or not seq.isdigit():
        return None
    return int(hall), int(seq)


def asyncpg_dsn(database_url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as asyncpg's DSN."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgListener:
    """LISTENs on a dedicated connection; reconnects with backoff and resyncs the hub."""

    def __init__(
        self,
        dsn: str,
        hub: EventHub,
        *,
        access: AccessListener | None = None,
        max_backoff: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._hub = hub
        self._access = access
        self._access_off_logged = False
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.notifications = 0

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Start listening; waits (up to ``wait_seconds``) for the first connection."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="jiaohao-listen")
        try:
            await asyncio.wait_for(self.connected.wait(), wait_seconds)
        except TimeoutError:
            log.error("event listener: no PostgreSQL connection yet; retrying in the background")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        parsed = parse_payload(payload)
        if parsed is None:
            log.warning("event listener: ignored malformed notification %r", payload)
            return
        self.notifications += 1
        self._hub.notify(*parsed)

    def _on_access_change(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        if self._access is not None:
            self._access.changed()

    def _on_lost(self, _conn: Any) -> None:
        self._lost.set()

    async def _run(self) -> None:
        import asyncpg

        backoff = 0.2
        first = True
        while True:
            connection = None
            # Before connecting: a loss reported while connecting must not be erased.
            self._lost.clear()
            try:
                connection = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                connection.add_termination_listener(self._on_lost)
                await connection.add_listener(CHANNEL, self._on_notify)
                await connection.add_listener(ACCESS_CHANNEL, self._on_access_change)
                # From here on every change is heard, if the triggers are there to announce it.
                await self._check_access(connection)
                self.disconnected.clear()
                self.connected.set()
                if not first:
                    log.info("event listener: reconnected")
                    # Whatever was committed while we were away was not announced to us.
                    self._hub.resync()
                first = False
                backoff = 0.2
                await self._watch(connection)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any failure: the server restarted, the network dropped
                log.warning("event listener: connection failed (%r); retrying", err)
            finally:
                if self._access is not None:
                    self._access.set_live(False)
                self.connected.clear()
                self.disconnected.set()
                if connection is not None and not connection.is_closed():
                    try:
                        await asyncio.wait_for(connection.close(), 2)
                    except Exception:  # closing a broken connection may fail
                        connection.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _watch(self, connection: Any) -> None:
        """Return when the connection is lost (checked by a cheap query now and then)."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), WATCH_SECONDS)
                return
            except TimeoutError:
                await asyncio.wait_for(self._check_access(connection), 5)

    async def _check_access(self, connection: Any) -> None:
        """Let the access cache keep callers only while every announcing trigger is enabled.

        Checked at each connection and every WATCH_SECONDS after: a migration run
        later turns the cache on; a trigger dropped or disabled turns it off.
        """
        if self._access is None:
            await connection.execute("SELECT 1")
            return
        rows = await connection.fetch(_ENABLED_ACCESS_TRIGGERS, list(ACCESS_TRIGGERS))
        missing = sorted(set(ACCESS_TRIGGERS) - {row["tgname"] for row in rows})
        announced = not missing and not connection.is_closed() and not self._lost.is_set()
        if missing and not self._access_off_logged:
            log.error(
                "access cache off: triggers missing or disabled: %s (migration 0007; "
                "`jiaohao migrate`, or enable them)",
                ", ".join(missing),
            )
        self._access_off_logged = bool(missing)
        if announced != self._access.live:
            self._access.set_live(announced)
