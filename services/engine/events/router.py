"""The hall event bus endpoint (WebSocket); the protocol is docs/bus.md."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute

from services.engine.events import socket

router = APIRouter(tags=["events"])


async def hall_events(websocket: WebSocket) -> None:
    """Snapshot or missed events (``since``), then live events in order (topics filter)."""
    await socket.serve(websocket, websocket.path_params["hall"])


# A plain Starlette route: the endpoint takes no dependencies, and FastAPI's per-call
# dependency scopes (exit stacks, solved values) would stay alive, per screen, for
# the whole life of the socket.
router.routes.append(WebSocketRoute("/api/v1/halls/{hall}/events", hall_events))
