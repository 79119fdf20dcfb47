"""Webhooks to partners: derived from the event outbox, delivered by a worker.

Calling never waits for a partner: a call only writes its outbox events, as
always. The worker reads each hall's outbox after a cursor, derives the
notifications (a partner's booked ticket was called: "请到3号窗口"; it is N
places from being called: "前方还有N人") into ``webhook_deliveries``, and
sends due deliveries, signed like partner requests, retrying with exponential
backoff.

Several engine processes may run the worker on one PostgreSQL: cursors and
due deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and a claimed
delivery is leased (its next attempt pushed past the send timeout) before the
claim commits, so no two processes send the same attempt. Derivation is
idempotent as well (a unique ``dedupe_key`` per partner). On SQLite the engine
runs as one process and every transaction takes the write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.bookings import repository as bookings_repo
from services.engine.bookings import service as bookings_service
from services.engine.bookings.rules import BookingSpec
from services.engine.config import Settings
from services.engine.core.db import utcnow
from services.engine.events.models import HallEvent
from services.engine.halls.models import Hall
from services.engine.partners import repository, signing
from services.engine.partners.models import Partner, WebhookCursor, WebhookDelivery
from services.engine.partners.service import secret_of
from services.engine.public.signing import ticket_signature
from services.engine.tickets import service as tickets

log = logging.getLogger("jiaohao.webhooks")

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 15 * 60.0
MAX_ATTEMPTS = 10
SEND_TIMEOUT_SECONDS = 10.0
# A claimed delivery is not due again before this (longer than a send can take).
LEASE_SECONDS = 60.0
EVENT_BATCH = 500
# Events after which the places ahead of a waiting ticket may have changed.
# (hall code, ticket id) -> the ticket's signed rating address (好差评 by link).
RatingLink = Callable[[str, int], str]
_QUEUE_MOVES = frozenset({"ticket.called", "queue.changed", "ticket.cancelled", "ticket.issued"})


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: 5 s, 10 s, 20 s ... 15 min."""
    return timedelta(
        seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "postgresql"


@dataclass
class RunStats:
    derived: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0


async def _claim_cursor(session: AsyncSession, hall_id: int) -> WebhookCursor | None:
    ins = (postgresql if _dialect(session) == "postgresql" else sqlite).insert(WebhookCursor)
    await session.execute(ins.values(hall_id=hall_id, last_seq=0).on_conflict_do_nothing())
    return (
        await session.execute(
            select(WebhookCursor)
            .where(WebhookCursor.hall_id == hall_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _add_delivery(
    session: AsyncSession,
    partner_id: int,
    hall_id: int,
    dedupe_key: str,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    ins = (postgresql if _dialect(session) == "postgresql" else sqlite).insert(WebhookDelivery)
    result = await session.execute(
        ins.values(
            partner_id=partner_id,
            hall_id=hall_id,
            dedupe_key=dedupe_key,
            event_type=event_type,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ).on_conflict_do_nothing()
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def derive_deliveries(
    session: AsyncSession, *, now: datetime, rating_link: RatingLink | None = None
) -> int:
    """Read new outbox events of halls with webhook partners; queue their notifications.

    ``rating_link(hall, ticket_id)``: the signed rating address sent with
    ``ticket.finished`` (好差评 by SMS/WeChat), or None to send none.
    """
    partners = await repository.webhook_partners(session)
    by_hall: dict[int, set[int]] = defaultdict(set)
    for partner in partners:
        by_hall[partner.hall_id].add(partner.id)
    created = 0
    for hall_id, partner_ids in sorted(by_hall.items()):
        cursor = await _claim_cursor(session, hall_id)
        if cursor is None:
            continue  # another engine process is deriving this hall
        events = (
            (
                await session.execute(
                    select(HallEvent)
                    .where(HallEvent.hall_id == hall_id, HallEvent.seq > cursor.last_seq)
                    .order_by(HallEvent.seq)
                    .limit(EVENT_BATCH)
                )
            )
            .scalars()
            .all()
        )
        if not events:
            continue
        hall = await session.get(Hall, hall_id)
        assert hall is not None
        created += await _derive_hall(session, hall, partner_ids, events, now, rating_link)
        cursor.last_seq = events[-1].seq
    await session.commit()
    return created


async def _derive_hall(
    session: AsyncSession,
    hall: Hall,
    partner_ids: set[int],
    events: Sequence[HallEvent],
    now: datetime,
    rating_link: RatingLink | None = None,
) -> int:
    created = 0
    for event in events:
        if (
            event.type == "ticket.finished"
            and rating_link is not None
            and event.payload.get("ticket_id") is not None
        ):
            created += await _finished(session, hall, partner_ids, event, now, rating_link)
            continue
        if event.type != "ticket.called" or event.payload.get("ticket_id") is None:
            continue
        booking = await bookings_repo.booking_of_ticket(session, int(event.payload["ticket_id"]))
        if booking is None or booking.partner_id not in partner_ids:
            continue
        window = event.payload.get("window")
        number = event.payload.get("number")
        created += await _add_delivery(
            session,
            booking.partner_id,
            hall.id,
            f"called:{event.seq}",
            "ticket.called",
            {
                "hall": hall.code,
                "booking_code": booking.code,
                "ticket_id": booking.ticket_id,
                "number": number,
                "window": window,
                "recall_count": event.payload.get("recall_count", 0),
                "message": f"请{number}号到{window}号窗口办理",
            },
            now,
        )
    if not any(e.type in _QUEUE_MOVES for e in events):
        return created
    settings = await bookings_service.settings_of(session, hall)
    places = (settings.hall or BookingSpec()).notify_places_ahead
    for booking, ticket in await bookings_repo.waiting_partner_bookings(session, hall.id):
        if booking.partner_id not in partner_ids:
            continue
        ahead = await tickets.ahead(session, ticket)
        if ahead > places:
            continue
        created += await _add_delivery(
            session,
            booking.partner_id,
            hall.id,
            f"near:{ticket.id}",
            "ticket.near",
            {
                "hall": hall.code,
                "booking_code": booking.code,
                "ticket_id": ticket.id,
                "number": ticket.number,
                "waiting_ahead": ahead,
                "message": f"前方还有{ahead}人",
            },
            now,
        )
    return created


async def _finished(
    session: AsyncSession,
    hall: Hall,
    partner_ids: set[int],
    event: HallEvent,
    now: datetime,
    rating_link: RatingLink,
) -> int:
    """``ticket.finished`` of a partner's booking, with the signed rating link the partner
    sends on by SMS/WeChat (好差评; rating stays the citizen's free choice)."""
    booking = await bookings_repo.booking_of_ticket(session, int(event.payload["ticket_id"]))
    if booking is None or booking.partner_id not in partner_ids or booking.ticket_id is None:
        return 0
    return await _add_delivery(
        session,
        booking.partner_id,
        hall.id,
        f"finished:{event.seq}",
        "ticket.finished",
        {
            "hall": hall.code,
            "booking_code": booking.code,
            "ticket_id": booking.ticket_id,
            "number": event.payload.get("number"),
            "rating_url": rating_link(hall.code, booking.ticket_id),
            "message": "业务已办结，欢迎对本次服务进行评价（自愿）",
        },
        now,
    )


@dataclass(frozen=True)
class _Claimed:
    id: int
    partner_id: int
    hall_id: int
    event_type: str
    payload: dict[str, Any]
    attempts: int


async def claim_due(session: AsyncSession, *, now: datetime, limit: int = 20) -> list[_Claimed]:
    """Lease due deliveries to this worker (SKIP LOCKED: other workers take others)."""
    rows = (
        (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    claimed = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        claimed.append(
            _Claimed(
                row.id, row.partner_id, row.hall_id, row.event_type, dict(row.payload), row.attempts
            )
        )
    await session.commit()
    return claimed


def webhook_body(claimed: _Claimed, now: datetime) -> bytes:
    return json.dumps(
        {
            "delivery_id": claimed.id,
            "type": claimed.event_type,
            "attempt": claimed.attempts,
            "sent_at": now.isoformat(),
            "data": claimed.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class WebhookWorker:
    """Derives and sends partner webhooks (the hall's housekeeping is
    flows/housekeeping.py)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        interval: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._interval = interval
        self._transport = transport
        self._task: asyncio.Task[None] | None = None

    def _rating_link(self, hall: str, ticket_id: int) -> str:
        """The signed rating page of a finished ticket (channel ``sms``)."""
        sig = ticket_signature(self._settings.secret_key, hall, ticket_id)
        path = f"/t/{quote(hall, safe='')}/{ticket_id}/rate?s={sig}&via=sms"
        base = self._settings.public_base_url
        return base.rstrip("/") + path if base else path

    async def run_once(self, now: datetime | None = None) -> RunStats:
        """One pass: derive new notifications, send due ones."""
        now = now or utcnow()
        stats = RunStats()
        async with self._sessionmaker() as session:
            stats.derived = await derive_deliveries(session, now=now, rating_link=self._rating_link)
        async with self._sessionmaker() as session:
            claimed = await claim_due(session, now=now)
        if claimed:
            await self._send_all(claimed, now, stats)
        return stats

    async def _send_all(self, claimed: list[_Claimed], now: datetime, stats: RunStats) -> None:
        async with self._sessionmaker() as session:
            partners = {
                p.id: p for p in [await session.get(Partner, c.partner_id) for c in claimed] if p
            }
            await session.commit()
        results: dict[int, str | None] = {}
        async with httpx.AsyncClient(
            timeout=SEND_TIMEOUT_SECONDS, transport=self._transport, follow_redirects=False
        ) as http:
            for item in claimed:
                partner = partners.get(item.partner_id)
                if partner is None or not partner.webhook_url or not partner.active:
                    results[item.id] = "partner has no webhook any more"
                    continue
                results[item.id] = await self._send(http, partner, item, now)
        async with self._sessionmaker() as session:
            for item in claimed:
                row = await session.get(WebhookDelivery, item.id)
                if row is None:
                    continue
                error = results.get(item.id)
                if error is None:
                    row.status = "delivered"
                    row.delivered_at = now
                    row.last_error = None
                    stats.delivered += 1
                    continue
                row.last_error = error[:500]
                stats.failed_attempts += 1
                if item.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    stats.given_up += 1
                else:
                    row.next_attempt_at = now + backoff(item.attempts)
            await session.commit()

    async def _send(
        self, http: httpx.AsyncClient, partner: Partner, item: _Claimed, now: datetime
    ) -> str | None:
        """POST one delivery; None when the partner answered 2xx, else why not."""
        assert partner.webhook_url is not None
        body = webhook_body(item, now)
        parts = urlsplit(partner.webhook_url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = signing.signed_headers(
            key_id=partner.key_id,
            secret=secret_of(partner, self._settings.secret_key),
            method="POST",
            path=path,
            body=body,
            timestamp=int(utcnow().timestamp()),
            nonce=secrets.token_urlsafe(16),
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["X-Jiaohao-Delivery"] = str(item.id)
        try:
            response = await http.post(partner.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the worker alive; the next pass retries
                log.exception("webhook worker pass failed")
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="jiaohao-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
