"""The hall event bus endpoint (WebSocket); the protocol is docs/bus.md."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from services.engine.events import socket

router = APIRouter(tags=["events"])


@router.websocket("/api/v1/halls/{hall}/events")
async def hall_events(websocket: WebSocket, hall: str) -> None:
    """Snapshot or missed events (``since``), then live events in order (topics filter)."""
    await socket.serve(websocket, hall)
