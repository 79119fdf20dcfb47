"""The request body limit: bodies above it are refused before they are read.

Every body the engine takes is small (a ticket, a login, a hall's settings). A
100 MB body used to be read whole into memory, which the process kept after.
Here a body that says its length (``Content-Length``) above the limit is refused
with 413 problem+json at once, unread, and the connection is closed (the client
stops sending). A chunked body, which does not say its length, is read up to the
limit and refused as soon as it passes it; below it, it is handed on as read.
The ASGI server frames a body by its ``Content-Length``, so none can be longer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.engine.core.problems import problem


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if length is not None and not chunked:
            if length.strip().isdigit() and int(length) > self.max_bytes:
                await self._refuse(scope, receive, send, f"{int(length)} bytes")
                return
            await self.app(scope, receive, send)
            return
        if not chunked:  # no body at all (a GET)
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send, f"more than {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = problem(
            413,
            "payload_too_large",
            "Request body too large",
            f"the request body is {size}; at most {self.max_bytes} bytes are accepted",
            scope.get("path"),
            {"max_bytes": self.max_bytes},
        )
        # The rest of the body is not wanted: the server closes after the answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the server says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
