"""What a simulated day measured: waits, balance across windows, estimate error."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from services.engine.tickets.ahead import effective_class
from services.engine.tickets.states import FAVOURED, PriorityClass
from services.simulator.model import DayResult, SimTicket, at


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(math.ceil(q / 100 * len(ordered)) - 1, 0)
    return ordered[index]


@dataclass(frozen=True)
class WaitStats:
    tickets: int
    mean: float
    p90: float
    max: float

    @staticmethod
    def of(minutes: Sequence[float]) -> WaitStats:
        return WaitStats(
            len(minutes),
            statistics.fmean(minutes) if minutes else 0.0,
            percentile(minutes, 90),
            max(minutes, default=0.0),
        )


@dataclass(frozen=True)
class ServiceStats:
    code: str
    name: str
    target_minutes: float
    wait: WaitStats
    # Longest wait / target wait.
    worst_ratio: float
    over_twice_target: int


@dataclass(frozen=True)
class WindowStats:
    number: int
    name: str
    served: int
    utilisation: float


@dataclass(frozen=True)
class Report:
    scenario: str
    policy: str
    seeds: list[int]
    tickets: int
    no_shows: int
    wait: WaitStats
    # Waits of the tickets called as favoured (priority groups, appointments in
    # their slot) and as green channel.
    favoured_wait: WaitStats
    green_wait: WaitStats
    services: list[ServiceStats]
    worst_ratio: float
    worst_service: str
    over_twice_target: int
    windows: list[WindowStats]
    utilisation_spread: float
    utilisation_cv: float
    estimate_mae: float
    estimate_bias: float
    # MAE relative to the mean wait.
    estimate_mae_ratio: float
    estimated_tickets: int
    last_finish: str
    tidal_changes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hhmm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def called_class(ticket: SimTicket) -> PriorityClass:
    """The class a served ticket competed in when it was called."""
    assert ticket.called is not None

    def moment(seconds: float | None) -> datetime | None:
        return None if seconds is None else at(seconds)

    return effective_class(
        ticket.priority,
        at(ticket.arrival),
        moment(ticket.slot_start),
        moment(ticket.slot_end),
        at(ticket.called),
    )


def build_report(days: Sequence[DayResult]) -> Report:
    """Pool the tickets of one or more days (one per seed) under one policy."""
    if not days:
        raise ValueError("no simulated day to report on")
    scenario = days[0].scenario
    ids = scenario.service_index()
    spec_by_id = {ids[s.code]: s for s in scenario.services}
    served: list[SimTicket] = [
        t for d in days for t in d.tickets if t.called is not None and not t.no_show
    ]
    no_shows = sum(1 for d in days for t in d.tickets if t.no_show)
    waits = [t.wait / 60 for t in served if t.wait is not None]
    classes = {t.id: called_class(t) for t in served}
    favoured = [t.wait / 60 for t in served if t.wait is not None and classes[t.id] in FAVOURED]
    green = [
        t.wait / 60 for t in served if t.wait is not None and classes[t.id] is PriorityClass.GREEN
    ]

    services: list[ServiceStats] = []
    worst_ratio, worst_service, over_total = 0.0, "", 0
    for sid, spec in spec_by_id.items():
        minutes = [t.wait / 60 for t in served if t.service_id == sid and t.wait is not None]
        stats = WaitStats.of(minutes)
        ratio = stats.max / spec.target_wait_minutes
        over = sum(1 for m in minutes if m > 2 * spec.target_wait_minutes)
        over_total += over
        services.append(
            ServiceStats(spec.code, spec.name, spec.target_wait_minutes, stats, ratio, over)
        )
        if ratio > worst_ratio:
            worst_ratio, worst_service = ratio, spec.code

    windows: list[WindowStats] = []
    numbers = [w.number for w in days[0].windows]
    for number in numbers:
        busy = served_n = 0.0
        staffed = 0.0
        name = ""
        for d in days:
            w = next(x for x in d.windows if x.number == number)
            busy += w.busy_seconds
            served_n += w.served
            staffed += d.end - d.start
            name = w.name
        windows.append(WindowStats(number, name, int(served_n), busy / staffed if staffed else 0.0))
    utils = [w.utilisation for w in windows]
    mean_util = statistics.fmean(utils)
    cv = statistics.pstdev(utils) / mean_util if mean_util > 0 else 0.0

    errors = [
        (t.estimate - t.wait) / 60 for t in served if t.estimate is not None and t.wait is not None
    ]
    mean_wait = statistics.fmean(waits) if waits else 0.0
    mae = statistics.fmean(abs(e) for e in errors) if errors else 0.0
    return Report(
        scenario=scenario.scenario.name,
        policy=days[0].policy,
        seeds=[d.seed for d in days],
        tickets=len(served),
        no_shows=no_shows,
        wait=WaitStats.of(waits),
        favoured_wait=WaitStats.of(favoured),
        green_wait=WaitStats.of(green),
        services=services,
        worst_ratio=worst_ratio,
        worst_service=worst_service,
        over_twice_target=over_total,
        windows=windows,
        utilisation_spread=max(utils) - min(utils),
        utilisation_cv=cv,
        estimate_mae=mae,
        estimate_bias=statistics.fmean(errors) if errors else 0.0,
        estimate_mae_ratio=mae / mean_wait if mean_wait > 0 else 0.0,
        estimated_tickets=len(errors),
        last_finish=_hhmm(max(d.end for d in days)),
        tidal_changes=sum(len(d.tidal_changes) for d in days),
    )


def format_report(report: Report) -> str:
    """A plain-text report for the terminal."""
    w = report.wait
    lines = [
        f"scenario {report.scenario} · policy {report.policy} · seeds {_seeds(report.seeds)}",
        f"tickets served {report.tickets}, no-shows {report.no_shows}, "
        f"last finished {report.last_finish}",
        f"wait (min): mean {w.mean:.1f}  p90 {w.p90:.1f}  max {w.max:.1f}; "
        f"p90 favoured {report.favoured_wait.p90:.1f}, green {report.green_wait.p90:.1f}",
        f"worst wait / target: {report.worst_ratio:.2f} ({report.worst_service}); "
        f"tickets over twice their target: {report.over_twice_target}",
        f"window utilisation: spread (max-min) {report.utilisation_spread:.2f}, "
        f"coefficient of variation {report.utilisation_cv:.2f}",
        f"estimate error (min): MAE {report.estimate_mae:.1f} ({report.estimate_mae_ratio:.0%} "
        f"of the mean wait), bias {report.estimate_bias:+.1f}",
    ]
    if report.tidal_changes:
        lines.append(f"tidal window changes: {report.tidal_changes}")
    lines.append("")
    lines.append(f"{'service':<14}{'n':>6}{'mean':>7}{'p90':>7}{'max':>7}{'target':>8}{'max/t':>7}")
    for s in report.services:
        lines.append(
            f"{s.code:<14}{s.wait.tickets:>6}{s.wait.mean:>7.1f}{s.wait.p90:>7.1f}"
            f"{s.wait.max:>7.1f}{s.target_minutes:>8.0f}{s.worst_ratio:>7.2f}"
        )
    lines.append("")
    lines.append(f"{'window':<8}{'served':>8}{'util':>7}")
    for win in report.windows:
        lines.append(f"{win.number:<8}{win.served:>8}{win.utilisation:>7.0%}")
    return "\n".join(lines)


def _seeds(seeds: list[int]) -> str:
    if len(seeds) <= 3:
        return ", ".join(str(s) for s in seeds)
    return f"{seeds[0]}..{seeds[-1]} ({len(seeds)} days)"
