"""Bookings as a partner makes them: a client signing its requests, a partner, a booking,
and the partner's webhook endpoint."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.engine.partners import signing
from tests.helpers import ROOT

BOOKING_HALL = ROOT / "tests" / "bookings" / "booking-hall.toml"
PARTNER_API = "/api/v1/partner/halls"
TZ = ZoneInfo("Asia/Shanghai")
ID_1 = "11010519491231002X"
PHONE = "13912345678"


@dataclass
class PartnerClient:
    """Sends requests signed with a partner's key, as a mini-program server would."""

    http: httpx.AsyncClient
    key_id: str
    secret: str
    hall: str
    partner_id: int

    def headers(self, method: str, path: str, body: bytes, **override: Any) -> dict[str, str]:
        headers = signing.signed_headers(
            key_id=self.key_id,
            secret=self.secret,
            method=method,
            path=path,
            body=body,
            timestamp=int(override.pop("timestamp", time.time())),
            nonce=override.pop("nonce", None) or secrets.token_urlsafe(12),
        )
        headers.update(override)
        return headers

    async def request(
        self, method: str, tail: str, payload: Any = None, **override: Any
    ) -> httpx.Response:
        path = f"{PARTNER_API}/{self.hall}{tail}"
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = self.headers(method, path, body, **override)
        if body:
            headers["Content-Type"] = "application/json"
        return await self.http.request(method, path, content=body, headers=headers)

    async def get(self, tail: str, **override: Any) -> httpx.Response:
        return await self.request("GET", tail, **override)

    async def post(self, tail: str, payload: Any = None, **override: Any) -> httpx.Response:
        return await self.request("POST", tail, payload, **override)


async def add_partner(
    app, code: str, name: str = "wx-miniprogram", **extra: Any
) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    from services.engine.halls.service import get_hall
    from services.engine.partners.service import add_partner as add

    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=code)
        created = await add(
            session=session,
            hall=hall,
            name=name,
            webhook_url=extra.pop("webhook_url", None),
            secret_key=app.state.settings.secret_key,
            **extra,
        )
        return created.partner.id, created.partner.key_id, created.secret


async def next_slot(partner: PartnerClient, service: str = "business") -> str:
    """The first slot with a place left starting at least a minute from now (hall time).

    It starts within the next hour or so, so its arrival window (45 minutes early in
    the test hall) is open now for 30-minute slots.
    """
    now = datetime.now(TZ)
    for day in (now.date(), now.date() + timedelta(days=1)):
        r = await partner.get(f"/services/{service}/slots?date={day.isoformat()}")
        assert r.status_code == 200, r.text
        for slot in r.json()["slots"]:
            if slot["bookable"] and datetime.fromisoformat(slot["start"]) > now + timedelta(
                minutes=1
            ):
                return str(slot["start"])
    raise AssertionError("no bookable slot")


async def book(
    partner: PartnerClient,
    id_number: str = ID_1,
    service: str = "business",
    start: str | None = None,
) -> dict:
    start = start or await next_slot(partner, service)
    r = await partner.post(
        "/bookings", {"service": service, "start": start, "id_number": id_number, "phone": PHONE}
    )
    assert r.status_code == 201, r.text
    return r.json()


@dataclass
class Receiver:
    """A partner's webhook endpoint on 127.0.0.1 that fails its first ``fail_first``
    requests (503) and accepts the others; every request as it came."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jiaohao/notify?app=wx"

    def messages(self, kind: str) -> list[dict[str, Any]]:
        """The bodies received of this type (ticket.near, ticket.called ...)."""
        with self.lock:
            bodies = [json.loads(r["body"]) for r in self.received]
        return [m for m in bodies if m["type"] == kind]


@contextmanager
def webhook_receiver(monkeypatch: pytest.MonkeyPatch, fail_first: int = 0) -> Iterator[Receiver]:
    """A ``Receiver`` serving while the block runs; webhooks reach it directly, never
    through a proxy of the environment."""
    for proxy in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    state = Receiver(fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                failing = len(state.received) <= state.fail_first
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
