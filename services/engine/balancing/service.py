"""Balancing in the engine: the calling policy's view, wait estimates, tidal windows.

Loads what the pure rules need (``policy``, ``estimates``, ``tidal``), asks
them, and persists and stages events for what they decide. Commits nothing:
the use cases of ``flows`` that call it commit once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.balancing import estimates, repository
from services.engine.balancing.config import TidalSpec
from services.engine.balancing.models import TidalChange, TidalServiceState
from services.engine.balancing.policy import (
    POLICIES,
    CallPolicy,
    Candidate,
    Role,
    WindowView,
)
from services.engine.balancing.tidal import TidalAction, TidalMode, TidalState, decide
from services.engine.core.changes import change_stamp
from services.engine.core.db import utcnow
from services.engine.core.loop_local import LoopLocal
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import rules_of
from services.engine.tickets import service as tickets
from services.engine.tickets.models import Ticket
from services.engine.tickets.states import PriorityClass
from services.engine.windows.models import WindowService

# Handle times older than this do not feed the moving average.
HANDLE_HISTORY = timedelta(days=1)


def policy_of(hall: Hall) -> CallPolicy:
    """The hall's calling policy (hall file ``[hall.rules] policy``, default balanced)."""
    return POLICIES[rules_of(hall).policy]


def tidal_of(hall: Hall) -> TidalSpec:
    return TidalSpec.model_validate(getattr(hall, "tidal", None) or {})


async def window_view(
    session: AsyncSession, hall: Hall, window_id: int, now: datetime | None = None
) -> WindowView:
    """What the calling policy knows: the window's links, target waits, recent handle times."""
    links = await repository.service_links(session, window_id)
    services = await halls_repo.services_of(session, hall.id)
    targets = {s.id: s.target_wait_minutes * 60.0 for s in services}
    handle = await handle_averages(
        session, hall, now or utcnow(), [s for s in services if s.id in links]
    )
    own_windows = await repository.own_window_counts(session, hall.id)
    return WindowView(window_id, links, targets, handle, own_windows)


async def handle_averages(
    session: AsyncSession, hall: Hall, now: datetime, services: Sequence[Service]
) -> dict[int, float]:
    """Moving average handle time per service (seconds), seeded from the configured average."""
    samples = await repository.recent_handle_seconds(session, hall.id, now - HANDLE_HISTORY)
    return {
        s.id: estimates.moving_average(s.average_handle_minutes * 60.0, samples.get(s.id, []))
        for s in services
    }


def candidates(rows: Sequence[Any], now: datetime) -> list[Candidate]:
    """Queue heads as policy candidates; appointments carry their booked slot."""
    return [
        Candidate(
            ticket_id=r.id,
            service_id=r.service_id,
            priority=PriorityClass(r.priority),
            queued_at=_aware(r.queued_at, now),
            target_window_id=r.target_window_id,
            slot_start=_aware(r.slot_starts_at, now) if r.slot_starts_at else None,
            slot_end=_aware(r.slot_ends_at, now) if r.slot_ends_at else None,
        )
        for r in rows
    ]


