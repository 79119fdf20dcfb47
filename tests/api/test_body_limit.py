"""Request bodies above the limit are refused (413 problem+json) before they are read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.helpers.api import API, assert_problem
from tests.helpers.app import app_for, serving
from tests.helpers.halls import Hall, seed_hall

MIB = 1024 * 1024


def ticket_body(size: int) -> bytes:
    """A JSON ticket request padded (with whitespace) to exactly ``size`` bytes."""
    head = b'{"service": "business"'
    tail = b"}"
    return head + b" " * (size - len(head) - len(tail)) + tail


async def issued(client: httpx.AsyncClient, hall: Hall) -> int:
    queues = (await client.get(f"{API}/{hall.code}/queues", headers=hall.h("staff"))).json()
    return int(next(q for q in queues["queues"] if q["service"] == "business")["issued_today"])


async def test_a_body_over_the_limit_is_refused_and_one_at_it_is_taken(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    tickets = f"{API}/{hall.code}/tickets"
    kiosk = {**hall.h("kiosk"), "Content-Type": "application/json"}
    over = await client.post(tickets, content=ticket_body(MIB + 1), headers=kiosk)
    body = assert_problem(over, 413, "payload_too_large")
    assert body["max_bytes"] == MIB
    assert over.headers["connection"] == "close"  # the rest of the body is not wanted
    assert await issued(client, hall) == 0
    at_limit = await client.post(tickets, content=ticket_body(MIB), headers=kiosk)
    assert at_limit.status_code == 201, at_limit.text
    assert await issued(client, hall) == 1
    # Logins too (a form, no account needed).
    login = await client.post(
        "/api/v1/auth/token", data={"username": "x", "password": "y" * (2 * MIB)}
    )
    assert_problem(login, 413, "payload_too_large")


async def test_an_announced_length_over_the_limit_is_refused_unread(app: Any, hall: Hall) -> None:
    """The answer comes from the headers alone: the app never asks for the body."""
    asked: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        asked.append("receive")
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    kiosk = hall.h("kiosk")["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/{hall.code}/tickets",
        "raw_path": f"{API}/{hall.code}/tickets".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", kiosk),
            (b"content-type", b"application/json"),
            (b"content-length", str(100 * MIB).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    assert asked == []
    start, body = sent[0], sent[1]
    assert start["status"] == 413
    assert (b"content-type", b"application/problem+json") in start["headers"]
    assert json.loads(body["body"])["code"] == "payload_too_large"


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    """A body that does not say its length (Transfer-Encoding: chunked)."""
    tickets = f"{API}/{hall.code}/tickets"
    kiosk = {**hall.h("kiosk"), "Content-Type": "application/json"}
    over = await client.post(tickets, content=chunks(ticket_body(MIB + 1)), headers=kiosk)
    assert over.request.headers["transfer-encoding"] == "chunked"
    assert_problem(over, 413, "payload_too_large")
    small = await client.post(tickets, content=chunks(ticket_body(200 * 1024)), headers=kiosk)
    assert small.status_code == 201, small.text
    assert await issued(client, hall) == 1


async def test_the_limit_is_a_setting(database_url: str) -> None:
    app = app_for(database_url, max_body_bytes=4096)
    async with serving(app) as client:
        hall = await seed_hall(app, client)
        tickets = f"{API}/{hall.code}/tickets"
        kiosk = {**hall.h("kiosk"), "Content-Type": "application/json"}
        assert_problem(
            await client.post(tickets, content=ticket_body(4097), headers=kiosk),
            413,
            "payload_too_large",
        )
        assert (await client.post(tickets, content=ticket_body(4096), headers=kiosk)).is_success
