"""Reports from a period's raw rows (docs/statistics.md): volumes, waits, handling,
windows and staff with 忙闲不均. Pure: rows in, figures out; the hall's clock is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.engine.statistics import measures

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class Group(StrEnum):
    HOUR = "hour"  # hour of the day, 0-23, over the whole period
    DAY = "day"
    WEEK = "week"  # ISO week, keyed by its Monday
    MONTH = "month"
    WEEKDAY = "weekday"  # 周一 ... 周日 over the whole period
    NONE = "none"  # the whole period


@dataclass(frozen=True)
class TicketRow:
    """One ticket of the period, as the reports need it."""

    id: int
    service: str
    window: int | None
    staff: int | None
    priority: str
    source: str
    status: str
    issued_at: datetime
    served_call_at: datetime | None  # the CALL that served it (its last)
    called_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    closed_at: datetime | None
    held_seconds: float
    outcome: str | None
    transferred_from: int | None
    ever_held: bool
    target_seconds: float


@dataclass(frozen=True)
class LogRow:
    """One window log entry (sign_in, sign_out, open, close, pause, resume)."""

    window: int
    at: datetime
    action: str
    staff: int | None
    reason: str | None = None


def key_of(at: datetime, group: Group, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    match group:
        case Group.HOUR:
            return f"{local.hour:02d}"
        case Group.DAY:
            return local.date().isoformat()
        case Group.WEEK:
            monday = local.date() - timedelta(days=local.weekday())
            return monday.isoformat()
        case Group.MONTH:
            return f"{local.year:04d}-{local.month:02d}"
        case Group.WEEKDAY:
            return WEEKDAYS[local.weekday()]
        case Group.NONE:
            return "total"


def queue_start(row: TicketRow, by_id: Mapping[int, TicketRow]) -> datetime:
    """When it joined the queue it was served from: its issue, or the moment a transfer
    brought it (its predecessor's closing; the number and place carried over)."""
    if row.transferred_from is not None:
        before = by_id.get(row.transferred_from)
        if before is not None and before.closed_at is not None:
            return before.closed_at
    return row.issued_at


# --- volumes --------------------------------------------------------------------------


@dataclass
class Volume:
    issued: int = 0  # numbers handed out (a transfer's continuation is not a new one)
    served: int = 0  # finished (办结 of any outcome)
    no_show: int = 0
    cancelled: int = 0
    transferred: int = 0
    held: int = 0  # tickets held at least once
    held_expired: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)


def volumes(rows: Iterable[TicketRow], group: Group, tz: ZoneInfo) -> dict[str, Volume]:
    out: dict[str, Volume] = defaultdict(Volume)
    for row in rows:
        v = out[key_of(row.issued_at, group, tz)]
        if row.transferred_from is None:
            v.issued += 1
            v.by_source[row.source] = v.by_source.get(row.source, 0) + 1
        match row.status:
            case "done":
                v.served += 1
                outcome = row.outcome or ""
                v.by_outcome[outcome] = v.by_outcome.get(outcome, 0) + 1
            case "no_show":
                v.no_show += 1
            case "cancelled":
                v.cancelled += 1
            case "transferred":
                v.transferred += 1
            case "held_expired":
                v.held_expired += 1
        if row.ever_held:
            v.held += 1
    return dict(sorted(out.items()))


# --- waits and handling ---------------------------------------------------------------


@dataclass(frozen=True)
class WaitLine:
    summary: measures.Summary
    over_target: float | None  # share of waits above the service's target


def waits(
    rows: Sequence[TicketRow],
    group: Group,
    tz: ZoneInfo,
    by: Callable[[TicketRow], str] = lambda r: r.service,
    lookup: Mapping[int, TicketRow] | None = None,
) -> dict[tuple[str, str], WaitLine]:
    """Per (period key, service): wait figures of the tickets called. ``lookup``: every
    ticket of the period by id (a transfer's predecessor may be filtered out)."""
    by_id = lookup if lookup is not None else {r.id: r for r in rows}
    found: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        seconds = measures.wait_seconds(queue_start(row, by_id), row.served_call_at)
        if seconds is None:
            continue
        found[(key_of(row.issued_at, group, tz), by(row))].append((seconds, row.target_seconds))
    return {
        key: WaitLine(
            measures.summary(s for s, _ in pairs),
            sum(1 for s, t in pairs if s > t) / len(pairs),
        )
        for key, pairs in sorted(found.items())
    }


