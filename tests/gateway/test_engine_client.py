"""The gateway's engine link: what is retried, and what never is (no double calls)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from services.gateway.engine import EngineClient, EngineRefused, EngineUnavailable, OutcomeUnknown

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests from a list: an exception to raise or a response to give."""

    def __init__(self, *steps: Exception | httpx.Response) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client(script: Script, slept: list[float]) -> EngineClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return EngineClient(
        "http://engine.test", "jhd_token", transport=httpx.MockTransport(script), sleep=sleep
    )


OK = httpx.Response(200, json={"window": {"number": 1}})
REFUSED = httpx.Response(
    404,
    json={"code": "queue_empty", "detail": "nobody is waiting", "status": 404},
    headers={"content-type": "application/problem+json"},
)


async def test_a_call_that_never_reached_the_engine_is_retried() -> None:
    slept: list[float] = []
    script = Script(httpx.ConnectError("refused"), httpx.Response(503), OK)
    engine = client(script, slept)
    result = await engine.window_action("demo", 1, "call-next", None, retry_for=60)
    assert result == {"window": {"number": 1}}
    assert len(script.requests) == 3 and len(slept) == 2
    assert script.requests[0].url.path == "/api/v1/halls/demo/windows/1/call-next"
    assert script.requests[0].headers["authorization"] == "Bearer jhd_token"


async def test_a_call_whose_answer_was_lost_is_never_repeated() -> None:
    for failure in (httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut")):
        script = Script(failure, OK)
        with pytest.raises(OutcomeUnknown):
            await client(script, []).window_action("demo", 1, "call-next", None, retry_for=60)
        assert len(script.requests) == 1  # a second call-next could call a second citizen
    script = Script(httpx.Response(500), OK)
    with pytest.raises(OutcomeUnknown):
        await client(script, []).window_action("demo", 1, "call-next", None, retry_for=60)
    assert len(script.requests) == 1


async def test_a_rating_is_retried_even_when_its_answer_was_lost() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(201, json={"level": 5}))
    result = await client(script, []).rate("demo", 42, 5, retry_for=60)
    assert result == {"level": 5} and len(script.requests) == 2
    body = json.loads(script.requests[0].content)
    assert body == {"level": 5, "from_pad": True}  # the level pressed, nothing added
    assert script.requests[0].url.path == "/api/v1/halls/demo/tickets/42/evaluation"


async def test_refusals_are_not_retried() -> None:
    script = Script(REFUSED, OK)
    with pytest.raises(EngineRefused) as caught:
        await client(script, []).window_action("demo", 1, "call-next", None, retry_for=60)
    assert (caught.value.status, caught.value.code) == (404, "queue_empty")
    assert caught.value.detail == "nobody is waiting" and len(script.requests) == 1


async def test_the_retry_budget_ends() -> None:
    script = Script(*(httpx.ConnectError("refused") for _ in range(3)))
    with pytest.raises(EngineUnavailable):
        await client(script, []).window_action("demo", 1, "recall", None, retry_for=0)
    assert len(script.requests) == 1


async def test_health_reports_put_the_whole_list() -> None:
    script = Script(httpx.Response(200, json={"accepted": 1, "changed": []}))
    devices = [{"key": "led:1", "kind": "led", "window": 1, "status": "online"}]
    await client(script, []).report_health("demo", devices)
    request = script.requests[0]
    assert request.method == "PUT" and request.url.path == "/api/v1/halls/demo/devices/health"
    assert json.loads(request.content) == {"devices": devices}
