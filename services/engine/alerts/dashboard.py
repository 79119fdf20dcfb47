"""The hall as its manager's dashboard shows it (实时监控): windows, queues, devices.

One reading serves the page and the alert rules (``alerts.rules``). Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.alerts import repository
from services.engine.alerts.rules import (
    DeviceReading,
    QueueReading,
    WindowReading,
    long_case,
    minutes_between,
)
from services.engine.auth import service as auth_service
from services.engine.balancing import repository as balancing_repo
from services.engine.balancing import service as balancing
from services.engine.devices import service as devices
from services.engine.devices.service import ReporterView
from services.engine.flows import tickets as ticket_flows
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets.numbering import business_date
from services.engine.tickets.states import TicketStatus
from services.engine.windows import repository as windows_repo
from services.engine.windows.models import Window


@dataclass(frozen=True)
class WindowTile:
    window: Window
    staff: str | None
    number: str | None  # the ticket in hand
    service: str | None
    in_hand_since: datetime | None  # called at
    started_at: datetime | None
    minutes_in_state: float
    cases_today: int
    links: list[tuple[str, float, str]]  # code, weight, role
    pause_too_long: bool
    case_too_long: bool


@dataclass(frozen=True)
class QueueLine:
    service: Service
    waiting: int
    by_class: dict[str, int]
    oldest_wait_minutes: float | None
    estimated_wait_minutes: int | None
    issued_today: int
    served_today: int
    no_show_today: int
    quota_left: int | None
    windows: list[int]
    open_windows: list[int]
    open_now: bool

    @property
    def over_target_minutes(self) -> float:
        """How far the oldest wait is past the target (negative: within it)."""
        return (self.oldest_wait_minutes or 0.0) - self.service.target_wait_minutes


@dataclass(frozen=True)
class HallReading:
    now: datetime
    windows: list[WindowTile]
    queues: list[QueueLine]
    reporters: list[ReporterView]

    def queue_readings(self) -> list[QueueReading]:
        return [
            QueueReading(
                q.service.code,
                q.service.name,
                q.waiting,
                q.oldest_wait_minutes,
                q.service.target_wait_minutes,
            )
            for q in self.queues
        ]

    def window_readings(self) -> list[WindowReading]:
        return [
            WindowReading(
                t.window.number, t.window.state, t.minutes_in_state, t.window.pause_reason
            )
            for t in self.windows
            if t.window.active
        ]

    def device_readings(self) -> list[DeviceReading]:
        out: list[DeviceReading] = []
        for r in self.reporters:
            if r.reporter.last_seen_at is None:
                continue  # never set up yet: listed as offline, not an alert
            if not r.reporter.active:
                continue  # revoked on purpose (设备管理): its silence is expected
            if r.status == "offline":
                # One alert for a silent reporter, not one per device behind it.
                out.append(
                    DeviceReading(
                        f"{r.reporter.id}:reporter",
                        r.reporter.name,
                        r.reporter.kind,
                        None,
                        "offline",
                        r.reason,
                    )
                )
                continue
            for d in r.devices:
                out.append(
                    DeviceReading(
                        f"{r.reporter.id}:{d.record.key}",
                        f"{r.reporter.name} / {d.record.key}",
                        d.record.kind,
                        d.record.window,
                        d.status,
                        d.reason,
                    )
                )
        return out


async def read_hall(
    session: AsyncSession, hall: Hall, now: datetime, *, silent_after: float
) -> HallReading:
    rules = rules_of(hall)
    day = business_date(now, hall.timezone)
    services = await halls_repo.services_of(session, hall.id)
    by_id = {s.id: s for s in services}
    windows = await windows_repo.list_windows(session, hall.id)
    links: dict[int, list[tuple[str, float, str]]] = {}
    for ws in await windows_repo.window_services_of(session, hall.id):
        code = by_id[ws.service_id].code if ws.service_id in by_id else str(ws.service_id)
        links.setdefault(ws.window_id, []).append((code, float(ws.weight), ws.role))
    in_hand = await repository.tickets_by_id(
        session, [w.current_ticket_id for w in windows if w.current_ticket_id]
    )
    names = await auth_service.usernames(
        session=session, user_ids=[w.staff_user_id for w in windows if w.staff_user_id]
    )
    cases = await repository.cases_per_window(session, hall.id, day)
    handle = await balancing.handle_averages(session, hall, now, services)
    tiles: list[WindowTile] = []
    for w in windows:
        ticket = in_hand.get(w.current_ticket_id) if w.current_ticket_id else None
        in_state = minutes_between(w.state_changed_at, now) or 0.0
        case_minutes = minutes_between(ticket.called_at, now) if ticket else None
        mean = handle.get(ticket.service_id, 8 * 60.0) / 60.0 if ticket else 0.0
        tiles.append(
            WindowTile(
                window=w,
                staff=names.get(w.staff_user_id) if w.staff_user_id else None,
                number=ticket.number if ticket else None,
                service=by_id[ticket.service_id].code if ticket else None,
                in_hand_since=ticket.called_at if ticket else None,
                started_at=ticket.started_at if ticket else None,
                minutes_in_state=in_state,
                cases_today=cases.get(w.id, 0),
                links=sorted(
                    links.get(w.id, []), key=lambda x: ({"primary": 0}.get(x[2], 1), x[0])
                ),
                pause_too_long=w.state == "paused" and in_state > rules.pause_alert_minutes,
                case_too_long=ticket is not None
                and long_case(case_minutes, mean, rules.long_case_factor),
            )
        )
    views = await ticket_flows.queues(session=session, hall=hall, now=now)
    by_class = await balancing_repo.waiting_by_class(session, hall.id)
    oldest = await repository.oldest_waiting(session, hall.id)
    counts = await repository.day_counts(session, hall.id, day)
    queues = [
        QueueLine(
            service=v.service,
            waiting=v.waiting,
            by_class=by_class.get(v.service.id, {}),
            oldest_wait_minutes=minutes_between(oldest.get(v.service.id), now),
            estimated_wait_minutes=v.wait.minutes if v.wait else None,
            issued_today=v.issued_today,
            served_today=counts.get((v.service.id, TicketStatus.DONE.value), 0),
            no_show_today=counts.get((v.service.id, TicketStatus.NO_SHOW.value), 0),
            quota_left=v.quota_left,
            windows=v.windows,
            open_windows=v.open_windows,
            open_now=v.open_now,
        )
        for v in views
    ]
    # The furthest over its target first.
    queues.sort(key=lambda q: (-q.over_target_minutes, q.service.sort_order))
    reporters = await devices.hall_health(
        session=session, hall=hall, silent_after=silent_after, now=now
    )
    return HallReading(now, tiles, queues, reporters)


def links_dict(links: list[tuple[str, float, str]]) -> dict[str, list[Any]]:
    return {code: [weight, role] for code, weight, role in links}
