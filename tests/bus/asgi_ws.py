"""A WebSocket client that talks ASGI straight to the app, in the test's own event loop.

httpx has no WebSocket support and Starlette's TestClient runs the app on a loop
of its own (where the pooled asyncpg connections of the ``app`` fixture cannot
go), so the in-process bus tests drive the ASGI WebSocket protocol directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from services.engine.events.source import settle


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class AsgiWebSocket:
    def __init__(
        self,
        app: Any,
        path: str,
        *,
        query: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        subprotocols: Sequence[str] = (),
        read_buffer: int = 0,
    ) -> None:
        """``read_buffer`` > 0 makes a slow client: the server's sends wait while that
        many messages are unread, as they do when a real client's TCP window is full."""
        self.app = app
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode({k: str(v) for k, v in (query or {}).items()}).encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "subprotocols": list(subprotocols),
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue(read_buffer)
        self._task: asyncio.Task[None] | None = None
        self.subprotocol: str | None = None
        self.closed: Closed | None = None
        self.last_text: str | None = None  # the last message as the server sent it

    async def __aenter__(self) -> AsgiWebSocket:
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._from_app.put))
        first = await asyncio.wait_for(self._from_app.get(), 10)
        if first["type"] == "websocket.close":
            self.closed = Closed(first.get("code", 1000), first.get("reason") or "")
            raise self.closed
        assert first["type"] == "websocket.accept", first
        self.subprotocol = first.get("subprotocol")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def disconnect(self) -> None:
        if self._task is None:
            return
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        while not self._from_app.empty():  # unblock a server waiting to send
            self._from_app.get_nowait()
        await asyncio.wait_for(self._task, 10)
        self._task = None
        # Let the engine finish the reads this connection started (SQLite's lock).
        await asyncio.wait_for(self.app.state.hub.idle(), 10)
        await asyncio.wait_for(settle(), 10)

    async def receive(self, within: float = 10) -> dict[str, Any]:
        """The next message from the server; raises Closed when it closed the socket."""
        if self.closed is not None:
            raise self.closed
        message = await asyncio.wait_for(self._from_app.get(), within)
        if message["type"] == "websocket.close":
            self.closed = Closed(message.get("code", 1000), message.get("reason") or "")
            raise self.closed
        assert message["type"] == "websocket.send", message
        self.last_text = message["text"]
        body: dict[str, Any] = json.loads(message["text"])
        return body

    async def receive_kind(self, *kinds: str, within: float = 10) -> dict[str, Any]:
        """The next message of one of these kinds, skipping heartbeats."""
        while True:
            message = await self.receive(within)
            if message["kind"] in kinds:
                return message
            assert message["kind"] in ("ping", "pong"), message

    async def events(self, count: int, within: float = 10) -> list[dict[str, Any]]:
        return [await self.receive_kind("event", within=within) for _ in range(count)]

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        """A text frame as given (for messages that are not JSON of a dict)."""
        await self._to_app.put({"type": "websocket.receive", "text": text})

    def pending(self) -> int:
        """Messages the server has sent that were not read yet."""
        return self._from_app.qsize()
