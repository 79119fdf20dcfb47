"""The hall event bus endpoint (WebSocket); the protocol is docs/bus.md."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from services.engine.events import socket

_PATH = re.compile(r"/api/v1/halls/(?P<hall>[^/]+)/events")


class BusEndpoint:
    """``GET /api/v1/halls/{hall}/events`` (WebSocket), served ahead of the app's routing.

    A screen's socket lives for days, and every layer its request passes through
    stays alive with it: behind routing, FastAPI's dependency scopes and the
    exception and exit-stack middlewares, each idle screen would cost some 9 KB
    more. The bus needs none of them: it takes no dependencies and reports
    refusals as close codes. Everything else goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            match = _PATH.fullmatch(path)
            if match is not None:
                scope["path_params"] = {"hall": match["hall"]}
                await socket.serve(WebSocket(scope, receive, send), match["hall"])
                return
        await self.app(scope, receive, send)
