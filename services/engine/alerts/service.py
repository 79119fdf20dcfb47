"""Alerts of a hall (告警): evaluate the rules, acknowledge, resolve tidal recommendations.

Every alert opened, cleared or acknowledged is also an event on the hall bus
(``alert.opened``, ``alert.cleared``, ``alert.acknowledged``, ``alert.resolved``), so
every manager's screen, and any other client, follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.engine.alerts import repository
from services.engine.alerts.dashboard import HallReading, read_hall
from services.engine.alerts.models import Alert
from services.engine.alerts.rules import (
    AlertKind,
    OpenAlert,
    Plan,
    Recommendation,
    conditions,
    plan,
)
from services.engine.audit import repository as audit
from services.engine.auth.permissions import Principal
from services.engine.balancing import repository as balancing_repo
from services.engine.balancing import service as balancing
from services.engine.balancing.policy import Role as LinkRole
from services.engine.core.db import utcnow
from services.engine.core.errors import AlertResolved, NotFound, ValidationFailed
from services.engine.events import outbox
from services.engine.events import repository as events_repo
from services.engine.events.hub import EventHub
from services.engine.events.outbox import HUB_KEY
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import rules_of
from services.engine.windows import repository as windows_repo
from services.engine.windows.models import WindowService

log = logging.getLogger(__name__)

# Recommendations and reviews older than this are history, not alerts.
LOOK_BACK = timedelta(hours=12)
# The bus event the 好差评 loop stages for a new bad-review case (docs/bus.md).
BAD_REVIEW_EVENTS = ("review.case_opened",)


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "key": alert.key,
        "severity": alert.severity,
        "data": alert.data,
        "opened_at": alert.opened_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
        "resolution": alert.resolution,
    }


async def _recommendations(
    session: AsyncSession, hall: Hall, now: datetime
) -> list[Recommendation]:
    codes = {s.id: s for s in await halls_repo.services_of(session, hall.id)}
    out = []
    for change in await repository.recommendations_since(session, hall.id, now - LOOK_BACK):
        service = codes.get(change.service_id)
        if service is None:
            continue
        out.append(
            Recommendation(
                change.id,
                service.code,
                service.name,
                change.action,
                tuple(int(n) for n in change.windows),
                change.reason,
            )
        )
    return out


async def _bad_reviews(session: AsyncSession, hall: Hall, now: datetime) -> list[dict[str, Any]]:
    head = await events_repo.head(session, hall.id)
    found = await events_repo.latest_of_types(
        session, hall.id, BAD_REVIEW_EVENTS, not_before=now - LOOK_BACK, upto=head, limit=50
    )
    numbers = await windows_repo.window_numbers(session, hall.id) if found else {}
    out = []
    for e in found:
        p = e.payload
        window_id = p.get("window_id")
        out.append(
            {
                "key": str(p.get("case_id", f"seq{e.seq}")),
                "case_id": p.get("case_id"),
                "ticket_id": p.get("ticket_id"),
                "number": p.get("number"),
                "level": p.get("level"),
                "window": numbers.get(window_id) if isinstance(window_id, int) else None,
                "at": e.at.isoformat(),
            }
        )
    return out


async def evaluate(
    *,
    session: AsyncSession,
    hall: Hall,
    silent_after: float,
    now: datetime | None = None,
    reading: HallReading | None = None,
) -> list[Alert]:
    """Run the alert rules on the hall now: open new alerts, clear ended ones; commit.
    Returns the alerts opened."""
    now = now or utcnow()
    reading = reading or await read_hall(session, hall, now, silent_after=silent_after)
    found = conditions(
        queues=reading.queue_readings(),
        windows=reading.window_readings(),
        devices=reading.device_readings(),
        recommendations=await _recommendations(session, hall, now),
        bad_reviews=await _bad_reviews(session, hall, now),
        pause_limit_minutes=rules_of(hall).pause_alert_minutes,
    )
    events_keys = [c.key for c in found if c.kind in (AlertKind.TIDAL, AlertKind.BAD_REVIEW)]

    async def make_plan() -> tuple[list[Alert], Plan]:
        current = list(await repository.open_alerts(session, hall.id))
        ever = await repository.keys_ever(session, hall.id, events_keys)
        return current, plan(
            found, [OpenAlert(a.id, a.key, a.kind, a.data or {}) for a in current], ever
        )

    current, todo = await make_plan()
    if not (todo.open or todo.clear or todo.supersede):
        await session.rollback()  # nothing to change: no lock taken
        return []
    # Something changes: plan again under the hall's lock, so that two engine processes
    # sweeping at once open each alert once.
    await repository.lock_hall(session, hall.id)
    current, todo = await make_plan()
    by_id = {a.id: a for a in current}
    for alert_id, resolution in [(i, "cleared") for i in todo.clear] + [
        (i, "superseded") for i in todo.supersede
    ]:
        alert = by_id[alert_id]
        alert.cleared_at, alert.resolution = now, resolution
        outbox.stage(session, hall.id, "alert.cleared", alert_payload(alert))
    opened = []
    for c in todo.open:
        alert = Alert(
            hall_id=hall.id,
            kind=c.kind.value,
            key=c.key,
            severity=c.severity.value,
            data=c.data,
            opened_at=now,
        )
        session.add(alert)
        opened.append(alert)
    if opened:
        await session.flush()
    for alert in opened:
        outbox.stage(session, hall.id, "alert.opened", alert_payload(alert))
    await outbox.commit(session)
    return opened


async def acknowledge(
    *, session: AsyncSession, hall: Hall, alert_id: int, principal: Principal
) -> Alert:
    """A manager has seen the alert (已确认): kept with who and when."""
    now = utcnow()
    alert = await repository.get_for_update(session, hall.id, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id} in this hall")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, principal.name[:64]
        if alert.kind in (AlertKind.BAD_REVIEW, AlertKind.TIDAL) and alert.cleared_at is None:
            # A one-off happening is done with once seen (a tidal one: left as it is).
            alert.cleared_at, alert.resolution = now, "acknowledged"
        audit.record(
            session,
            hall.id,
            "alert.acknowledge",
            f"alert {alert.id}",
            actor=principal.actor,
            at=now,
            before=None,
            after={"kind": alert.kind, "key": alert.key},
        )
        outbox.stage(session, hall.id, "alert.acknowledged", alert_payload(alert))
    await outbox.commit(session)
    return alert


async def resolve_tidal(
    *, session: AsyncSession, hall: Hall, alert_id: int, accept: bool, principal: Principal
) -> tuple[Alert, list[int]]:
    """Accept or dismiss a tidal recommendation. Accepting an ``open`` adds the surging
    service to the hall's designated tidal windows at once (role tidal, the rules'
    weight); accepting a ``close`` removes it from them. Returns the windows changed."""
    now = utcnow()
    alert = await repository.get_for_update(session, hall.id, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id} in this hall")
    if alert.kind != AlertKind.TIDAL.value:
        raise ValidationFailed("only a tidal recommendation is accepted or dismissed")
    if alert.cleared_at is not None:
        raise AlertResolved(
            f"this recommendation was already {alert.resolution}", resolution=alert.resolution
        )
    data = alert.data or {}
    changed: list[int] = []
    if accept:
        service = await halls_repo.get_service_by_code(session, hall.id, str(data["service"]))
        if service is None or not service.active:
            raise NotFound(f"no active service {data.get('service')!r} in this hall")
        spec = balancing.tidal_of(hall)
        windows = await balancing_repo.windows_by_number(session, hall.id, data.get("windows", []))
        if data.get("action") == "open":
            served = await balancing_repo.served_pairs(session, [w.id for w in windows])
            for window in sorted(windows, key=lambda w: w.number):
                if (window.id, service.id) not in served:
                    session.add(
                        WindowService(
                            window_id=window.id,
                            service_id=service.id,
                            weight=spec.weight,
                            role=LinkRole.TIDAL.value,
                        )
                    )
                    changed.append(window.number)
        else:
            tidal_windows = await balancing_repo.tidal_windows_of(session, hall.id, service.id)
            await balancing_repo.remove_tidal_links(
                session, [w.id for w in tidal_windows], service.id
            )
            changed = [w.number for w in tidal_windows]
        for number in changed:
            outbox.stage(
                session,
                hall.id,
                "window.services",
                {"window": number, "tidal": {"service": service.code, "action": data["action"]}},
            )
        outbox.stage(
            session,
            hall.id,
            "tidal.changed",
            {
                "service": service.code,
                "service_name": service.name,
                "action": data["action"],
                "windows": changed,
                "reason": f"accepted by {principal.name}",
            },
        )
    alert.cleared_at = now
    alert.resolution = "accepted" if accept else "dismissed"
    alert.acknowledged_at = alert.acknowledged_at or now
    alert.acknowledged_by = alert.acknowledged_by or principal.name[:64]
    audit.record(
        session,
        hall.id,
        "tidal.accept" if accept else "tidal.dismiss",
        f"tidal {data.get('service')}",
        actor=principal.actor,
        at=now,
        before={"recommendation": data},
        after={"windows_changed": changed},
    )
    outbox.stage(session, hall.id, "alert.resolved", alert_payload(alert))
    await outbox.commit(session)
    return alert, changed


class AlertSweeper:
    """Runs the alert rules of every hall every few seconds (one task per process; with
    several engine processes an alert may be opened by either, once: the rules compare
    with the open alerts inside the hall's commit order)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        every: float,
        silent_after: float,
        hub: EventHub | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # This process's hub: the alerts' events reach its screens at once (SQLite has
        # no NOTIFY; on PostgreSQL the other processes hear it).
        self._hub = hub
        self._every = every
        self._silent_after = silent_after
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        opened = 0
        async with self._sessionmaker() as session:
            halls = list(await halls_repo.list_halls(session))
            await session.commit()
        for hall in halls:
            async with self._sessionmaker() as session:
                if self._hub is not None:
                    session.info[HUB_KEY] = self._hub
                opened += len(
                    await evaluate(
                        session=session, hall=hall, silent_after=self._silent_after, now=now
                    )
                )
        return opened

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.run_once()
            except Exception:  # keep sweeping: the next pass may find the database back
                log.exception("alert sweep failed")

    def start(self) -> None:
        if self._task is None and self._every > 0:
            self._task = asyncio.create_task(self._loop(), name="jiaohao-alerts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
