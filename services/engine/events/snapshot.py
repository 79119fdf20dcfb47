"""The hall as a screen needs it right now, at one sequence number (快照).

Read in one consistent view (REPEATABLE READ on PostgreSQL; SQLite transactions
are serialised), so the snapshot is exactly the state after event ``seq``: a
client applies only events with a higher number and never sees one twice.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.core.db import utcnow
from services.engine.events import repository
from services.engine.events.source import shielded
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.tickets import repository as tickets_repo
from services.engine.tickets.models import Ticket
from services.engine.tickets.numbering import business_date
from services.engine.windows import repository as windows_repo

CALL_TYPES = ("ticket.called", "ticket.recalled")
RECENT_CALLS = 8


def call_entry(seq: int, type_: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """A call as the 'last calls' list shows it: numbers only, never personal data."""
    return {
        "seq": seq,
        "type": type_,
        "at": at.isoformat(),
        "number": data.get("number"),
        "window": data.get("window"),
        "service": data.get("service"),
        "service_name": data.get("service_name"),
        "recall_count": data.get("recall_count", 0),
    }


async def read_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession], hall_id: int, *, reason: str
) -> dict[str, Any]:
    """Take a snapshot in a read-only transaction of its own."""
    async with sessionmaker() as session:
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        snapshot = await build_snapshot(session, hall_id, reason=reason)
        await session.rollback()
        return snapshot


@dataclass(frozen=True, slots=True)
class _Taken:
    seq: int
    at: float  # time.monotonic() when read
    snapshot: dict[str, Any]


class SnapshotCache:
    """The last snapshot of each hall, handed out again while the hall has not moved.

    A snapshot is the hall exactly after event ``seq``, so while the hall's head is
    still ``seq`` the same one serves every screen that connects (a reconnect storm
    after a power cut reads the hall once, plus one cheap head read per screen).
    It is kept ``max_age`` seconds at most: "today's last calls" depend on the clock.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], max_age: float = 5.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_age = max_age
        self._latest: dict[int, _Taken] = {}
        self.reads = 0  # full snapshot reads (the rest came from the cache)

    async def get(self, hall_id: int, *, reason: str) -> dict[str, Any]:
        """A snapshot of the hall as it is now (read shielded from cancellation)."""
        taken = self._latest.get(hall_id)
        if (
            taken is not None
            and clock.monotonic() - taken.at < self._max_age
            and await shielded(self._head(hall_id)) == taken.seq
        ):
            return {**taken.snapshot, "reason": reason}
        snapshot = await shielded(read_snapshot(self._sessionmaker, hall_id, reason=reason))
        self.reads += 1
        seq = snapshot["seq"]
        latest = self._latest.get(hall_id)
        if latest is None or latest.seq <= seq:
            self._latest[hall_id] = _Taken(seq, clock.monotonic(), snapshot)
        return snapshot

    async def _head(self, hall_id: int) -> int:
        async with self._sessionmaker() as session:
            head = await repository.head(session, hall_id)
            await session.rollback()
            return head


async def build_snapshot(
    session: AsyncSession, hall_id: int, *, reason: str, now: datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    hall = (await session.execute(select(Hall).where(Hall.id == hall_id))).scalar_one()
    seq = int(hall.event_seq or 0)
    services = await halls_repo.services_of(session, hall_id, active_only=True)
    by_id = {s.id: s for s in services}
    waiting = await tickets_repo.waiting_counts(session, hall_id)
    windows = await windows_repo.windows_of(session, hall_id, active_only=True)
    held_ids = [w.current_ticket_id for w in windows if w.current_ticket_id is not None]
    held: dict[int, Ticket] = {}
    if held_ids:
        rows = await session.execute(select(Ticket).where(Ticket.id.in_(held_ids)))
        held = {t.id: t for t in rows.scalars()}
    day_start = datetime.combine(
        business_date(now, hall.timezone), time(0), tzinfo=ZoneInfo(hall.timezone)
    )
    calls = await repository.latest_of_types(
        session, hall_id, CALL_TYPES, not_before=day_start, upto=seq, limit=RECENT_CALLS
    )
    window_out = []
    for w in windows:
        ticket = held.get(w.current_ticket_id) if w.current_ticket_id is not None else None
        service = by_id.get(ticket.service_id) if ticket is not None else None
        if ticket is not None and service is None:
            service = await halls_repo.get_service(session, ticket.service_id)
        window_out.append(
            {
                "window": w.number,
                "name": w.name,
                "kind": w.kind,
                "state": w.state,
                "pause_reason": w.pause_reason,
                "ticket_id": ticket.id if ticket else None,
                "number": ticket.number if ticket else None,
                "service": service.code if service else None,
                "service_name": service.name if service else None,
            }
        )
    return {
        "kind": "snapshot",
        "reason": reason,
        "seq": seq,
        "at": now.isoformat(),
        "hall": {
            "code": hall.code,
            "name": hall.name,
            "notice": hall.notice,
            "timezone": hall.timezone,
        },
        "services": [
            {
                "service": s.code,
                "name": s.name,
                "prefix": s.prefix,
                "waiting": waiting.get(s.id, 0),
            }
            for s in services
        ],
        "windows": window_out,
        "recent_calls": [call_entry(c.seq, c.type, c.at, c.payload) for c in calls],
    }