def heatmap(
    rows: Sequence[TicketRow], tz: ZoneInfo, lookup: Mapping[int, TicketRow] | None = None
) -> dict[tuple[int, int], float]:
    """Mean wait (seconds) by weekday (0 = Monday) and hour of issue."""
    by_id = lookup if lookup is not None else {r.id: r for r in rows}
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for row in rows:
        seconds = measures.wait_seconds(queue_start(row, by_id), row.served_call_at)
        if seconds is not None:
            local = row.issued_at.astimezone(tz)
            cells[(local.weekday(), local.hour)].append(seconds)
    return {cell: sum(v) / len(v) for cell, v in sorted(cells.items())}


def handling(
    rows: Iterable[TicketRow], by: Callable[[TicketRow], str | None]
) -> dict[str, measures.Summary]:
    """Handling figures of finished cases, per what ``by`` names (service, window, staff)."""
    found: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.status != "done":
            continue
        seconds = measures.handling_seconds(
            row.called_at, row.started_at, row.finished_at, row.held_seconds
        )
        name = by(row)
        if seconds is not None and name is not None:
            found[name].append(seconds)
    return {k: measures.summary(v) for k, v in sorted(found.items())}


# --- windows and staff ----------------------------------------------------------------


@dataclass
class WindowLine:
    cases: int = 0
    handling_seconds: float = 0.0
    open_seconds: float = 0.0
    paused_seconds: dict[str, float] = field(default_factory=dict)
    idle_seconds: float = 0.0
    utilisation: float | None = None
    case_share: float = 0.0
    handling_share: float = 0.0


@dataclass
class StaffLine:
    cases: int = 0
    handling_seconds: float = 0.0
    signed_in_seconds: float = 0.0
    case_share: float = 0.0
    handling_share: float = 0.0


@dataclass(frozen=True)
class Balance:
    """忙闲不均 over a period."""

    top3_case_share: float | None
    top3_handling_share: float | None
    gini_handling: float | None  # across the windows open in the period
    low_volume_windows: list[int]  # under the hall's cases-per-month threshold
    low_volume_threshold: float  # cases in this period that match the monthly number


def windows_report(
    rows: Iterable[TicketRow],
    log: Sequence[LogRow],
    windows: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    low_cases_per_month: int,
) -> tuple[dict[int, WindowLine], dict[int, StaffLine], Balance]:
    lines = {w: WindowLine() for w in windows}
    staff: dict[int, StaffLine] = defaultdict(StaffLine)
    for row in rows:
        if row.status != "done" or row.window is None:
            continue
        seconds = measures.handling_seconds(
            row.called_at, row.started_at, row.finished_at, row.held_seconds
        )
        line = lines.setdefault(row.window, WindowLine())
        line.cases += 1
        line.handling_seconds += seconds or 0.0
        if row.staff is not None:
            staff[row.staff].cases += 1
            staff[row.staff].handling_seconds += seconds or 0.0
    for window, entries in _by_window(log).items():
        line = lines.setdefault(window, WindowLine())
        opened, paused = open_and_paused(entries, start, end)
        line.open_seconds = opened
        line.paused_seconds = paused
    for user, seconds in signed_in(log, start, end).items():
        staff[user].signed_in_seconds = seconds
    return finish_windows(
        lines, staff, start=start, end=end, low_cases_per_month=low_cases_per_month
    )


