"""What ``jiaohao serve`` bounds, on a real engine process over raw sockets.

uvicorn has no timeout for a request's headers or body (a slow client is the
reverse proxy's to cut, docs/limits.md); what the engine bounds itself: an idle
connection closes after the keep-alive, past ``http_max_connections`` a request
gets 503 instead of piling up, a body announced above the limit gets 413
before any of it is sent, and a WebSocket message above it closes the socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.api import API, token
from tests.helpers.db import empty_tables
from tests.helpers.halls import seeded
from tests.helpers.processes import EngineProcess
from tests.helpers.waiting import wait_until

LIMIT = 4


@pytest.fixture(scope="module")
def engine(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    logs: Path = tmp_path_factory.mktemp("serve-limits")
    process = EngineProcess(
        sqlite_url,
        logs,
        "engine",
        serve=True,
        http_max_connections=LIMIT,
        http_keep_alive_seconds=1,
        log_level="warning",
    )
    process.start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


def connection(engine: EngineProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", engine.port), timeout=15)
    return sock


def answer(sock: socket.socket) -> bytes:
    """The response's head (and whatever came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def whole_answer(sock: socket.socket) -> bytes:
    """The response's head and its whole body (by its Content-Length): a head and a body
    may come in separate writes."""
    data = answer(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(engine: EngineProcess) -> int:
    with connection(engine) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: engine\r\n\r\n")
        return int(answer(sock).split(b" ", 2)[1])


def until_closed(sock: socket.socket) -> bytes:
    """What comes until the engine closes the connection (within the socket's timeout,
    else ``TimeoutError``: a bounded wait, not a sleep)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_an_idle_connection_is_closed_after_the_keep_alive(engine: EngineProcess) -> None:
    with connection(engine) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: engine\r\n\r\n")
        assert whole_answer(sock).startswith(b"HTTP/1.1 200")
        assert until_closed(sock) == b""


def test_past_the_connection_limit_requests_get_503_not_a_pile_up(
    engine: EngineProcess,
) -> None:
    with ExitStack() as stack:
        for _ in range(LIMIT):
            slow = stack.enter_context(connection(engine))
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: eng")  # headers never finished
        wait_until(lambda: status_of(engine) == 503, 15, "a 503 past the limit")
    # The slow clients gone, the engine serves again.
    wait_until(lambda: status_of(engine) == 200, 15, "the engine serving again")


def test_a_body_announced_above_the_limit_is_refused_before_it_is_sent(
    engine: EngineProcess,
) -> None:
    with connection(engine) as sock:
        sock.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: engine\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 104857600\r\n\r\n"  # 100 MB announced, none sent
        )
        head = answer(sock)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"content-type: application/problem+json" in head
        assert b'"code":"payload_too_large"' in head + until_closed(sock)


async def test_a_websocket_message_above_the_limit_closes_the_socket(
    engine: EngineProcess, sqlite_url: str
) -> None:
    await empty_tables(sqlite_url)
    hall = await seeded(sqlite_url)
    url = f"ws://127.0.0.1:{engine.port}{API}/{hall.code}/events?token={token(hall)}"
    async with connect(url, max_size=None) as ws:
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["kind"] != "live":
            pass
        await ws.send(json.dumps({"kind": "ping", "pad": " " * (1024 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
