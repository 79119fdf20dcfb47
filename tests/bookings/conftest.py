"""Fixtures of the booking tests: a hall that takes bookings, a partner, signed requests."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.engine.partners import signing
from tests.conftest import Hall, seed_hall

BOOKING_HALL = Path(__file__).with_name("booking-hall.toml")
PARTNER_API = "/api/v1/partner/halls"


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


@pytest.fixture
async def bhall(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    return await seed_hall(app, client, BOOKING_HALL)


@pytest.fixture
async def partner(app, client: httpx.AsyncClient, bhall: Hall) -> PartnerClient:  # type: ignore[no-untyped-def]
    partner_id, key_id, secret = await add_partner(app, bhall.code)
    return PartnerClient(client, key_id, secret, bhall.code, partner_id)
