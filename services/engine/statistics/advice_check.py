"""The staffing advice checked by the day simulator (docs/statistics.md, "Advice checked by
the simulator").

Erlang C takes each service on its own; a hall shares windows across services, calls
green, favoured and normal tickets in turn, and loses time on no-shows. So the advice is
checked by the simulator (``services.simulator``, which runs the engine's own calling
policy): from the history of a period this module learns what the simulator needs
(arrival rates per service, weekday and quarter hour; handling times per service, as a
lognormal of the same mean and spread; the no-show rate and the time a no-show costs;
the share of green, favoured and appointment tickets), builds a scenario of the hall's
real windows and services, and runs it over several seeds with (a) today's windows and
(b) the windows the advice proposes, each open in the hours it is needed.

Pure: rows in, figures out (no I/O, no database, no clock); the hall's windows and hours
are given.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.engine.statistics import measures
from services.engine.statistics.reports import MIN_CASES_FOR_HANDLE, TicketRow
from services.engine.tickets.states import PriorityClass
from services.simulator.model import DayResult, simulate_day
from services.simulator.scenario import DaySpec, Scenario, ServiceSpec, WindowSpec

QUARTER = 15  # minutes: the history's arrival profile is kept per quarter hour
QUARTERS = 24 * 60 // QUARTER
DEFAULT_NO_SHOW_MINUTES = 1.5
DEFAULT_CV = 0.5  # the spread of handling times when the history has too few cases
DEFAULT_SEEDS = 5
MAX_SEEDS = 20
Span = tuple[int, int]  # minutes since local midnight, [start, end)


# --- the hall as it is today -------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSetup:
    code: str
    name: str
    target_seconds: float
    default_handle_seconds: float  # the hall file's average_handle_minutes


@dataclass(frozen=True)
class WindowSetup:
    number: int
    name: str
    primary: Mapping[str, float]  # service code -> weight (its own work)
    secondary: Mapping[str, float] = field(default_factory=dict)  # work it helps with


@dataclass(frozen=True)
class HallSetup:
    services: Sequence[ServiceSetup]
    windows: Sequence[WindowSetup]  # the active windows with today's services
    sessions: Mapping[int, tuple[Span, ...]]  # opening sessions per weekday (0 = Monday)
    interleave: str = "2:1"


# --- what the history teaches ------------------------------------------------------------


@dataclass(frozen=True)
class HandleFit:
    """Handling times of a service's finished cases (a lognormal of this mean and cv)."""

    cases: int
    mean_seconds: float
    cv: float
    median_seconds: float | None
    p90_seconds: float | None
    from_history: bool  # False: too few cases, the hall file's mean and a cv of 0.5


@dataclass(frozen=True)
class ServiceHistory:
    service: str
    tickets: int  # arrivals (a transfer's continuation is not one)
    handle: HandleFit
    no_show_rate: float | None
    # Arrivals per day in each quarter hour, per weekday (0 = Monday), averaged over the
    # period's days of that weekday.
    quarters: Mapping[int, Sequence[float]]


@dataclass(frozen=True)
class History:
    first: date
    last: date
    days_of_weekday: Mapping[int, int]  # how many Mondays, ... the period holds
    tickets: int
    services: Mapping[str, ServiceHistory]
    green_share: float
    priority_share: float
    appointment_share: float
    no_show_share: float
    no_show_minutes: float  # window time a no-show costs (call to 过号), median

    @property
    def weekdays(self) -> int:
        return sum(self.days_of_weekday.get(d, 0) for d in range(5))

    def per_day(self, service: str, weekday: int | None) -> list[float]:
        """Arrivals per quarter hour on a day: one weekday, or a typical Monday-Friday."""
        quarters = self.services[service].quarters
        if weekday is not None:
            return list(quarters.get(weekday, [0.0] * QUARTERS))
        days = self.weekdays
        if days == 0:
            return [0.0] * QUARTERS
        return [
            sum(
                quarters.get(d, [0.0] * QUARTERS)[q] * self.days_of_weekday.get(d, 0)
                for d in range(5)
            )
            / days
            for q in range(QUARTERS)
        ]

    def per_hour(self, service: str, weekday: int | None) -> dict[int, float]:
        """Arrivals per clock hour (the advice's grid)."""
        day = self.per_day(service, weekday)
        per_hour = QUARTERS // 24
        hours = {h: sum(day[h * per_hour : (h + 1) * per_hour]) for h in range(24)}
        return {h: v for h, v in hours.items() if v > 0}


