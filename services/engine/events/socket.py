"""One WebSocket client of the hall event bus (docs/bus.md is the protocol).

On connect: a snapshot, or with ``since`` exactly the events missed (from the
outbox); then ``live`` and every event in order. Heartbeats both ways. A client
that cannot keep up is cut off with close code 4409 and resumes with ``since``;
it never slows the engine or other clients.

An idle screen costs one task (the connection's own, waiting for the client's
next message) and a few small objects: thousands of screens hang on one engine.
Live events are written by the hall's fan-out itself, with each event's JSON
encoded once for every socket; only a socket that cannot take a message at once
(a slow client) or needs the outbox (a gap, a requested snapshot) gets a
short-lived writer task. One timer per process pings idle sockets and closes
silent ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketDisconnect, WebSocketState

from services.engine.auth import service as auth_service
from services.engine.auth.permissions import Capability, authorise
from services.engine.config import Settings
from services.engine.core.db import utcnow
from services.engine.core.errors import Refusal
from services.engine.core.inputs import INT64_MAX, ascii_digits
from services.engine.events import repository
from services.engine.events.hub import EventHub, HubClosed, PublishedEvent
from services.engine.events.snapshot import SnapshotCache
from services.engine.events.source import shielded
from services.engine.halls.service import get_hall

if TYPE_CHECKING:
    from services.engine.events.guard import SocketGuard

log = logging.getLogger(__name__)

SUBPROTOCOL = "jiaohao.v1"
BEARER_SUBPROTOCOL = "jiaohao.bearer."
_TOPIC = re.compile(r"^[a-z_]+(\.[a-z_]+)?$")


class CloseCode(IntEnum):
    """Why the server closed the socket; the client's next step is in docs/bus.md."""

    GOING_AWAY = 1001  # the engine is stopping: reconnect (elsewhere) and resume
    INTERNAL_ERROR = 1011  # reconnect with backoff and resume
    BAD_REQUEST = 4400  # since/topics/a message malformed: fix it, do not retry as is
    UNAUTHORIZED = 4401  # token missing, unknown or expired: do not retry with it
    FORBIDDEN = 4403  # the token may not read this hall
    HALL_NOT_FOUND = 4404
    HEARTBEAT_TIMEOUT = 4408  # nothing heard from the client: reconnect and resume
    TOO_SLOW = 4409  # the client fell behind its buffer: reconnect and resume with since


_REFUSAL_CLOSE = {
    401: CloseCode.UNAUTHORIZED,
    403: CloseCode.FORBIDDEN,
    404: CloseCode.HALL_NOT_FOUND,
}


# A client sends pings of a few bytes: a longer message is not one of the protocol's.
MAX_CLIENT_MESSAGE = 4096


class BadRequest(Exception):
    pass


class MessageRefused(Exception):
    """A client message too large or too deeply nested to read: the socket closes (4400)."""


@dataclass(frozen=True, slots=True)
class BusRequest:
    token: str | None
    since: int | None
    topics: frozenset[str]

    def wants(self, event_type: str) -> bool:
        """The type is a topic or starts with ``topic.`` (checked per socket for every event)."""
        topics = self.topics
        if not topics or event_type in topics:
            return True
        while "." in event_type:
            event_type = event_type.rpartition(".")[0]
            if event_type in topics:
                return True
        return False


