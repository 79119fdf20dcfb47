"""The shipped nginx site (deploy/nginx/jiaohao.conf) in front of two real engine
processes (`jiaohao serve`) on a fresh PostgreSQL database, over TLS.

Through nginx: tickets are issued, a screen's WebSocket receives a call, the
screen's connection is cut by stopping the engine that holds it (a rolling
restart) and it resumes on the other with exactly the events it missed; bodies
above the engine's limit are refused at the edge and bodies at it pass; slow
headers and bodies are cut; static files are cached; /metrics is not served; the
client's address (not the proxy's, not what the client claims) reaches the
engine's log and the login throttle.

Clients connect from 127.0.0.5 (and 127.0.0.6), nginx from 127.0.0.1: the
loopback network has them all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.engine.config import Settings
from services.engine.migrate import upgrade
from tests.helpers.api import API, act, assert_problem, issue, token
from tests.helpers.db import new_postgres_database, outside_loop
from tests.helpers.halls import Hall, seeded
from tests.helpers.net import free_port
from tests.helpers.nginx import SITE, Logged, NginxProcess, require_nginx
from tests.helpers.processes import EngineProcess, start
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.postgres

CLIENT = "127.0.0.5"  # a kiosk, a screen, a clerk's browser
OTHER_CLIENT = "127.0.0.6"
FORGED = "203.0.113.9"  # what a client claims in X-Forwarded-For: never believed
LIMIT = 1024 * 1024  # JIAOHAO_MAX_BODY_BYTES's default, and the site's client_max_body_size
PER_ADDRESS = 3  # failed logins an address may make (per engine process) in a window
TIMEOUT = 2  # the site's client header and body timeouts, shortened for the test


@dataclass
class Stack:
    hall: Hall
    a: EngineProcess
    b: EngineProcess
    nginx: NginxProcess

    @property
    def engines(self) -> tuple[EngineProcess, EngineProcess]:
        return self.a, self.b

    def engine_logs(self) -> str:
        return self.a.log() + self.b.log()

    @asynccontextmanager
    async def client(self, address: str = CLIENT) -> AsyncIterator[httpx.AsyncClient]:
        """A client of nginx from ``address``, which claims to forward for FORGED."""
        context = self.nginx.ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=context, local_address=address)
        async with httpx.AsyncClient(
            base_url=self.nginx.https_url,
            transport=transport,
            timeout=15,
            trust_env=False,
            headers={"X-Forwarded-For": FORGED},
        ) as http:
            yield http

    def screen(self, **query: object) -> connect:
        """A screen's WebSocket to the hall bus, through nginx (wss)."""
        params = "&".join(f"{k}={v}" for k, v in query.items())
        url = f"wss://127.0.0.1:{self.nginx.rendering.https_port}{API}/{self.hall.code}/events"
        return connect(
            url + (f"?{params}" if params else ""),
            additional_headers={
                "Authorization": f"Bearer {token(self.hall)}",
                "X-Forwarded-For": FORGED,
            },
            ssl=self.nginx.ssl_context(),
            local_addr=(CLIENT, 0),
            proxy=None,
            open_timeout=15,
        )

    def logged(self, *parts: str) -> list[str]:
        """The engines' log lines that hold every one of ``parts`` (any log format)."""
        return [line for line in self.engine_logs().splitlines() if all(p in line for p in parts)]

    def served_by(self, since: int = 0) -> set[int]:
        """The engine ports that answered requests through nginx (from its access log)."""
        return {
            int(entry.upstream.rsplit(":", 1)[1])
            for entry in self.nginx.requests()[since:]
            if entry.upstream is not None
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_nginx()
    logs: Path = tmp_path_factory.mktemp("nginx-engines")
    with new_postgres_database("jiaohao_nginx") as url:
        outside_loop(upgrade, url)
        hall = outside_loop(asyncio.run, seeded(url))
        engines = [
            EngineProcess(url, logs, name, serve=True, login_failures_per_address=PER_ADDRESS)
            for name in ("engine-a", "engine-b")
        ]
        nginx = NginxProcess(
            (engines[0].port, engines[1].port), header_timeout=TIMEOUT, body_timeout=TIMEOUT
        )
        try:
            asyncio.run(start(*engines))
            nginx.start()
            yield Stack(hall, engines[0], engines[1], nginx)
        finally:
            nginx.stop()
            for engine in engines:
                engine.stop()
        for engine in engines:
            assert "Traceback" not in engine.log(), engine.log()


async def next_of(ws: ClientConnection, *kinds: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if message["kind"] in kinds:
            return message
        assert message["kind"] == "ping", message


async def next_call(ws: ClientConnection) -> dict[str, Any]:
    while (message := await next_of(ws, "event"))["type"] != "ticket.called":
        pass
    return message


async def call_next(http: httpx.AsyncClient, hall: Hall, window: int) -> str:
    # As the window's keypad does, through the hall's gateway.
    response = await act(http, hall, window, "call-next", who="gateway")
    assert response.status_code == 200, response.text
    number: str = response.json()["ticket"]["number"]
    return number


async def test_issue_call_screen_and_resume_across_a_rolling_restart(stack: Stack) -> None:
    hall = stack.hall
    async with stack.client() as http:
        ticket = await issue(http, hall)
        # The forwarded scheme and host: the ticket's QR code points at the proxy.
        assert ticket["status_url"].startswith(f"{stack.nginx.https_url}/t/{hall.code}/")
        for window in (1, 2):
            opened = await act(http, hall, window, "open", who="gateway")
            assert opened.status_code == 200, opened.text

        # Engine B stops (its turn in a rolling restart): the screen can only land on A.
        await asyncio.to_thread(stack.b.stop)
        async with stack.screen() as ws:
            await next_of(ws, "snapshot")
            await next_of(ws, "live")
            await asyncio.to_thread(stack.b.start)
            for _ in range(6):
                await issue(http, hall)
            number = await call_next(http, hall, 1)
            called = await next_call(ws)
            assert (called["data"]["number"], called["data"]["window"]) == (number, 1)
            left_at = called["seq"]

            # A's turn: the screen's connection is cut; the hall goes on through B.
            await asyncio.to_thread(stack.a.stop)
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
        made = [await call_next(http, hall, 1 + i % 2) for i in range(4)]
        await issue(http, hall)

        # Back through nginx (to B): exactly the calls it missed, in order, then live.
        async with stack.screen(since=left_at, topics="ticket.called") as ws:
            resume = await next_of(ws, "resume", "snapshot")
            assert resume["kind"] == "resume" and resume["since"] == left_at
            missed = [await next_of(ws, "event") for _ in made]
            await next_of(ws, "live")
            assert [m["data"]["number"] for m in missed] == made
            assert [m["data"]["window"] for m in missed] == [1, 2, 1, 2]

            # A is back: nginx passes requests to it again (the screen stays on B).
            await asyncio.to_thread(stack.a.start)
            mark = len(stack.nginx.requests())

            def a_serves() -> bool:
                transport = httpx.HTTPTransport(
                    verify=stack.nginx.ssl_context(), local_address=CLIENT
                )
                with httpx.Client(transport=transport, trust_env=False) as client:
                    response = client.get(f"{stack.nginx.https_url}/readyz")
                assert response.status_code == 200, response.text
                return stack.a.port in stack.served_by(mark)

            await asyncio.to_thread(wait_until, a_serves, 30, "nginx to use engine A again")
            number = await call_next(http, hall, 2)
            assert (await next_call(ws))["data"]["number"] == number

    assert stack.served_by() == {stack.a.port, stack.b.port}
    # The engines logged the client's address; what it claimed to forward for is nowhere.
    assert stack.logged(CLIENT, "/tickets"), stack.engine_logs()[-3000:]
    assert FORGED not in stack.engine_logs()


async def test_a_body_at_the_engines_limit_passes_and_one_byte_more_is_refused_at_the_edge(
    stack: Stack,
) -> None:
    assert Settings.model_fields["max_body_bytes"].default == LIMIT
    assert "client_max_body_size  1m;" in SITE.read_text(encoding="utf-8")  # 1m = 1048576
    hall = stack.hall
    body = json.dumps({"service": "business"}).encode()
    at_limit = body + b" " * (LIMIT - len(body))
    headers = {**hall.h("kiosk"), "Content-Type": "application/json"}
    async with stack.client() as http:
        response = await http.post(f"{API}/{hall.code}/tickets", content=at_limit, headers=headers)
        assert response.status_code == 201, response.text

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: read and counted
            yield at_limit
            yield b" "

        for over in (at_limit + b" ", chunked()):
            response = await http.post(f"{API}/{hall.code}/tickets", content=over, headers=headers)
            problem = assert_problem(response, 413, "payload_too_large")
            assert problem["max_bytes"] == LIMIT

    def refused() -> list[Logged]:
        # Logged when nginx is done with the connection (after reading off the rest).
        return [entry for entry in stack.nginx.requests() if entry.status == 413]

    await asyncio.to_thread(wait_until, lambda: len(refused()) == 2, 15, "both 413s logged")
    assert all(entry.upstream is None for entry in refused()), refused()  # no engine was asked


def tls_socket(stack: Stack) -> ssl.SSLSocket:
    raw = socket.create_connection(
        ("127.0.0.1", stack.nginx.rendering.https_port), timeout=30, source_address=(CLIENT, 0)
    )
    return stack.nginx.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")


def until_closed(sock: ssl.SSLSocket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; how long it took."""
    began = time.monotonic()
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return received, time.monotonic() - began


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow", id="headers"),
        pytest.param(
            b"POST /api/v1/halls/x/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"serv',
            id="body",
        ),
    ],
)
def test_a_slow_client_is_cut_by_the_timeout(stack: Stack, sent: bytes) -> None:
    before = len(stack.nginx.requests())
    with tls_socket(stack) as sock:
        sock.sendall(sent)
        received, took = until_closed(sock)
    # Cut once the timeout passed without a byte, well before a client would give up;
    # nothing was passed on to an engine.
    assert TIMEOUT - 0.5 <= took < TIMEOUT + 8, took
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:200]
    assert all(entry.upstream is None for entry in stack.nginx.requests()[before:])


async def test_static_files_are_cached_and_metrics_are_not_served(stack: Stack) -> None:
    async with stack.client() as http:
        for path in ("/display/assets/display.js", f"/display/{stack.hall.code}/voice/A.wav"):
            first = await http.get(path)
            again = await http.get(path)
            assert first.status_code == again.status_code == 200, first.text
            assert first.content == again.content
            assert (first.headers["x-cache-status"], again.headers["x-cache-status"]) == (
                "MISS",
                "HIT",
            ), path
        assert_problem(await http.get("/metrics"), 404, "not_found")
        # The display page, its token in the query: served, and the token is not logged.
        display_token = token(stack.hall)
        page = await http.get(f"/display/{stack.hall.code}", params={"token": display_token})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert any(e.path == f"/display/{stack.hall.code}" for e in stack.nginx.requests())
    assert display_token not in "\n".join(stack.nginx.access_log())


def test_plain_http_is_sent_to_https(stack: Stack) -> None:
    response = httpx.get(f"{stack.nginx.http_url}/display/x?token=t", trust_env=False)
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/display/x?token=t"


async def test_the_login_throttle_counts_the_client_address_not_the_proxys(stack: Stack) -> None:
    async def login(http: httpx.AsyncClient, username: str) -> httpx.Response:
        return await http.post(
            "/api/v1/auth/token", data={"username": username, "password": "wrong password"}
        )

    async with stack.client(CLIENT) as http:
        # Each engine process counts on its own: however nginx spreads them, one of the
        # two has refused by the time 2 x PER_ADDRESS + 1 attempts were made.
        answers = [await login(http, f"guess-{i}") for i in range(2 * PER_ADDRESS + 1)]
        statuses = [answer.status_code for answer in answers]
        assert statuses[:PER_ADDRESS] == [401] * PER_ADDRESS, statuses
        assert_problem(next(a for a in answers if a.status_code == 429), 429, "login_throttled")
    async with stack.client(OTHER_CLIENT) as http:
        # Another address behind the same proxy is not throttled for CLIENT's failures.
        assert_problem(await login(http, "someone-else"), 401, "unauthorized")
    # The failures were logged with the client's address (never the password).
    assert stack.logged("guess-0", CLIENT), stack.engine_logs()[-3000:]
    assert stack.logged("someone-else", OTHER_CLIENT)
    assert not stack.logged("guess-0", "127.0.0.1")
    assert FORGED not in stack.engine_logs()
    assert "wrong password" not in stack.engine_logs()


def test_an_engine_believes_forwarded_headers_from_the_proxy_only(stack: Stack) -> None:
    """A client that reaches an engine's port directly cannot claim another address."""
    with socket.create_connection(
        ("127.0.0.1", stack.a.port), timeout=15, source_address=("127.0.0.7", 0)
    ) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"X-Forwarded-For: " + FORGED.encode() + b"\r\nConnection: close\r\n\r\n"
        )
        assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 200")
    wait_until(
        lambda: stack.logged("127.0.0.7", "/healthz"),
        10,
        "the direct request in the engine's log",
        log=lambda: stack.a.log()[-2000:],
    )
    assert FORGED not in stack.engine_logs()


def test_no_engine_answering_is_a_problem_not_an_html_page() -> None:
    """nginx's own refusals speak the engine's language (problem+json with a code)."""
    require_nginx()
    nginx = NginxProcess((free_port(), free_port())).start()  # nobody listens there
    try:
        with httpx.Client(verify=nginx.ssl_context(), trust_env=False, timeout=15) as http:
            response = http.get(f"{nginx.https_url}/api/v1/halls/x/queues")
        problem = assert_problem(response, 503, "engine_unreachable")
        assert response.headers["retry-after"] == "5" and problem["status"] == 503
    finally:
        nginx.stop()
