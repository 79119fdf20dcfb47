"""Replay of a past day (docs/statistics.md, "Replay"): the day's real citizens (their
queue times, services, priority classes and handling times) run through the simulator
with the day's real windows, and again with a what-if (another calling policy, windows
that helped another service, a window more or less), beside what really happened.

Pure: the day's rows in, figures out; the hall's windows are given. Refusals of a bad
what-if carry stable problem codes.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from services.engine.core.errors import ValidationFailed
from services.engine.statistics import measures
from services.engine.statistics.advice_check import (
    HallSetup,
    Span,
    WaitFigures,
    figures,
    local_minutes,
    merge,
    span_text,
)
from services.engine.statistics.reports import LogRow, TicketRow, queue_start
from services.engine.tickets.states import PriorityClass
from services.simulator.model import DayResult, SimTicket, Simulation
from services.simulator.scenario import DaySpec, Scenario, ServiceSpec, WindowSpec

# The hall's calling policies and the simulator's names for them.
POLICIES = {"balanced": "balanced", "fifo": "pooled-fifo", "dedicated": "dedicated"}
MAX_WEIGHT = 10.0


class ReplayRefused(ValidationFailed):
    code = "replay_invalid"
    title = "The what-if cannot be replayed"


class UnknownService(ReplayRefused):
    code = "replay_unknown_service"
    title = "A window names a service the hall does not have"


class UnknownWindow(ReplayRefused):
    code = "replay_unknown_window"
    title = "The hall has no such window to close"


class WindowRepeated(ReplayRefused):
    code = "replay_window_repeated"
    title = "The same window is changed twice"


class HoursInvalid(ReplayRefused):
    code = "replay_hours_invalid"
    title = "Open hours must look like 08:30-12:00, in order, without overlaps"


class NewWindowNeedsServices(ReplayRefused):
    code = "replay_window_without_services"
    title = "A new window needs the services it serves"


class ServiceUnserved(ReplayRefused):
    code = "replay_service_unserved"
    title = "After the change no window serves a service that had citizens that day"


class NothingToReplay(ReplayRefused):
    code = "replay_empty_day"
    title = "No ticket was called on that day"


@dataclass(frozen=True)
class WindowChange:
    """One window in the what-if: a window of the hall changed, or a new one."""

    number: int
    primary: Mapping[str, float] | None = None  # its own services (None: as it is)
    secondary: Mapping[str, float] | None = None  # the services it helps (None: as it is)
    add_primary: Mapping[str, float] = field(default_factory=dict)  # own services added
    add_secondary: Mapping[str, float] = field(default_factory=dict)  # helped services added
    open_hours: Sequence[str] | None = None  # None: as that day (a new window: all day)
    closed: bool = False  # not open that day at all


@dataclass(frozen=True)
class WhatIf:
    policy: str | None = None  # None: the hall's own
    windows: Sequence[WindowChange] = ()
    handling: str = "actual"  # "actual": each case's own; "drawn": from the day's cases
    seeds: int = 1  # runs when handling is drawn


@dataclass(frozen=True)
class WindowDay:
    number: int
    name: str
    primary: dict[str, float]
    secondary: dict[str, float]
    spans: list[Span]  # minutes since local midnight when it called
    changed: bool = False


@dataclass(frozen=True)
class Run:
    figures: WaitFigures
    services: dict[str, WaitFigures]
    windows: list[WindowDay]
    policy: str
    seeds: list[int]


@dataclass(frozen=True)
class Replay:
    day: date
    tickets: int  # citizens replayed (called that day)
    left_out: dict[str, int]  # not called that day, by status: not replayed
    real: Run  # what happened (the statistics' waits)
    same: Run  # the simulator with that day's windows and the hall's policy
    what_if: Run  # the simulator with the changes
    no_show_minutes: float
    notes: list[str] = field(default_factory=list)


# --- the day's windows --------------------------------------------------------------------


def window_spans(
    log: Sequence[LogRow],
    rows: Sequence[TicketRow],
    day_start: datetime,
    day_end: datetime,
    tz: ZoneInfo,
) -> dict[int, list[Span]]:
    """When each window called on the day: open (or resume) to pause (or close), from the
    window log; a window with no log but cases that day, from its first call to its last
    finish. Minutes since local midnight (start rounded down, end up)."""
    out: dict[int, list[Span]] = defaultdict(list)
    since: dict[int, datetime | None] = {}
    for e in sorted(log, key=lambda e: e.at):
        at = min(max(e.at, day_start), day_end)
        if e.action in ("open", "resume"):
            if since.get(e.window) is None:
                since[e.window] = at
        elif e.action in ("pause", "close"):
            begun = since.get(e.window)
            if begun is not None and at > begun:
                out[e.window].append(_minutes(begun, at, tz))
            since[e.window] = None
    for window, begun in since.items():
        if begun is not None and begun < day_end:
            out[window].append(_minutes(begun, day_end, tz))
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    for r in rows:
        if r.window is None or r.served_call_at is None:
            continue
        first[r.window] = min(first.get(r.window, r.served_call_at), r.served_call_at)
        end = r.closed_at or r.finished_at or r.served_call_at
        last[r.window] = max(last.get(r.window, end), end)
    for window, begun in first.items():
        if not out.get(window):
            out[window].append(_minutes(begun, last[window], tz))
    return {w: merge(s) for w, s in out.items() if s}


def _minutes(a: datetime, b: datetime, tz: ZoneInfo) -> Span:
    start = math.floor(local_minutes(a, tz))
    end = min(24 * 60, max(start + 1, math.ceil(local_minutes(b, tz))))
    return (start, end)


def _parse_hours(texts: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    for text in texts:
        start, sep, end = text.partition("-")
        try:
            if not sep:
                raise ValueError
            a, b = _clock(start), _clock(end)
        except ValueError:
            raise HoursInvalid(f"open hours {text!r} must look like 08:30-12:00") from None
        if a >= b:
            raise HoursInvalid(f"open hours {text!r} end before they begin")
        spans.append((a, b))
    spans.sort()
    for (_, ends), (begins, _) in pairwise(spans):
        if begins < ends:
            raise HoursInvalid("open hours overlap")
    return spans


def _clock(text: str) -> int:
    hh, sep, mm = text.strip().partition(":")
    if not sep or not (hh.isdigit() and mm.isdigit()) or len(mm) != 2:
        raise ValueError(text)
    h, m = int(hh), int(mm)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(text)
    return h * 60 + m


def apply_changes(
    windows: Sequence[WindowDay],
    changes: Sequence[WindowChange],
    services: Sequence[str],
    day_hours: Sequence[Span],
) -> list[WindowDay]:
    """The day's windows with the what-if's changes; refused with a clear code."""
    known = set(services)
    seen: set[int] = set()
    by_number = {w.number: w for w in windows}
    out = dict(by_number)
    for change in changes:
        if change.number in seen:
            raise WindowRepeated(f"window {change.number} is changed twice")
        seen.add(change.number)
        named = [
            change.primary or {},
            change.secondary or {},
            change.add_primary,
            change.add_secondary,
        ]
        for code in [c for group in named for c in group]:
            if code not in known:
                raise UnknownService(f"window {change.number}: the hall has no service {code!r}")
        for weight in [w for group in named for w in group.values()]:
            if not (0 < weight <= MAX_WEIGHT):
                raise ReplayRefused(f"window {change.number}: weights are above 0, at most 10")
        both = set(change.primary or {}) | set(change.add_primary)
        both &= set(change.secondary or {}) | set(change.add_secondary)
        if both:
            raise ReplayRefused(
                f"window {change.number}: {sorted(both)} both its own and helped; choose one"
            )
        spans = _parse_hours(change.open_hours) if change.open_hours is not None else None
        before = by_number.get(change.number)
        if before is None:
            if change.closed:
                raise UnknownWindow(f"the hall has no window {change.number} to close")
            own = {**(change.primary or {}), **change.add_primary}
            helps = {**(change.secondary or {}), **change.add_secondary}
            if not own and not helps:
                raise NewWindowNeedsServices(f"new window {change.number}: give its services")
            out[change.number] = WindowDay(
                change.number,
                f"{change.number}号窗口(新增)",
                own,
                helps,
                spans if spans is not None else list(day_hours),
                changed=True,
            )
            continue
        primary = dict(change.primary) if change.primary is not None else dict(before.primary)
        secondary = (
            dict(change.secondary) if change.secondary is not None else dict(before.secondary)
        )
        # A service named as its own now is no longer only helped, and the other way.
        if change.primary is not None and change.secondary is None:
            secondary = {c: w for c, w in secondary.items() if c not in primary}
        if change.secondary is not None and change.primary is None:
            primary = {c: w for c, w in primary.items() if c not in secondary}
        # Added: a service becomes its own (no longer only helped), or helped.
        for code, weight in change.add_primary.items():
            secondary.pop(code, None)
            primary[code] = weight
        for code, weight in change.add_secondary.items():
            if code not in primary:
                secondary[code] = weight
        out[change.number] = WindowDay(
            before.number,
            before.name,
            primary,
            secondary,
            [] if change.closed else (spans if spans is not None else list(before.spans)),
            changed=True,
        )
    return [out[n] for n in sorted(out)]


# --- the day's citizens -------------------------------------------------------------------


def _handling(row: TicketRow) -> float | None:
    if row.status == "done":
        return measures.handling_seconds(
            row.called_at, row.started_at, row.finished_at, row.held_seconds
        )
    if row.closed_at is not None and row.served_call_at is not None:
        begun = row.started_at or row.served_call_at
        return max(0.0, (row.closed_at - begun).total_seconds() - row.held_seconds)
    return None


def replay(
    rows: Sequence[TicketRow],
    by_id: Mapping[int, TicketRow],
    log: Sequence[LogRow],
    *,
    day: date,
    day_start: datetime,
    day_end: datetime,
    tz: ZoneInfo,
    setup: HallSetup,
    hall_policy: str,
    slots: Mapping[int, tuple[datetime | None, datetime | None]],
    what_if: WhatIf,
) -> Replay:
    """Replay one day as it was and with the what-if; compare both with what happened."""
    if what_if.policy is not None and what_if.policy not in POLICIES:
        raise ReplayRefused(f"policy must be one of {', '.join(POLICIES)}")
    targets = {s.code: s.target_seconds for s in setup.services}
    names = {s.code: s.name for s in setup.services}
    replayed = [r for r in rows if r.served_call_at is not None]
    left_out: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.served_call_at is None:
            left_out[r.status] += 1
    if not replayed:
        raise NothingToReplay(f"no ticket was called on {day}: nothing to replay")
    # The real waits, by the statistics' definition.
    real_pairs: dict[str, list[tuple[float | None, float]]] = defaultdict(list)
    for r in replayed:
        wait = measures.wait_seconds(queue_start(r, by_id), r.served_call_at)
        real_pairs[r.service].append((wait, r.target_seconds))
    # Handling per case; for a case without one, its service's mean that day.
    handles: dict[int, float] = {}
    by_service: dict[str, list[float]] = defaultdict(list)
    for r in replayed:
        h = _handling(r)
        if h is not None and r.status != "no_show":
            handles[r.id] = h
            by_service[r.service].append(h)
    lost = [
        (r.closed_at - r.served_call_at).total_seconds()
        for r in replayed
        if r.status == "no_show" and r.closed_at is not None and r.served_call_at is not None
    ]
    no_show_minutes = statistics.median(lost) / 60 if lost else 1.5
    codes = sorted({s.code for s in setup.services} | {r.service for r in replayed})
    spans = window_spans(log, rows, day_start, day_end, tz)
    windows = [
        WindowDay(w.number, w.name, dict(w.primary), dict(w.secondary), spans.get(w.number, []))
        for w in setup.windows
    ]
    # Windows that served that day but are no longer active keep their day's cases' services.
    for number, s in spans.items():
        if number not in {w.number for w in windows}:
            own = sorted({r.service for r in replayed if r.window == number})
            windows.append(WindowDay(number, f"{number}号窗口", dict.fromkeys(own, 1.0), {}, s))
    windows.sort(key=lambda w: w.number)
    day_hours = merge(s for w in windows for s in w.spans) or [(9 * 60, 17 * 60)]
    changed = apply_changes(windows, what_if.windows, codes, day_hours)
    present = {r.service for r in replayed}
    for code in sorted(present):
        if not any(code in {*w.primary, *w.secondary} and w.spans for w in changed):
            raise ServiceUnserved(
                f"after the change no window open that day serves {names.get(code, code)}"
                f" ({code}), which had citizens"
            )
    policy = what_if.policy or hall_policy
    notes = []
    if what_if.handling == "drawn":
        notes.append("handling times drawn from the day's own cases of each service")
    seeds = list(range(1, max(1, what_if.seeds) + 1)) if what_if.handling == "drawn" else [0]

    def run(window_days: list[WindowDay], policy_name: str) -> Run:
        days = [
            _simulate(
                replayed,
                by_id,
                window_days,
                policy_name,
                seed,
                tz=tz,
                codes=codes,
                slots=slots,
                handles=handles,
                by_service=by_service,
                drawn=what_if.handling == "drawn",
                setup=setup,
                no_show_minutes=no_show_minutes,
            )
            for seed in seeds
        ]
        return _measure(days, window_days, policy_name, seeds, codes, targets)

    real = Run(
        figures(
            [p for ps in real_pairs.values() for p in ps],
            sum(len(p) for p in real_pairs.values()),
            0.8,
        ),
        {c: figures(p, len(p), 0.8) for c, p in sorted(real_pairs.items())},
        windows,
        hall_policy,
        [],
    )
    return Replay(
        day=day,
        tickets=len(replayed),
        left_out=dict(left_out),
        real=real,
        same=run(windows, hall_policy),
        what_if=run(changed, policy),
        no_show_minutes=no_show_minutes,
        notes=notes,
    )


def _simulate(
    replayed: Sequence[TicketRow],
    by_id: Mapping[int, TicketRow],
    windows: Sequence[WindowDay],
    policy_name: str,
    seed: int,
    *,
    tz: ZoneInfo,
    codes: Sequence[str],
    slots: Mapping[int, tuple[datetime | None, datetime | None]],
    handles: Mapping[int, float],
    by_service: Mapping[str, Sequence[float]],
    drawn: bool,
    setup: HallSetup,
    no_show_minutes: float,
) -> DayResult:
    safe = {code: f"s{i + 1}" for i, code in enumerate(codes)}
    ids = {code: i + 1 for i, code in enumerate(codes)}
    rng = random.Random(f"replay-{seed}")
    defaults = {s.code: s.default_handle_seconds for s in setup.services}
    tickets = []
    for r in sorted(replayed, key=lambda r: (queue_start(r, by_id), r.id)):
        pool = by_service.get(r.service) or [defaults.get(r.service, 480.0)]
        handle = rng.choice(pool) if drawn else handles.get(r.id, statistics.fmean(pool))
        slot_start, slot_end = slots.get(r.id, (None, None))
        tickets.append(
            SimTicket(
                r.id,
                ids[r.service],
                PriorityClass(r.priority),
                local_minutes(queue_start(r, by_id), tz) * 60,
                max(handle, 1.0),
                r.status == "no_show",
                None if slot_start is None else local_minutes(slot_start, tz) * 60,
                None if slot_end is None else local_minutes(slot_end, tz) * 60,
            )
        )
    first = min(t.arrival for t in tickets) / 60
    opens = [a for w in windows for a, _ in w.spans]
    closes = [b for w in windows for _, b in w.spans]
    open_min = max(0, math.floor(min([first, *opens])))
    close_min = min(24 * 60 - 1, max([open_min + 1, *closes]))
    hours = math.ceil((close_min - open_min) / 60)
    targets = {s.code: s.target_seconds for s in setup.services}
    services = [
        ServiceSpec(
            code=safe[c],
            name=c,
            share=1 / len(codes),
            handle_minutes=max(statistics.fmean(by_service.get(c) or [defaults.get(c, 480.0)]), 1.0)
            / 60,
            target_wait_minutes=targets.get(c, 1200.0) / 60,
        )
        for c in codes
    ]
    specs = [
        WindowSpec(
            number=w.number,
            name=w.name,
            services={safe[c]: v for c, v in w.primary.items() if c in safe},
            secondary={safe[c]: v for c, v in w.secondary.items() if c in safe},
            open_hours=[span_text(s) for s in w.spans],
        )
        for w in windows
    ]
    day = DaySpec(
        name="replay",
        open=f"{open_min // 60:02d}:{open_min % 60:02d}",
        close=f"{close_min // 60:02d}:{close_min % 60:02d}",
        visitors=len(tickets),
        hourly=[1.0] * max(1, hours),
        interleave=setup.interleave,
        no_show_minutes=no_show_minutes,
    )
    scenario = Scenario.model_construct(scenario=day, services=services, windows=specs, tidal=None)
    return Simulation(scenario, POLICIES.get(policy_name, policy_name), seed, tickets=tickets).run()


def _measure(
    days: Sequence[DayResult],
    windows: list[WindowDay],
    policy: str,
    seeds: list[int],
    codes: Sequence[str],
    targets: Mapping[str, float],
) -> Run:
    per: dict[str, list[tuple[float | None, float]]] = defaultdict(list)
    for d in days:
        for t in d.tickets:
            code = codes[t.service_id - 1]
            per[code].append((t.wait, targets.get(code, 1200.0)))
    everything = [p for ps in per.values() for p in ps]
    return Run(
        figures(everything, len(everything), 0.8),
        {c: figures(p, len(p), 0.8) for c, p in sorted(per.items())},
        windows,
        policy,
        seeds,
    )