def finish_windows(
    lines: dict[int, WindowLine],
    staff: dict[int, StaffLine],
    *,
    start: datetime,
    end: datetime,
    low_cases_per_month: int,
) -> tuple[dict[int, WindowLine], dict[int, StaffLine], Balance]:
    """Idle time, utilisation, shares and 忙闲不均 from the windows' and clerks' sums."""
    for line in lines.values():
        line.idle_seconds = max(
            0.0, line.open_seconds - line.handling_seconds - sum(line.paused_seconds.values())
        )
        line.utilisation = measures.utilisation(line.handling_seconds, line.open_seconds)
    case_shares = measures.shares({str(w): line.cases for w, line in lines.items()})
    handling_shares = measures.shares({str(w): line.handling_seconds for w, line in lines.items()})
    for w, line in lines.items():
        line.case_share = case_shares[str(w)]
        line.handling_share = handling_shares[str(w)]
    staff_cases = measures.shares({str(u): s.cases for u, s in staff.items()})
    staff_handling = measures.shares({str(u): s.handling_seconds for u, s in staff.items()})
    for u, s in staff.items():
        s.case_share = staff_cases[str(u)]
        s.handling_share = staff_handling[str(u)]
    days = max((end - start).total_seconds() / 86400, 1 / 24)
    threshold = low_cases_per_month * days / 30
    worked = [w for w, line in lines.items() if line.open_seconds > 0 or line.cases > 0]
    balance = Balance(
        top3_case_share=measures.top_share({str(w): lines[w].cases for w in worked}),
        top3_handling_share=measures.top_share({str(w): lines[w].handling_seconds for w in worked}),
        gini_handling=measures.gini(lines[w].handling_seconds for w in worked),
        low_volume_windows=sorted(w for w in worked if lines[w].cases < threshold),
        low_volume_threshold=threshold,
    )
    return dict(sorted(lines.items())), dict(sorted(staff.items())), balance


def _by_window(log: Iterable[LogRow]) -> dict[int, list[LogRow]]:
    out: dict[int, list[LogRow]] = defaultdict(list)
    for entry in sorted(log, key=lambda e: e.at):
        out[entry.window].append(entry)
    return out


def _clip(a: datetime, b: datetime, start: datetime, end: datetime) -> float:
    return max(0.0, (min(b, end) - max(a, start)).total_seconds())


def open_and_paused(
    entries: Sequence[LogRow], start: datetime, end: datetime
) -> tuple[float, dict[str, float]]:
    """Open time (paused time included) and paused time by reason, within [start, end).

    ``entries`` may begin before ``start`` (the state the window was in then); a window
    still open or paused at ``end`` counts up to it.
    """
    opened = 0.0
    paused: dict[str, float] = defaultdict(float)
    open_since: datetime | None = None
    pause_since: datetime | None = None
    reason = ""
    for entry in entries:
        match entry.action:
            case "open":
                if open_since is None:
                    open_since = entry.at
            case "close":
                if pause_since is not None:
                    paused[reason] += _clip(pause_since, entry.at, start, end)
                    pause_since = None
                if open_since is not None:
                    opened += _clip(open_since, entry.at, start, end)
                    open_since = None
            case "pause":
                if pause_since is not None:  # a new reason: the old pause ends here
                    paused[reason] += _clip(pause_since, entry.at, start, end)
                pause_since, reason = entry.at, entry.reason or ""
                if open_since is None:
                    open_since = entry.at
            case "resume":
                if pause_since is not None:
                    paused[reason] += _clip(pause_since, entry.at, start, end)
                    pause_since = None
                if open_since is None:  # a period that begins after a pause: open
                    open_since = entry.at
    if pause_since is not None:
        paused[reason] += _clip(pause_since, end, start, end)
    if open_since is not None:
        opened += _clip(open_since, end, start, end)
    return opened, {k: v for k, v in paused.items() if v > 0}


def signed_in(log: Iterable[LogRow], start: datetime, end: datetime) -> dict[int, float]:
    """Seconds each clerk was signed in at a window (考勤), within [start, end)."""
    out: dict[int, float] = defaultdict(float)
    for (_, user), seconds in signed_in_by_window(log, start, end).items():
        out[user] += seconds
    return dict(out)