def _days_of_weekday(first: date, last: date) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for i in range((last - first).days + 1):
        out[(first + timedelta(days=i)).weekday()] += 1
    return dict(out)


def fit_handle(seconds: Sequence[float], default_seconds: float) -> HandleFit:
    if len(seconds) < MIN_CASES_FOR_HANDLE:
        return HandleFit(len(seconds), default_seconds, DEFAULT_CV, None, None, False)
    mean = statistics.fmean(seconds)
    cv = statistics.pstdev(seconds) / mean if mean > 0 else 0.0
    return HandleFit(
        len(seconds),
        mean,
        min(cv, 3.0),
        measures.percentile(seconds, 50),
        measures.percentile(seconds, 90),
        True,
    )


def learn(
    rows: Iterable[TicketRow],
    *,
    first: date,
    last: date,
    tz: ZoneInfo,
    default_handle: Mapping[str, float],
) -> History:
    """What the simulator needs from a period's tickets (the statistics' definitions)."""
    counts: dict[str, dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0] * QUARTERS)
    )
    handled: dict[str, list[float]] = defaultdict(list)
    called: dict[str, int] = defaultdict(int)
    no_shows: dict[str, int] = defaultdict(int)
    tickets: dict[str, int] = defaultdict(int)
    classes: dict[str, int] = defaultdict(int)
    lost: list[float] = []
    for r in rows:
        if r.transferred_from is not None:
            continue
        tickets[r.service] += 1
        classes[r.priority] += 1
        local = r.issued_at.astimezone(tz)
        counts[r.service][local.weekday()][(local.hour * 60 + local.minute) // QUARTER] += 1
        if r.served_call_at is not None:
            called[r.service] += 1
        if r.status == "done":
            h = measures.handling_seconds(r.called_at, r.started_at, r.finished_at, r.held_seconds)
            if h is not None:
                handled[r.service].append(h)
        elif r.status == "no_show":
            no_shows[r.service] += 1
            if r.served_call_at is not None and r.closed_at is not None:
                lost.append(max(0.0, (r.closed_at - r.served_call_at).total_seconds()))
    days = _days_of_weekday(first, last)
    total = sum(tickets.values())
    services = {
        code: ServiceHistory(
            service=code,
            tickets=tickets.get(code, 0),
            handle=fit_handle(handled.get(code, []), default_handle.get(code, 480.0)),
            no_show_rate=no_shows[code] / called[code] if called.get(code) else None,
            quarters={
                d: [c / days[d] for c in per]
                for d, per in counts.get(code, {}).items()
                if days.get(d)
            },
        )
        for code in sorted(set(tickets) | set(default_handle))
    }
    all_called = sum(called.values())
    return History(
        first=first,
        last=last,
        days_of_weekday=days,
        tickets=total,
        services=services,
        green_share=classes.get(PriorityClass.GREEN.value, 0) / total if total else 0.0,
        priority_share=classes.get(PriorityClass.PRIORITY.value, 0) / total if total else 0.0,
        appointment_share=classes.get(PriorityClass.APPOINTMENT.value, 0) / total if total else 0.0,
        no_show_share=sum(no_shows.values()) / all_called if all_called else 0.0,
        no_show_minutes=(statistics.median(lost) / 60) if lost else DEFAULT_NO_SHOW_MINUTES,
    )


# --- the advice (Erlang C per service and clock hour) ------------------------------------


@dataclass(frozen=True)
class HourNeed:
    hour: int
    arrivals: float
    windows: int
    service_level: float


def erlang_advice(
    history: History,
    setup: HallSetup,
    *,
    weekday: int | None,
    service_level: float,
    max_occupancy: float,
) -> dict[str, list[HourNeed]]:
    """Windows per service and clock hour, as ``reports.advice`` counts them (Erlang C)."""
    targets = {s.code: s.target_seconds for s in setup.services}
    out: dict[str, list[HourNeed]] = {}
    for code, h in history.services.items():
        needs = []
        for hour, arrivals in sorted(history.per_hour(code, weekday).items()):
            staffed = measures.staffing(
                arrivals=arrivals,
                interval_seconds=3600,
                handling_seconds=max(h.handle.mean_seconds, 1.0),
                target_seconds=targets.get(code, 1200.0),
                service_level=service_level,
                max_occupancy=max_occupancy,
            )
            needs.append(HourNeed(hour, arrivals, staffed.raw, staffed.service_level))
        if needs:
            out[code] = needs
    return out


# --- history -> scenario ------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    minute = min(minute, 24 * 60 - 1)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def span_text(span: Span) -> str:
    return f"{_hhmm(span[0])}-{'24:00' if span[1] >= 24 * 60 else _hhmm(span[1])}"


def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    return merge(
        (max(x[0], y[0]), min(x[1], y[1]))
        for x in a
        for y in b
        if max(x[0], y[0]) < min(x[1], y[1])
    )


@dataclass(frozen=True)
class Staffing:
    """A set of windows to simulate: today's, or the advice's."""

    name: str  # "today" | "advice"
    windows: list[WindowSpec]
    window_hours: float  # the windows' open hours added up


def sessions_for(history: History, setup: HallSetup, weekday: int | None) -> tuple[Span, ...]:
    """The hall's sessions on that weekday (a typical weekday: Monday's, or the first
    weekday that has any); without any, the hours the history shows arrivals in."""
    days = [weekday] if weekday is not None else list(range(5))
    for d in days:
        if setup.sessions.get(d):
            return tuple(merge(setup.sessions[d]))
    busy = [
        q
        for code in history.services
        for q, v in enumerate(history.per_day(code, weekday))
        if v > 0
    ]
    if not busy:
        return ((9 * 60, 17 * 60),)
    start = min(busy) * QUARTER // 60 * 60
    end = min(24 * 60, math.ceil((max(busy) + 1) * QUARTER / 60) * 60)
    return ((start, end),)


@dataclass(frozen=True)
class Built:
    """A scenario and what was left out of it."""

    scenario: Scenario
    codes: dict[str, str]  # scenario code -> the hall's service code
    unserved: list[str]  # services with arrivals that no window serves: left out


def build_scenario(
    history: History,
    setup: HallSetup,
    staffing: Staffing,
    *,
    weekday: int | None,
    name: str = "hall",
) -> Built:
    """A simulator scenario of the hall's day: the learned arrivals, handling times,
    classes and no-shows, served by ``staffing``'s windows."""
    sessions = sessions_for(history, setup, weekday)
    open_min, close_min = sessions[0][0], min(sessions[-1][1], 24 * 60 - 1)
    # Quarter-hour steps from the opening: no arrivals in the lunch break, as in the hall.
    hours = math.ceil((close_min - open_min) / QUARTER - 1e-9)
    bins = [
        (open_min + QUARTER * k, min(open_min + QUARTER * (k + 1), close_min)) for k in range(hours)
    ]
    served = {c for w in staffing.windows for c in [*w.primary(), *w.secondaries()]}
    by_code = {s.code: s for s in setup.services}
    profiles: dict[str, list[float]] = {}
    unserved: list[str] = []
    for code in history.services:
        per_bin = _to_bins(history.per_day(code, weekday), bins)
        if sum(per_bin) <= 0:
            continue
        if code not in served:
            unserved.append(code)
            continue
        profiles[code] = per_bin
    safe = {code: f"s{i + 1}" for i, code in enumerate(sorted(profiles))}
    visitors = sum(sum(p) for p in profiles.values())
    services = []
    for code, per_bin in sorted(profiles.items()):
        h = history.services[code]
        info = by_code.get(code)
        services.append(
            ServiceSpec(
                code=safe[code],
                name=info.name if info else code,
                share=sum(per_bin) / visitors,
                handle_minutes=max(h.handle.mean_seconds, 1.0) / 60,
                handle_cv=h.handle.cv,
                target_wait_minutes=(info.target_seconds if info else 1200.0) / 60,
                # Arrivals per hour in each bin (the last may be short).
                hourly=[
                    n / max((b - a) / 60, 1e-9) for n, (a, b) in zip(per_bin, bins, strict=True)
                ],
            )
        )
    totals = [sum(p[k] for p in profiles.values()) for k in range(hours)]
    favoured = history.green_share + history.priority_share + history.appointment_share
    day = DaySpec(
        name=name,
        open=_hhmm(open_min),
        close=_hhmm(close_min),
        visitors=max(visitors, 1e-6),
        hourly=totals if sum(totals) > 0 else [1.0] * hours,
        green_share=history.green_share / max(favoured, 1.0),
        priority_share=history.priority_share / max(favoured, 1.0),
        appointment_share=history.appointment_share / max(favoured, 1.0),
        no_show_share=min(history.no_show_share, 1.0),
        no_show_minutes=history.no_show_minutes,
        interleave=setup.interleave,
        profile_minutes=QUARTER,
    )
    windows = []
    for w in staffing.windows:
        primary = {safe[c]: v for c, v in w.primary().items() if c in safe}
        secondary = {safe[c]: v for c, v in w.secondaries().items() if c in safe}
        if not primary and not secondary:
            continue
        windows.append(
            w.model_copy(update={"services": primary, "secondary": secondary, "own": None})
        )
    # Built directly: a hall's window may serve a service only as a helper (secondary),
    # which a scenario file must not do, and the shares are exact by construction.
    scenario = Scenario.model_construct(
        scenario=day, services=services, windows=windows, tidal=None
    )
    return Built(scenario, {v: k for k, v in safe.items()}, sorted(unserved))


def _to_bins(quarters: Sequence[float], bins: Sequence[Span]) -> list[float]:
    """Quarter-hour arrivals into the scenario's hour bins; arrivals before the opening
    count in the first bin, after the closing in the last."""
    out = [0.0] * len(bins)
    if not bins:
        return out
    for q, n in enumerate(quarters):
        if n <= 0:
            continue
        a, b = q * QUARTER, (q + 1) * QUARTER
        if b <= bins[0][0]:
            out[0] += n
            continue
        if a >= bins[-1][1]:
            out[-1] += n
            continue
        for k, (lo, hi) in enumerate(bins):
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                out[k] += n * overlap / QUARTER
        # The part of the quarter outside every bin (before the first, after the last).
        out[0] += n * max(0, min(b, bins[0][0]) - a) / QUARTER
        out[-1] += n * max(0, b - max(a, bins[-1][1])) / QUARTER
    return out


def today_staffing(setup: HallSetup, sessions: Sequence[Span]) -> Staffing:
    """The hall's active windows with today's services, open in the hall's sessions."""
    open_hours = [span_text(s) for s in sessions]
    windows = [
        WindowSpec(
            number=w.number,
            name=w.name,
            services=dict(w.primary),
            secondary=dict(w.secondary),
            open_hours=open_hours,
        )
        for w in setup.windows
        if w.primary or w.secondary
    ]
    hours = sum(b - a for a, b in sessions) / 60 * len(windows)
    return Staffing("today", windows, hours)


def advice_staffing(
    needs: Mapping[str, Sequence[HourNeed]],
    setup: HallSetup,
    sessions: Sequence[Span],
) -> Staffing:
    """The advice as windows: for each service, its k-th window is open in the clock
    hours that need at least k (Erlang C takes each service on its own, so each window
    serves one service), within the hall's sessions."""
    names = {s.code: s.name for s in setup.services}
    windows: list[WindowSpec] = []
    minutes = 0
    number = 0
    for code in sorted(needs):
        peak = max((n.windows for n in needs[code]), default=0)
        for k in range(1, peak + 1):
            hours = [(n.hour * 60, n.hour * 60 + 60) for n in needs[code] if n.windows >= k]
            spans = intersect(merge(hours), sessions) or merge(hours)
            number += 1
            minutes += sum(b - a for a, b in spans)
            windows.append(
                WindowSpec(
                    number=number,
                    name=f"{names.get(code, code)} {k}",
                    services={code: 1.0},
                    open_hours=[span_text(s) for s in spans],
                )
            )
    return Staffing("advice", windows, minutes / 60)


# --- running and measuring ----------------------------------------------------------------


@dataclass(frozen=True)
class WaitFigures:
    tickets: int  # simulated citizens (all seeds)
    called: int
    mean_seconds: float | None
    p90_seconds: float | None
    over_target: float | None  # share of waits over the service's target
    meets: bool | None  # over_target within 1 - service level


@dataclass(frozen=True)
class StaffingResult:
    name: str
    windows: int
    window_hours: float
    seeds: list[int]
    overall: WaitFigures
    services: dict[str, WaitFigures]
    utilisation: float | None  # busy time / open time over the windows
    unserved: list[str]


def figures(pairs: Sequence[tuple[float | None, float]], tickets: int, level: float) -> WaitFigures:
    """Wait figures from (wait or None, target) pairs."""
    waits = [(w, t) for w, t in pairs if w is not None]
    values = [w for w, _ in waits]
    over = sum(1 for w, t in waits if w > t) / len(waits) if waits else None
    return WaitFigures(
        tickets=tickets,
        called=len(waits),
        mean_seconds=statistics.fmean(values) if values else None,
        p90_seconds=measures.percentile(values, 90),
        over_target=over,
        meets=None if over is None else over <= 1 - level + 1e-9,
    )


def measure(
    days: Sequence[DayResult], built: Built, staffing: Staffing, level: float
) -> StaffingResult:
    ids = built.scenario.service_index()
    code_of = {sid: built.codes[c] for c, sid in ids.items()}
    targets = {ids[s.code]: s.target_wait_minutes * 60 for s in built.scenario.services}
    per: dict[str, list[tuple[float | None, float]]] = defaultdict(list)
    everything: list[tuple[float | None, float]] = []
    busy = opened = 0.0
    for day in days:
        for t in day.tickets:
            if t.no_show:
                continue
            pair = (t.wait, targets[t.service_id])
            per[code_of[t.service_id]].append(pair)
            everything.append(pair)
        for w in day.windows:
            busy += w.busy_seconds
            spans = w.spans or ((day.start, day.end),)
            opened += sum(b - a for a, b in spans)
    return StaffingResult(
        name=staffing.name,
        windows=len(staffing.windows),
        window_hours=staffing.window_hours,
        seeds=[d.seed for d in days],
        overall=figures(everything, len(everything), level),
        services={c: figures(p, len(p), level) for c, p in sorted(per.items())},
        utilisation=min(1.0, busy / opened) if opened > 0 else None,
        unserved=built.unserved,
    )


@dataclass(frozen=True)
class Check:
    history: History
    weekday: int | None
    sessions: tuple[Span, ...]
    needs: dict[str, list[HourNeed]]
    today: StaffingResult
    advice: StaffingResult


def check(
    history: History,
    setup: HallSetup,
    *,
    weekday: int | None = None,
    seeds: Sequence[int] = tuple(range(1, DEFAULT_SEEDS + 1)),
    service_level: float = 0.8,
    max_occupancy: float = 0.85,
    policy: str = "balanced",
) -> Check:
    """Run the learned day under ``policy`` with today's windows and with the advice's,
    over ``seeds`` (the same citizens for both on each seed)."""
    sessions = sessions_for(history, setup, weekday)
    needs = erlang_advice(
        history, setup, weekday=weekday, service_level=service_level, max_occupancy=max_occupancy
    )
    results = []
    for staffing in (today_staffing(setup, sessions), advice_staffing(needs, setup, sessions)):
        if not staffing.windows or not history.tickets:
            results.append(_empty(staffing, seeds, history, setup, weekday))
            continue
        built = build_scenario(history, setup, staffing, weekday=weekday)
        if not built.scenario.services or not built.scenario.windows:
            results.append(_empty(staffing, seeds, history, setup, weekday, built.unserved))
            continue
        days = [simulate_day(built.scenario, policy, seed) for seed in seeds]
        results.append(measure(days, built, staffing, service_level))
    return Check(history, weekday, sessions, needs, results[0], results[1])


def _empty(
    staffing: Staffing,
    seeds: Sequence[int],
    history: History,
    setup: HallSetup,
    weekday: int | None,
    unserved: list[str] | None = None,
) -> StaffingResult:
    missing = unserved
    if missing is None:
        missing = sorted(c for c in history.services if sum(history.per_day(c, weekday)) > 0)
    nothing = WaitFigures(0, 0, None, None, None, None)
    return StaffingResult(
        staffing.name,
        len(staffing.windows),
        staffing.window_hours,
        list(seeds),
        nothing,
        {},
        None,
        missing,
    )


def local_minutes(at: datetime, tz: ZoneInfo) -> float:
    """Minutes since the hall's local midnight."""
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