def parse_request(websocket: WebSocket) -> BusRequest:
    """Token (query, header or subprotocol), since and topics of a connection."""
    params = websocket.query_params
    token = params.get("token")
    auth = websocket.headers.get("authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    if not token:
        for offered in websocket.scope.get("subprotocols") or []:
            if offered.startswith(BEARER_SUBPROTOCOL):
                token = offered[len(BEARER_SUBPROTOCOL) :]
    if "\x00" in websocket.path_params.get("hall", ""):
        raise BadRequest("the hall code must not contain NUL (U+0000)")
    since: int | None = None
    raw_since = params.get("since")
    if raw_since not in (None, ""):
        # ASCII digits only ('²'.isdigit() is true, int('²') fails), at most a bigint.
        since = ascii_digits(raw_since, len(str(INT64_MAX)))
        if since is None or since > INT64_MAX:
            raise BadRequest("since must be a sequence number (a whole number >= 0)")
    topics: list[str] = []
    for topic in (params.get("topics") or "").split(","):
        topic = topic.strip()
        if not topic:
            continue
        if not _TOPIC.match(topic):
            raise BadRequest(f"topic {topic[:40]!r} is not like 'ticket' or 'ticket.called'")
        topics.append(topic)
    return BusRequest(token or None, since, frozenset(topics))


async def authorise_socket(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, token: str | None, hall: str
) -> int:
    """The hall id, if the token may read the hall; raises a Refusal otherwise."""
    from services.engine.core.errors import Unauthorized

    if not token:
        raise Unauthorized("a token is required (?token=, Authorization or subprotocol)")
    async with sessionmaker() as session:
        principal = await auth_service.principal_from_token(
            session=session, token=token, secret=settings.secret_key
        )
        found = await get_hall(session=session, code=hall)
        hall_id = found.id
        authorise(principal, Capability.READ, hall_id)
        await session.rollback()
        return hall_id


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


async def serve(websocket: WebSocket, hall: str) -> None:
    """Run one bus connection to its end."""
    app = websocket.app
    settings: Settings = app.state.settings
    offered = websocket.scope.get("subprotocols") or []
    # Accept first so that a refusal reaches the client as a close code it can read.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        request = parse_request(websocket)
    except BadRequest as err:
        await _close(websocket, CloseCode.BAD_REQUEST, str(err))
        return
    guard: SocketGuard = app.state.socket_guard
    seen = guard.generation  # a change announced from here on is checked again (guard.py)
    try:
        hall_id = await shielded(
            authorise_socket(app.state.sessionmaker, settings, request.token, hall)
        )
    except Refusal as err:
        await _close(websocket, _REFUSAL_CLOSE.get(err.status, CloseCode.BAD_REQUEST), err.detail)
        return
    except Exception:  # e.g. the database is away: the client retries with backoff
        log.exception("bus: could not authorise a connection")
        await _close(websocket, CloseCode.INTERNAL_ERROR, "internal error; retry later")
        return
    connection = BusConnection(
        websocket,
        app.state.hub,
        app.state.sessionmaker,
        settings,
        hall_id,
        request,
        snapshots=app.state.snapshots,
        heartbeats=app.state.heartbeats,
    )
    # Watched while it lives: closed (4401) if its caller loses access.
    guard.add(connection, seen)
    try:
        await connection.run()
    finally:
        guard.discard(connection)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    try:
        short = reason.encode()[:120].decode("utf-8", "ignore")  # a close reason is <= 123 bytes
        await asyncio.wait_for(websocket.close(code, short), 5)
    except Exception:  # the peer is gone or stuck: nothing more to say to it
        log.debug("bus: close %s not delivered", code)


async def _finish(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Run a coroutine that was started by hand (``coro.send``) and stopped at ``waiting``.

    What a task would do (like Python 3.12's eager tasks): wait for the future it
    yielded, then resume it. Cancelled, the coroutine is closed where it waits.
    """
    try:
        while True:
            if waiting is None:  # a bare yield: it only gave the loop a turn
                await asyncio.sleep(0)
            else:
                await asyncio.wait((waiting,))
            waiting = coro.send(None)
    except StopIteration:
        return
    finally:
        coro.close()


class SocketTimer:
    """Open sockets of this process watched by one task, which runs only while there
    are sockets: no timer ticks in an idle engine (or after a test)."""

    task_name = "jiaohao-bus-timer"

    def __init__(self) -> None:
        self._sockets: set[BusConnection] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: BusConnection) -> None:
        self._sockets.add(connection)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.task_name)

    def discard(self, connection: BusConnection) -> None:
        self._sockets.discard(connection)
        if not self._sockets and self._task is not None:
            if self._task is not asyncio.current_task():
                self._task.cancel()
            self._task = None

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        """Runs while ``self._task`` is this task (a later socket starts a new one)."""
        raise NotImplementedError


class Heartbeats(SocketTimer):
    """One timer for every live socket of the process (not one per socket).

    Every quarter heartbeat it pings the sockets that sent nothing for a
    heartbeat and closes (4408) those whose client was silent for three.
    """

    task_name = "jiaohao-bus-heartbeats"

    def __init__(self, heartbeat: float) -> None:
        super().__init__()
        self.heartbeat = heartbeat

    async def _run(self) -> None:
        tick = self.heartbeat / 4
        me = asyncio.current_task()
        while self._task is me:  # until nobody is left (a later socket starts a new timer)
            await asyncio.sleep(tick)
            now = time.monotonic()
            for connection in list(self._sockets):
                connection.check_heartbeat(now)


# What else than events waits in a connection's queue (answered in turn, with the seq then).
_PING = "ping"
_PONG = "pong"
_SNAPSHOT = "snapshot"


def _gone(err: BaseException) -> bool:
    """The peer went away mid-send. Starlette says so with a RuntimeError about the
    closed socket; any other RuntimeError is a defect and must not pass for a lost peer."""
    if isinstance(err, WebSocketDisconnect | OSError):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and ("close" in text or "disconnect" in text)


class BusConnection:
    """One live socket: subscribed to its hall's events, sending them in order.

    Sending is owned by one party at a time: while ``_busy`` (catching up at the
    start, or a writer task at work) events and answers wait in ``_queue``, in
    order; otherwise the hub's fan-out writes each event at once.
    """

    __slots__ = (
        "_busy",
        "_ending",
        "_heard",
        "_queue",
        "_sent",
        "_task",
        "_writer",
        "hall_id",
        "heartbeat",
        "heartbeats",
        "hub",
        "last",
        "maxsize",
        "request",
        "sessionmaker",
        "settings",
        "snapshots",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        hub: EventHub,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        hall_id: int,
        request: BusRequest,
        *,
        snapshots: SnapshotCache,
        heartbeats: Heartbeats,
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.hall_id = hall_id
        self.request = request
        self.snapshots = snapshots
        self.heartbeats = heartbeats
        self.heartbeat = settings.bus_heartbeat_seconds
        self.maxsize = settings.bus_client_buffer
        self.last = 0  # every event up to here has been dealt with for this client
        self._queue: list[PublishedEvent | str] = []
        self._busy = True  # catching up first: what arrives meanwhile waits
        self._writer: asyncio.Task[None] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._ending: tuple[int | None, str] | None = None
        self._sent = self._heard = time.monotonic()

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(_dumps(message))

    async def send_text(self, text: str) -> None:
        await self.websocket.send_text(text)
        self._sent = time.monotonic()

    async def run(self) -> None:
        self._task = asyncio.current_task()
        try:
            self.hub.attach(self)
        except HubClosed:
            await _close(self.websocket, CloseCode.GOING_AWAY, "engine stopping")
            return
        code: int | None = None
        reason = ""
        try:
            await self.start()
            await self.catch_up_with_hub()
            await self.send({"kind": "live", "seq": self.last, "heartbeat": self.heartbeat})
            await self._drain()  # what arrived while catching up
            self._busy = False
            self.heartbeats.add(self)
            await self._receive()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            # Cancelled by ``end`` alone: close as it says; anything else (shutdown) goes on up.
            if self._ending is None or task is None or task.uncancel() > 0:
                raise
            code, reason = self._ending
        except MessageRefused as err:
            code, reason = CloseCode.BAD_REQUEST, str(err)
        except Exception as err:
            if _gone(err):  # the transport went away mid-send
                log.debug("bus: connection lost: %r", err)
            else:
                log.exception("bus: connection failed")
                code, reason = CloseCode.INTERNAL_ERROR, "internal error; reconnect and resume"
        finally:
            self._task = None
            if self._ending is None:
                self._ending = (None, "")
            self.hub.detach(self)
            self.heartbeats.discard(self)
            writer = self._writer
            if writer is not None:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
        if code is not None:
            await _close(self.websocket, code, reason)

    def end(self, code: int | None, reason: str = "") -> None:
        """Stop this connection (from any task); its own task closes with ``code``."""
        if self._ending is not None:
            return
        self._ending = (code, reason)
        self._queue.clear()
        self.hub.detach(self)
        self.heartbeats.discard(self)
        current = asyncio.current_task()
        if self._writer is not None and self._writer is not current:
            self._writer.cancel()
        if self._task is not None:
            self._task.cancel()

    def _lost(self, err: BaseException) -> None:
        if _gone(err):
            log.debug("bus: connection lost: %r", err)
            self.end(None)
        else:
            log.error("bus: sending failed", exc_info=err)
            self.end(CloseCode.INTERNAL_ERROR, "internal error; reconnect and resume")

    # -- catching up -----------------------------------------------------------

    async def send_snapshot(self, reason: str) -> None:
        snapshot = await self.snapshots.get(self.hall_id, reason=reason)
        await self.send(snapshot)
        self.last = snapshot["seq"]

    async def start(self) -> None:
        since = self.request.since
        if since is None:
            await self.send_snapshot("initial")
            return
        head, retained = await shielded(self._position(since))
        if since > head:
            await self.send_snapshot("since_ahead")
        elif retained != head - since:
            await self.send_snapshot("since_too_old")
        else:
            await self.send(
                {"kind": "resume", "since": since, "seq": head, "at": utcnow().isoformat()}
            )
            self.last = since
            if not await self.replay(head):
                await self.send_snapshot("since_too_old")

    async def catch_up_with_hub(self) -> None:
        """Send what the hub passed by before this client was counted in.

        The first client of a hall starts the hall's channel in the hub, which
        begins after the head it reads then: events committed between this
        client's snapshot (or resume point) and that read reach no subscriber.
        """
        position = await self.hub.position(self.hall_id)
        if position is not None and position > self.last and not await self.replay(position):
            await self.send_snapshot("since_too_old")

    async def _position(self, since: int) -> tuple[int, int]:
        """The hall's head, and how many events after ``since`` are still retained."""
        async with self.sessionmaker() as session:
            head = await repository.head(session, self.hall_id)
            retained = (
                await repository.count_between(session, self.hall_id, since, head)
                if since <= head and head - since <= self.settings.bus_max_replay
                else -1
            )
            await session.rollback()
        return head, retained

    async def _read(self, upto: int) -> list[PublishedEvent]:
        async with self.sessionmaker() as session:
            rows = await repository.read_events(session, self.hall_id, self.last, upto)
            await session.rollback()
        return rows

    async def replay(self, upto: int) -> bool:
        """Send the events after ``self.last`` up to ``upto``; False if some were pruned."""
        while self.last < upto:
            rows = await shielded(self._read(upto))
            if not rows or rows[0].seq != self.last + 1:
                return False
            for event in rows:
                await self.send_event(event)
        return True

    async def send_event(self, event: PublishedEvent) -> None:
        if self.request.wants(event.type):
            await self.send_text(event.text)
        self.last = event.seq

    # -- live ------------------------------------------------------------------

    def deliver(self, event: PublishedEvent) -> None:
        """The hall's next event, from the hub's fan-out: sent at once when possible."""
        if self._ending is not None:
            return
        if self._busy:
            self._enqueue(event)
        elif event.seq <= self.last:
            return  # already sent while catching up
        elif event.seq != self.last + 1:
            self._enqueue(event)  # a gap: the writer fills it from the outbox
            self._start_writer()
        elif self.request.wants(event.type):
            self._send_now(event.text, event.seq)
        else:
            self.last = event.seq

    def hub_closed(self) -> None:
        self.end(CloseCode.GOING_AWAY, "engine stopping; resume elsewhere")

    def check_heartbeat(self, now: float) -> None:
        """Close a silent client (4408); ping when nothing was sent for a heartbeat."""
        if now - self._heard >= 3 * self.heartbeat:
            self.end(CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat from the client")
        elif now - self._sent >= self.heartbeat and not self._busy:
            self._answer(
                _PING
            )  # (a busy writer is sending, or stuck on a client that reads nothing)

    def _enqueue(self, item: PublishedEvent | str) -> None:
        if len(self._queue) >= self.maxsize:
            self.end(CloseCode.TOO_SLOW, f"too slow; resume with since={self.last}")
        else:
            self._queue.append(item)

    def _answer(self, kind: str) -> None:
        """A ping, a pong or a snapshot for the client, in turn with the events."""
        if self._ending is not None:
            return
        if self._busy:
            self._enqueue(kind)
        elif kind == _SNAPSHOT:
            self._enqueue(kind)
            self._start_writer()
        else:
            self._send_now(_dumps({"kind": kind, "seq": self.last, "at": utcnow().isoformat()}))

    def _send_now(self, text: str, seq: int | None = None) -> None:
        """Write ``text`` without waiting; a slow socket gets a writer to finish it."""
        sending = self.send_text(text)
        try:
            waiting = sending.send(None)
        except StopIteration:  # written (the usual case)
            if seq is not None:
                self.last = seq
            return
        except Exception as err:
            self._lost(err)
            return
        self._busy = True
        self._writer = asyncio.get_running_loop().create_task(self._write(sending, waiting, seq))

    def _start_writer(self) -> None:
        self._busy = True
        self._writer = asyncio.get_running_loop().create_task(self._write(None, None, None))

    async def _write(
        self, sending: Coroutine[Any, Any, None] | None, waiting: Any, seq: int | None
    ) -> None:
        """Finish a send the socket could not take at once, then send what queued meanwhile."""
        try:
            if sending is not None:
                await _finish(sending, waiting)
                if seq is not None:
                    self.last = seq
            await self._drain()
        except Exception as err:
            self._lost(err)
        finally:
            self._writer = None
            if self._ending is None:
                self._busy = False

    async def _drain(self) -> None:
        """Send what waits in the queue, in order, filling gaps from the outbox."""
        while self._queue:
            item = self._queue.pop(0)
            if isinstance(item, PublishedEvent):
                if item.seq <= self.last:
                    continue
                if item.seq > self.last + 1 and not await self.replay(item.seq - 1):
                    await self.send_snapshot("gap")
                    if item.seq <= self.last:
                        continue
                await self.send_event(item)
            elif item == _SNAPSHOT:
                await self.send_snapshot("requested")
            else:
                await self.send({"kind": item, "seq": self.last, "at": utcnow().isoformat()})

    async def _receive(self) -> None:
        """Client messages until it goes: ping (answered), pong, snapshot (a fresh one is sent)."""
        receive = self.websocket.receive
        while True:
            message = await receive()
            self._heard = time.monotonic()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            if len(raw) > MAX_CLIENT_MESSAGE:
                raise MessageRefused(f"a message is at most {MAX_CLIENT_MESSAGE} characters")
            try:
                body = json.loads(raw)
            except ValueError:
                continue  # garbage counts as a sign of life, nothing more
            except RecursionError:
                raise MessageRefused("a message nested too deeply") from None
            kind = body.get("kind") if isinstance(body, dict) else None
            if kind == "ping":
                self._answer(_PONG)
            elif kind == "snapshot":
                self._answer(_SNAPSHOT)
