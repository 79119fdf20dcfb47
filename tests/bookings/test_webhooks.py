"""Partner webhooks: derived from the outbox, signed, retried with backoff (real receiver)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.engine.core.db import make_engine, make_sessionmaker, utcnow
from services.engine.halls.service import get_hall
from services.engine.partners import signing
from services.engine.partners.models import WebhookDelivery
from services.engine.partners.webhooks import WebhookWorker, backoff
from tests.helpers.bookings import PartnerClient, Receiver, add_partner, book, webhook_receiver
from tests.helpers.halls import Hall


@pytest.fixture(autouse=True)
async def no_worker_of_the_app(app) -> None:  # type: ignore[no-untyped-def]
    """These tests run workers of their own, pass by pass at chosen times (or look at what
    a request alone writes): the app's own worker, on the wall clock, must not derive or
    send meanwhile."""
    await app.state.webhook_worker.stop()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with webhook_receiver(monkeypatch, fail_first=2) as state:
        yield state


def verify(partner_secret: str, key_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """What a partner does with a webhook: check the signature, then read it."""
    h = {k.lower(): v for k, v in request["headers"].items()}
    assert h["x-jiaohao-key"] == key_id
    expected = signing.sign(
        partner_secret,
        "POST",
        request["path"],
        h["x-jiaohao-timestamp"],
        h["x-jiaohao-nonce"],
        request["body"],
    )
    assert h["x-jiaohao-signature"] == expected
    message: dict[str, Any] = json.loads(request["body"])
    assert str(message["delivery_id"]) == h["x-jiaohao-delivery"]
    return message


async def test_near_and_called_webhooks_with_retries(
    app,
    client: httpx.AsyncClient,
    bhall: Hall,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    pid, key_id, secret = await add_partner(
        app, bhall.code, name="hooked", webhook_url=receiver.url
    )
    partner = PartnerClient(client, key_id, secret, bhall.code, pid)
    worker = WebhookWorker(app.state.sessionmaker, app.state.settings)

    walk_in = await client.post(
        f"/api/v1/halls/{bhall.code}/tickets",
        json={"service": "business"},
        headers=bhall.h("kiosk"),
    )
    assert walk_in.status_code == 201
    booking = await book(partner)
    checked_in = await partner.post(f"/bookings/{booking['code']}/check-in")
    assert checked_in.status_code == 201, checked_in.text
    ticket = checked_in.json()["ticket"]

    t0 = utcnow()
    first = await worker.run_once(now=t0)
    # One person ahead, within notify_places_ahead = 2: "前方还有1人"; the receiver fails it.
    assert (first.derived, first.delivered, first.failed_attempts) == (1, 0, 1)
    assert (
        await worker.run_once(now=t0 + timedelta(seconds=1))
    ).failed_attempts == 0  # not due yet
    second = await worker.run_once(now=t0 + backoff(1))
    assert second.failed_attempts == 1 and second.derived == 0  # derived once only
    third = await worker.run_once(now=t0 + backoff(1) + backoff(2))
    assert third.delivered == 1
    assert [r["path"] for r in receiver.received] == ["/jiaohao/notify?app=wx"] * 3
    messages = [verify(secret, key_id, r) for r in receiver.received]
    assert [m["attempt"] for m in messages] == [1, 2, 3]
    assert {m["delivery_id"] for m in messages} == {messages[0]["delivery_id"]}
    near = messages[-1]
    assert near["type"] == "ticket.near"
    # Checked in before its slot: it waits as normal, behind the walk-in.
    assert near["data"]["message"] == "前方还有1人" and near["data"]["ticket_id"] == ticket["id"]
    assert near["data"]["booking_code"] == booking["code"]

    # The window calls the booked ticket: "请A002号到1号窗口办理", delivered at once.
    assert (
        await client.post(f"/api/v1/halls/{bhall.code}/windows/1/open", headers=bhall.h("manager"))
    ).status_code == 200
    called = await client.post(
        f"/api/v1/halls/{bhall.code}/windows/1/call",
        json={"ticket_id": ticket["id"], "reason": "预约"},
        headers=bhall.h("manager"),
    )
    assert called.status_code == 200, called.text
    later = t0 + timedelta(minutes=5)
    run = await worker.run_once(now=later)
    assert (run.derived, run.delivered) == (1, 1)
    call_message = verify(secret, key_id, receiver.received[-1])
    assert call_message["type"] == "ticket.called"
    assert (
        call_message["data"]["window"] == 1
        and call_message["data"]["message"] == "请A002号到1号窗口办理"
    )
    # Calling the walk-in moves the queue again, but the near notice is never sent twice.
    assert (await worker.run_once(now=later + timedelta(minutes=1))).derived == 0

    async with app.state.sessionmaker() as session:
        rows = (
            (await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)))
            .scalars()
            .all()
        )
    assert [(r.event_type, r.status, r.attempts) for r in rows] == [
        ("ticket.near", "delivered", 3),
        ("ticket.called", "delivered", 1),
    ]
    assert rows[0].last_error is None and rows[0].delivered_at == t0 + backoff(1) + backoff(2)


async def test_a_dead_receiver_is_given_up_after_the_last_attempt(
    app,
    client: httpx.AsyncClient,
    bhall: Hall,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from services.engine.partners import webhooks

    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 3)
    receiver.fail_first = 100
    pid, key_id, secret = await add_partner(app, bhall.code, name="down", webhook_url=receiver.url)
    partner = PartnerClient(client, key_id, secret, bhall.code, pid)
    booking = await book(partner)
    assert (await partner.post(f"/bookings/{booking['code']}/check-in")).status_code == 201
    worker = WebhookWorker(app.state.sessionmaker, app.state.settings)
    now: datetime = utcnow()
    given_up = 0
    for attempt in range(1, 4):
        stats = await worker.run_once(now=now)
        given_up += stats.given_up
        now += backoff(attempt)
    assert given_up == 1 and len(receiver.received) == 3
    assert (await worker.run_once(now=now + timedelta(hours=1))).failed_attempts == 0
    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(WebhookDelivery))).scalar_one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 503")


async def test_calling_never_waits_for_webhooks(
    app, client: httpx.AsyncClient, bhall: Hall
) -> None:  # type: ignore[no-untyped-def]
    """An unreachable partner webhook changes nothing for the hall: calls only write events."""
    pid, key_id, secret = await add_partner(
        app, bhall.code, name="gone", webhook_url="http://127.0.0.1:9/none"
    )
    partner = PartnerClient(client, key_id, secret, bhall.code, pid)
    booking = await book(partner)
    ticket = (await partner.post(f"/bookings/{booking['code']}/check-in")).json()["ticket"]
    assert (
        await client.post(f"/api/v1/halls/{bhall.code}/windows/1/open", headers=bhall.h("manager"))
    ).status_code == 200
    called = await client.post(
        f"/api/v1/halls/{bhall.code}/windows/1/call-next", headers=bhall.h("manager")
    )
    assert called.status_code == 200 and called.json()["ticket"]["id"] == ticket["id"]
    async with app.state.sessionmaker() as session:
        assert (await session.execute(select(WebhookDelivery))).scalars().all() == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_engine_processes_never_send_a_delivery_twice(
    database_url: str,
    app,
    bhall: Hall,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver.fail_first = 0
    pid, _key_id, _secret = await add_partner(
        app, bhall.code, name="busy", webhook_url=receiver.url
    )
    now = utcnow()
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bhall.code)
        session.add_all(
            WebhookDelivery(
                partner_id=pid,
                hall_id=hall.id,
                dedupe_key=f"test:{i}",
                event_type="ticket.near",
                payload={"i": i},
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(60)
        )
        await session.commit()
    # Two engines with their own connection pools, as two processes would have.
    engines = [make_engine(database_url, pool_size=2) for _ in range(2)]
    workers = [WebhookWorker(make_sessionmaker(e), app.state.settings) for e in engines]
    try:
        for _ in range(3):
            await asyncio.gather(*(w.run_once(now=now) for w in workers))
    finally:
        for e in engines:
            await e.dispose()
    ids = [json.loads(r["body"])["delivery_id"] for r in receiver.received]
    assert len(ids) == 60 and len(set(ids)) == 60
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(WebhookDelivery))).scalars().all()
    assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}