def signed_in_by_window(
    log: Iterable[LogRow], start: datetime, end: datetime
) -> dict[tuple[int, int], float]:
    """Seconds each clerk was signed in at each window, within [start, end)."""
    out: dict[tuple[int, int], float] = defaultdict(float)
    since: dict[tuple[int, int], datetime] = {}
    for entry in sorted(log, key=lambda e: e.at):
        if entry.staff is None:
            continue
        key = (entry.window, entry.staff)
        if entry.action == "sign_in":
            since.setdefault(key, entry.at)
        elif entry.action == "sign_out" and key in since:
            out[key] += _clip(since.pop(key), entry.at, start, end)
    for key, at in since.items():
        out[key] += _clip(at, end, start, end)
    return dict(out)


def period(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The hall's days first..last as [start, end) instants."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end


# --- staffing advice (Erlang C on the hall's own history) --------------------------------


@dataclass(frozen=True)
class HourAdvice:
    hour: int
    arrivals: float  # tickets per hour on a typical weekday
    windows: int  # Erlang C: windows working at once
    service_level: float  # share called within the target with that many


@dataclass(frozen=True)
class ServiceAdvice:
    service: str
    tickets: int  # the history it rests on
    mean_handle_seconds: float
    handle_from_history: bool  # False: too few finished cases, the hall file's mean used
    no_show_rate: float | None
    target_seconds: float
    hours: list[HourAdvice]


# Fewer finished cases than this and the hall file's mean handling time is used.
MIN_CASES_FOR_HANDLE = 20


def weekdays_in(first: date, last: date) -> int:
    days = (last - first).days + 1
    return sum(1 for i in range(days) if (first + timedelta(days=i)).weekday() < 5)


def advice(
    rows: Sequence[TicketRow],
    *,
    first: date,
    last: date,
    tz: ZoneInfo,
    default_handle: Mapping[str, float],
    targets: Mapping[str, float],
    service_level: float = 0.8,
    max_occupancy: float = 0.85,
) -> list[ServiceAdvice]:
    """For each service and hour of a typical weekday (Monday to Friday): the arrivals
    the period shows and the windows Erlang C says keep ``service_level`` of them within
    the service's target wait. Each service is taken on its own: windows shared by
    several services need fewer in all (the day simulator is the check for that)."""
    weekdays = weekdays_in(first, last)
    out = []
    for service in sorted({r.service for r in rows} | set(default_handle)):
        mine = [r for r in rows if r.service == service and r.transferred_from is None]
        handled = [
            h
            for r in mine
            if r.status == "done"
            and (
                h := measures.handling_seconds(
                    r.called_at, r.started_at, r.finished_at, r.held_seconds
                )
            )
            is not None
        ]
        from_history = len(handled) >= MIN_CASES_FOR_HANDLE
        handle = sum(handled) / len(handled) if from_history else default_handle.get(service, 480.0)
        called = [r for r in mine if r.served_call_at is not None]
        no_shows = sum(1 for r in mine if r.status == "no_show")
        per_hour: dict[int, int] = defaultdict(int)
        for r in mine:
            local = r.issued_at.astimezone(tz)
            if local.weekday() < 5:
                per_hour[local.hour] += 1
        hours = []
        for hour in sorted(per_hour):
            arrivals = per_hour[hour] / weekdays if weekdays else 0.0
            staffed = measures.staffing(
                arrivals=arrivals,
                interval_seconds=3600,
                handling_seconds=max(handle, 1.0),
                target_seconds=targets.get(service, 1200.0),
                service_level=service_level,
                max_occupancy=max_occupancy,
            )
            hours.append(HourAdvice(hour, arrivals, staffed.raw, staffed.service_level))
        out.append(
            ServiceAdvice(
                service=service,
                tickets=len(mine),
                mean_handle_seconds=handle,
                handle_from_history=from_history,
                no_show_rate=no_shows / len(called) if called else None,
                target_seconds=targets.get(service, 1200.0),
                hours=hours,
            )
        )
    return out
