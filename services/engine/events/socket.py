"""One WebSocket client of the hall event bus (docs/bus.md is the protocol).

On connect: a snapshot, or with ``since`` exactly the events missed (from the
outbox); then ``live`` and every event in order. Heartbeats both ways. A client
that cannot keep up is cut off with close code 4409 and resumes with ``since``;
it never slows the engine or other clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fastapi import WebSocket
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketDisconnect, WebSocketState

from services.engine.auth import service as auth_service
from services.engine.auth.permissions import Capability, authorise
from services.engine.config import Settings
from services.engine.core.db import utcnow
from services.engine.core.errors import Refusal
from services.engine.events import repository
from services.engine.events.hub import EventHub, HubClosed, Overflow, PublishedEvent
from services.engine.events.snapshot import read_snapshot
from services.engine.events.source import shielded
from services.engine.halls.service import get_hall

log = logging.getLogger(__name__)

SUBPROTOCOL = "jiaohao.v1"
BEARER_SUBPROTOCOL = "jiaohao.bearer."
_TOPIC = re.compile(r"^[a-z_]+(\.[a-z_]+)?$")


class CloseCode(IntEnum):
    """Why the server closed the socket; the client's next step is in docs/bus.md."""

    GOING_AWAY = 1001  # the engine is stopping: reconnect (elsewhere) and resume
    INTERNAL_ERROR = 1011  # reconnect with backoff and resume
    BAD_REQUEST = 4400  # since/topics malformed: fix the request, do not retry as is
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


class BadRequest(Exception):
    pass


class HeartbeatTimeout(Exception):
    pass


@dataclass(frozen=True)
class BusRequest:
    token: str | None
    since: int | None
    topics: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        if not self.topics:
            return True
        return any(event_type == t or event_type.startswith(t + ".") for t in self.topics)


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
    since: int | None = None
    raw_since = params.get("since")
    if raw_since not in (None, ""):
        if not raw_since.isdigit():
            raise BadRequest("since must be a sequence number (a whole number >= 0)")
        since = int(raw_since)
    topics: list[str] = []
    for topic in (params.get("topics") or "").split(","):
        topic = topic.strip()
        if not topic:
            continue
        if not _TOPIC.match(topic):
            raise BadRequest(f"topic {topic[:40]!r} is not like 'ticket' or 'ticket.called'")
        topics.append(topic)
    return BusRequest(token or None, since, tuple(topics))


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
        websocket, app.state.hub, app.state.sessionmaker, settings, hall_id, request
    )
    await connection.run()


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    try:
        short = reason.encode()[:120].decode("utf-8", "ignore")  # a close reason is <= 123 bytes
        await asyncio.wait_for(websocket.close(code, short), 5)
    except Exception:  # the peer is gone or stuck: nothing more to say to it
        log.debug("bus: close %s not delivered", code)


class BusConnection:
    def __init__(
        self,
        websocket: WebSocket,
        hub: EventHub,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        hall_id: int,
        request: BusRequest,
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.hall_id = hall_id
        self.request = request
        self.heartbeat = settings.bus_heartbeat_seconds
        self.last = 0  # every event up to here has been dealt with for this client
        self._send_lock = asyncio.Lock()
        self._last_sent = time.monotonic()
        self._snapshot_wanted = False

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(_dumps(message))
            self._last_sent = time.monotonic()

    async def run(self) -> None:
        try:
            sub = self.hub.subscribe(self.hall_id, maxsize=self.settings.bus_client_buffer)
        except HubClosed:
            await _close(self.websocket, CloseCode.GOING_AWAY, "engine stopping")
            return
        tasks: list[asyncio.Task[Any]] = []
        code: int | None = None
        reason = ""
        try:
            await self.start()
            await self.send({"kind": "live", "seq": self.last, "heartbeat": self.heartbeat})
            sender = asyncio.create_task(self.sender(sub))
            receiver = asyncio.create_task(self.receiver(sub))
            ended = asyncio.create_task(sub.ended.wait())
            tasks = [sender, receiver, ended]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            code, reason = self._outcome(sub, sender, receiver)
        except WebSocketDisconnect:
            code = None
        except (OSError, RuntimeError) as err:  # the transport went away mid-send
            log.debug("bus: connection lost: %r", err)
            code = None
        except Exception:
            log.exception("bus: connection failed")
            code, reason = CloseCode.INTERNAL_ERROR, "internal error; reconnect and resume"
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            sub.close()
        if code is not None:
            await _close(self.websocket, code, reason)

    def _outcome(
        self, sub: Any, sender: asyncio.Task[Any], receiver: asyncio.Task[Any]
    ) -> tuple[int | None, str]:
        if sub.overflowed:
            return CloseCode.TOO_SLOW, f"too slow; resume with since={self.last}"
        if sub.closed and not receiver.done():
            return CloseCode.GOING_AWAY, "engine stopping; resume elsewhere"
        for task in (receiver, sender):
            if not task.done() or task.cancelled():
                continue
            err = task.exception()
            if err is None or isinstance(err, WebSocketDisconnect | OSError):
                return None, ""
            if isinstance(err, HeartbeatTimeout):
                return CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat from the client"
            if isinstance(err, Overflow):
                return CloseCode.TOO_SLOW, f"too slow; resume with since={self.last}"
            if isinstance(err, HubClosed):
                return CloseCode.GOING_AWAY, "engine stopping; resume elsewhere"
            if isinstance(err, RuntimeError):
                return None, ""  # sending on a socket the peer already closed
            log.error("bus: connection task failed", exc_info=err)
            return CloseCode.INTERNAL_ERROR, "internal error; reconnect and resume"
        return None, ""

    # -- catching up -----------------------------------------------------------

    async def send_snapshot(self, reason: str) -> None:
        snapshot = await shielded(read_snapshot(self.sessionmaker, self.hall_id, reason=reason))
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
            await self.send(event.as_message())
        self.last = event.seq

    # -- live ------------------------------------------------------------------

    async def sender(self, sub: Any) -> None:
        while True:
            idle = time.monotonic() - self._last_sent
            events = await sub.wait(max(self.heartbeat - idle, 0.0))
            if self._snapshot_wanted:
                self._snapshot_wanted = False
                await self.send_snapshot("requested")
            for event in events:
                if event.seq <= self.last:
                    continue
                if event.seq > self.last + 1 and not await self.replay(event.seq - 1):
                    await self.send_snapshot("gap")
                    continue
                await self.send_event(event)
            if time.monotonic() - self._last_sent >= self.heartbeat:
                await self.send({"kind": "ping", "seq": self.last, "at": utcnow().isoformat()})

    async def receiver(self, sub: Any) -> None:
        """Client messages: ping (answered), pong, snapshot (a fresh one is sent)."""
        while True:
            try:
                message = await asyncio.wait_for(self.websocket.receive(), self.heartbeat * 3)
            except TimeoutError as err:
                raise HeartbeatTimeout from err
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            raw = message.get("text") or message.get("bytes") or b""
            try:
                body = json.loads(raw)
            except ValueError:
                continue  # garbage counts as a sign of life, nothing more
            kind = body.get("kind") if isinstance(body, dict) else None
            if kind == "ping":
                await self.send({"kind": "pong", "seq": self.last, "at": utcnow().isoformat()})
            elif kind == "snapshot":
                self._snapshot_wanted = True
                sub.poke()
