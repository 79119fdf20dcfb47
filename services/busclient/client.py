"""A client for the hall event bus (docs/bus.md), for the gateway, the kiosk and tools.

It connects, takes the snapshot, remembers the last sequence number, answers
heartbeats, and on any break reconnects with backoff and resumes with
``since`` so that no event is missed or seen twice. It talks only the wire
protocol and imports nothing of the engine.

    async with BusClient("http://127.0.0.1:8000", "demo", token) as bus:
        async for message in bus:
            if message["kind"] == "snapshot": ...
            elif message["kind"] == "event": ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger(__name__)

SUBPROTOCOL = "jiaohao.v1"

# Close codes after which retrying the same request cannot help; after any other
# (1001 going away, 1011, 1012, 4408 heartbeat, 4409 too slow) the client resumes.
REFUSED = {
    4400: "bad request",
    4401: "unauthorized",
    4403: "forbidden",
    4404: "hall not found",
}


class BusRefused(Exception):
    """The engine refused the connection for good (bad token, unknown hall...)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"bus refused ({code} {REFUSED.get(code, '')}): {reason}")
        self.code = code
        self.reason = reason


class _Stale(Exception):
    """Nothing heard for three heartbeats: the link is dead even if TCP does not know."""


def events_url(base_url: str, hall: str, since: int | None, topics: Sequence[str]) -> str:
    """``http://host:8000`` -> ``ws://host:8000/api/v1/halls/<hall>/events?since=..``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query: dict[str, str] = {}
    if since is not None:
        query["since"] = str(since)
    if topics:
        query["topics"] = ",".join(topics)
    path = parts.path.rstrip("/") + f"/api/v1/halls/{quote(hall, safe='')}/events"
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


class BusClient:
    """Messages of one hall, in order, across reconnects (an async iterator).

    Yields every message but heartbeats: ``snapshot`` (replace all state),
    ``resume`` (missed events follow), ``event``, and ``live`` (caught up).
    ``last_seq`` is the resume point; pass it as ``since`` to a new client to
    carry on where an old one stopped.
    """

    def __init__(
        self,
        base_url: str,
        hall: str,
        token: str,
        *,
        since: int | None = None,
        topics: Sequence[str] = (),
        heartbeat: float = 15.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        open_timeout: float = 10.0,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.hall = hall
        self.token = token
        self.last_seq = since
        self.topics = tuple(topics)
        self.heartbeat = heartbeat
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.on_state = on_state
        self.connects = 0  # successful connections so far
        self.last_close: tuple[int | None, str] | None = None
        self._ws: ClientConnection | None = None
        self._closed = False

    async def __aenter__(self) -> BusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def drop(self) -> None:
        """Break the current connection (tests, or a caller that knows the link is bad)."""
        if self._ws is not None:
            await self._ws.close(code=4000, reason="client reconnects")

    def _state(self, state: str) -> None:
        if self.on_state is not None:
            self.on_state(state)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so a restarted engine is not hit all at once."""
        base = min(self.max_backoff, self.min_backoff * 2**attempt)
        return float(base * random.uniform(0.5, 1.0))

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        attempt = 0
        while not self._closed:
            url = events_url(self.base_url, self.hall, self.last_seq, self.topics)
            self._state("connecting")
            try:
                async with connect(
                    url,
                    subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=self.open_timeout,
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    pinger = asyncio.create_task(self._pinger(ws))
                    try:
                        async for message in self._messages(ws):
                            if message["kind"] == "live":
                                attempt = 0
                                self._state("live")
                            yield message
                    finally:
                        pinger.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await pinger
                        self._ws = None
            except ConnectionClosed as err:
                code = err.rcvd.code if err.rcvd is not None else None
                reason = err.rcvd.reason if err.rcvd is not None else ""
                self.last_close = (code, reason)
                if code in REFUSED:
                    self._state("refused")
                    raise BusRefused(code, reason) from err
                log.info("bus: connection closed (%s %s); resuming", code, reason)
            except (_Stale, OSError, TimeoutError, InvalidHandshake) as err:
                self.last_close = (None, repr(err))
                log.info("bus: connection lost (%r); resuming", err)
            if self._closed:
                break
            self._state("offline")
            await asyncio.sleep(self.backoff(attempt))
            attempt += 1

    async def _messages(self, ws: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), self.heartbeat * 3)
            except TimeoutError as err:
                raise _Stale("no message for three heartbeats") from err
            message = json.loads(raw)
            kind = message.get("kind")
            if kind == "ping":
                if self.last_seq is None or message.get("seq", 0) > self.last_seq:
                    self.last_seq = message["seq"]  # filtered-out events are dealt with too
                await ws.send(json.dumps({"kind": "pong"}))
                continue
            if kind == "pong":
                continue
            if kind == "snapshot":
                self.last_seq = message["seq"]
            elif kind == "event":
                if self.last_seq is not None and message["seq"] <= self.last_seq:
                    continue  # already had it
                self.last_seq = message["seq"]
            elif kind == "live":
                self.heartbeat = float(message.get("heartbeat", self.heartbeat))
            yield message

    async def request_snapshot(self) -> None:
        """Ask for a fresh snapshot (e.g. after ``hall.updated``)."""
        if self._ws is not None:
            await self._ws.send(json.dumps({"kind": "snapshot"}))

    async def _pinger(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            await ws.send(json.dumps({"kind": "ping"}))