def _aware(value: datetime, now: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


@dataclass(frozen=True)
class WaitBoard:
    """A snapshot of the hall for wait estimates."""

    windows: list[estimates.WindowLoad]
    waiting: dict[int, int]
    waiting_by_class: dict[int, dict[str, int]]
    handle: dict[int, float]

    def estimate(self, service_id: int, ahead: int) -> float | None:
        return estimates.estimate_wait_seconds(
            service_id=service_id,
            ahead=ahead,
            windows=self.windows,
            waiting=self.waiting,
            handle=self.handle,
        )

    def new_ticket_position(self, service_id: int) -> int:
        """Where a normal ticket issued now would stand (every waiting ticket is ahead)."""
        return self.waiting.get(service_id, 0)


async def wait_board(
    session: AsyncSession,
    hall: Hall,
    now: datetime,
    active_services: Sequence[Service] | None = None,
) -> WaitBoard:
    services = active_services
    if services is None:
        services = await halls_repo.services_of(session, hall.id, active_only=True)
    handle = await handle_averages(session, hall, now, services)
    serving = await repository.serving_windows(session, hall.id)
    links = await repository.links_of_windows(session, [w.id for w in serving])
    loads = []
    for window in serving:
        current_service, called_at = window.service_id, window.called_at
        free_in, average, elapsed = 0.0, None, 0.0
        if window.current_ticket_id is not None and called_at is not None:
            average = handle.get(current_service, 8 * 60.0)
            elapsed = (now - _aware(called_at, now)).total_seconds()
            free_in = estimates.expected_remaining(average, elapsed)
        window_links = links.get(window.id, {})
        loads.append(estimates.WindowLoad(window.id, window_links, free_in, average, elapsed))
    by_class = await repository.waiting_by_class(session, hall.id)
    waiting = {s: sum(c.values()) for s, c in by_class.items()}
    return WaitBoard(loads, waiting, by_class, handle)


@dataclass(frozen=True)
class TicketWait:
    ahead: int
    seconds: float | None

    @property
    def minutes(self) -> int | None:
        return estimates.wait_minutes(self.seconds)

    @property
    def text(self) -> str:
        return estimates.wait_text(self.ahead, self.minutes)


async def ticket_wait(
    session: AsyncSession, hall: Hall, ticket: Ticket, now: datetime
) -> TicketWait:
    ahead = await tickets.ahead(session, ticket)
    board = await wait_board(session, hall, now)
    return TicketWait(ahead, board.estimate(ticket.service_id, ahead))


# -- tidal windows (潮汐窗口) ---------------------------------------------------


async def evaluate_tidal(
    session: AsyncSession,
    hall: Hall,
    now: datetime,
    board: WaitBoard | None = None,
    active_services: Sequence[Service] | None = None,
) -> list[TidalChange]:
    """Run the hall's tidal rules; apply (auto) or recommend changes, log them, stage events."""
    spec = tidal_of(hall)
    if spec.mode is TidalMode.OFF or not spec.rules:
        return []
    if active_services is None:
        active_services = await halls_repo.services_of(session, hall.id, active_only=True)
    services = {s.code: s for s in active_services}
    states = await repository.tidal_states(session, hall.id)
    board = board or await wait_board(session, hall, now, active_services)
    changes: list[TidalChange] = []
    for rule_spec in spec.rules:
        service = services.get(rule_spec.service)
        if service is None:
            continue
        rule = rule_spec.rule(service.id)
        row = states.get(service.id)
        state = TidalState(row.active, row.calm_since) if row else TidalState()
        waiting = board.waiting.get(service.id, 0)
        seconds = board.estimate(service.id, board.new_ticket_position(service.id))
        wait_min = None if seconds is None else seconds / 60.0
        decision = decide(rule, state, waiting=waiting, wait_minutes=wait_min, now=now)
        if row is None:
            row = TidalServiceState(hall_id=hall.id, service_id=service.id, active=False)
            session.add(row)
        row.active, row.calm_since = decision.state.active, decision.state.calm_since
        if decision.action is None:
            continue
        row.changed_at = now
        windows = await _apply(session, hall, spec, service, decision.action)
        change = TidalChange(
            hall_id=hall.id,
            service_id=service.id,
            at=now,
            mode=spec.mode.value,
            action=decision.action.value,
            windows=windows,
            reason=decision.reason,
            waiting=waiting,
            wait_minutes=None if wait_min is None else round(wait_min, 1),
        )
        session.add(change)
        changes.append(change)
        event = "tidal.changed" if spec.mode is TidalMode.AUTO else "tidal.recommended"
        outbox.stage(
            session,
            hall.id,
            event,
            {
                "service": service.code,
                "service_name": service.name,
                "action": decision.action.value,
                "windows": windows,
                "reason": decision.reason,
                "waiting": waiting,
                "estimated_wait_minutes": estimates.wait_minutes(seconds),
            },
        )
    await session.flush()
    return changes


async def _apply(
    session: AsyncSession, hall: Hall, spec: TidalSpec, service: Service, action: TidalAction
) -> list[int]:
    """Auto mode: add or remove the service at the tidal windows. Returns window numbers."""
    windows = await repository.windows_by_number(session, hall.id, spec.windows)
    if spec.mode is TidalMode.RECOMMEND:
        return sorted(w.number for w in windows)
    if action is TidalAction.OPEN:
        served = await repository.served_pairs(session, [w.id for w in windows])
        added = [w for w in windows if (w.id, service.id) not in served]
        for window in added:
            session.add(
                WindowService(
                    window_id=window.id,
                    service_id=service.id,
                    weight=spec.weight,
                    role=Role.TIDAL.value,
                )
            )
        return sorted(w.number for w in added)
    tidal_windows = await repository.tidal_windows_of(session, hall.id, service.id)
    await repository.remove_tidal_links(session, [w.id for w in tidal_windows], service.id)
    return [w.number for w in tidal_windows]


# How long a reading of the hall serves the estimates of newly issued tickets.
BOARD_REUSE_SECONDS = 1.0


@dataclass(frozen=True)
class _RecentBoard:
    board: WaitBoard
    stamp: int
    read_at: float

    def fresh(self, stamp: int) -> bool:
        return stamp == self.stamp and time.monotonic() - self.read_at < BOARD_REUSE_SECONDS


_recent_boards: LoopLocal[int, _RecentBoard] = LoopLocal()


def tidal_watches(hall: Hall, services: Iterable[Service]) -> bool:
    """Whether a tidal rule of the hall watches any of these services."""
    spec = tidal_of(hall)
    codes = {s.code for s in services}
    return spec.mode is not TidalMode.OFF and any(r.service in codes for r in spec.rules)


def remember_board(hall_id: int, board: WaitBoard) -> None:
    """Keep a reading of the hall taken at the latest change, for the next issues' estimates."""
    _recent_boards.get()[hall_id] = _RecentBoard(board, change_stamp(hall_id), time.monotonic())


async def wait_after_issue(
    session: AsyncSession, hall: Hall, service: Service, now: datetime, ahead: int
) -> TicketWait:
    """A newly issued ticket's wait estimate; ``ahead`` was counted as it was issued.

    Reads only. A busy kiosk bank reuses a reading of the hall taken within the
    second if only new tickets came since: the place (ahead) is exact either way.
    """
    reuse = _recent_boards.get().get(hall.id)
    if reuse is not None and reuse.fresh(change_stamp(hall.id)):
        return TicketWait(ahead, reuse.board.estimate(service.id, ahead))
    board = await wait_board(session, hall, now)
    remember_board(hall.id, board)
    return TicketWait(ahead, board.estimate(service.id, ahead))
