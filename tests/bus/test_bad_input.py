"""Bus requests and client messages that once dropped the socket or closed it with 1011
(issue 15): each closes with 4400, as docs/bus.md says, on both databases."""

from __future__ import annotations

import pytest

from tests.bus.asgi_ws import AsgiWebSocket, Closed
from tests.helpers.api import API, token


async def _closed(ws: AsgiWebSocket) -> Closed:
    with pytest.raises(Closed) as closed:
        while True:
            await ws.receive()
    return closed.value


async def test_since_that_is_not_ascii_digits_closes_with_4400(app, hall) -> None:  # type: ignore[no-untyped-def]
    path = f"{API}/{hall.code}/events"
    # str.isdigit() takes '²' and '٣'; int() takes neither, nor a number past bigint.
    for since in ("²", "٣", "1²", str(2**63), "9" * 5000):
        async with AsgiWebSocket(app, path, query={"token": token(hall), "since": since}) as ws:
            closed = await _closed(ws)
            assert closed.code == 4400, (since[:20], closed)


async def test_nul_in_the_hall_closes_with_4400(app, hall) -> None:  # type: ignore[no-untyped-def]
    async with AsgiWebSocket(
        app, f"{API}/{hall.code}\x00/events", query={"token": token(hall)}
    ) as ws:
        assert (await _closed(ws)).code == 4400


@pytest.mark.parametrize(
    "message",
    [
        "[" * 100_000 + "]" * 100_000,  # the issue's: refused for its size
        "[" * 2000 + "]" * 2000,  # small enough, too deep for the JSON parser
        '{"kind":"ping","pad":"' + "x" * 100_000 + '"}',
    ],
    ids=["deep-and-large", "deep", "large"],
)
async def test_a_client_message_too_deep_or_too_large_closes_with_4400(  # type: ignore[no-untyped-def]
    app, hall, message: str
) -> None:
    path = f"{API}/{hall.code}/events"
    async with AsgiWebSocket(app, path, query={"token": token(hall)}) as ws:
        await ws.receive_kind("snapshot")
        await ws.receive_kind("live")
        await ws.send_text(message)
        closed = await _closed(ws)
        assert closed.code == 4400 and "message" in closed.reason, closed
    # A small message that is not JSON is still only a sign of life.
    async with AsgiWebSocket(app, path, query={"token": token(hall)}) as ws:
        await ws.receive_kind("snapshot")
        await ws.receive_kind("live")
        await ws.send_text("not json")
        await ws.send({"kind": "ping"})
        assert (await ws.receive_kind("pong"))["kind"] == "pong"
