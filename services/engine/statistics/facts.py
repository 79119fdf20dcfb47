"""A day's facts, and the reports from aggregated facts (docs/statistics.md, "Rollups").

Pure: the rows of one hall's days in, one fact per ticket and per window-day out; and
from the sums and 15-second histograms a database (or ``aggregate_*`` below, for the
days read raw) returns, the same figures as ``reports`` gives from raw rows. Means,
counts, maxima and shares over target are exact; medians and p90 are exact to the
bucket width (each bucket stands for the mean of its values).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from services.engine.statistics import measures
from services.engine.statistics.reports import (
    WEEKDAYS,
    Balance,
    Group,
    LogRow,
    StaffLine,
    TicketRow,
    Volume,
    WaitLine,
    WindowLine,
    finish_windows,
    open_and_paused,
    queue_start,
    signed_in_by_window,
)

# Histogram bucket width (seconds): a value v is in bucket ceil(v / BUCKET), so bucket b
# holds ((b-1)*15, b*15]; a target in whole minutes is a bucket edge, and "over target"
# is exact.
BUCKET = 15


def bucket(seconds: float | None) -> int | None:
    return None if seconds is None else math.ceil(seconds / BUCKET)


# The reports' histograms are coarser above ten minutes (fewer rows in a district's
# year): 15 s wide up to 10 minutes, 1 minute wide up to an hour, 5 minutes beyond.
# Every whole minute up to an hour is still an edge (targets are whole minutes).


def coarse(b: int) -> int:
    """The report bucket of a 15-second bucket."""
    if b <= 40:
        return b
    if b <= 240:
        return 40 + (b - 40 + 3) // 4
    return 90 + (b - 240 + 19) // 20


def upper(c: int) -> float:
    """The upper edge (seconds) of report bucket c; it holds (upper(c-1), upper(c)]."""
    if c <= 40:
        return 15.0 * c
    if c <= 90:
        return 600.0 + 60.0 * (c - 40)
    return 3600.0 + 300.0 * (c - 90)


def width(seconds: float) -> float:
    """How far a percentile from the report buckets may be from the exact one."""
    return 15.0 if seconds <= 600 else 60.0 if seconds <= 3600 else 300.0


@dataclass(frozen=True)
class TicketFact:
    ticket_id: int
    business_date: date
    day: date
    hour: int
    weekday: int
    week: date
    month: int  # yyyymm
    service: str
    window: int | None
    staff: int | None
    priority: str
    source: str
    status: str
    outcome: str | None
    continuation: bool
    ever_held: bool
    wait_s: float | None
    wait_b: int | None
    handling_s: float | None
    handling_b: int | None
    rating: int | None


@dataclass(frozen=True)
class WindowFact:
    business_date: date
    window: int
    kind: str  # open, paused, signed
    reason: str
    staff: int | None
    seconds: float


def ticket_facts(
    rows: Sequence[TicketRow],
    business_dates: Mapping[int, date],
    tz: ZoneInfo,
    ratings: Mapping[int, int] | None = None,
) -> list[TicketFact]:
    """One fact per ticket; ``rows`` are every ticket of the days (a transfer's
    predecessor is looked up among them, as ``reports.waits`` does over a period)."""
    by_id = {r.id: r for r in rows}
    ratings = ratings or {}
    out = []
    for row in rows:
        local = row.issued_at.astimezone(tz)
        day = local.date()
        wait = measures.wait_seconds(queue_start(row, by_id), row.served_call_at)
        handled = (
            measures.handling_seconds(
                row.called_at, row.started_at, row.finished_at, row.held_seconds
            )
            if row.status == "done"
            else None
        )
        out.append(
            TicketFact(
                ticket_id=row.id,
                business_date=business_dates[row.id],
                day=day,
                hour=local.hour,
                weekday=day.weekday(),
                week=day - timedelta(days=day.weekday()),
                month=day.year * 100 + day.month,
                service=row.service,
                window=row.window,
                staff=row.staff,
                priority=row.priority,
                source=row.source,
                status=row.status,
                outcome=row.outcome,
                continuation=row.transferred_from is not None,
                ever_held=row.ever_held,
                wait_s=wait,
                wait_b=bucket(wait),
                handling_s=handled,
                handling_b=bucket(handled),
                rating=ratings.get(row.id),
            )
        )
    return out


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def window_facts(
    log: Sequence[LogRow], days: Sequence[date], tz: ZoneInfo, now: datetime | None = None
) -> list[WindowFact]:
    """Per window and day: open, paused by reason, signed in per clerk. ``log``: the
    entries from before the first day on, in order. Each day is read as a report of that
    one day reads it (``repository.window_log_between``): each window's last sign-in (if
    it was not followed by a sign-out) and last open/close/pause/resume before the day,
    then the day's entries. A day that has not ended counts up to ``now``."""
    out: list[WindowFact] = []
    ordered = list(log)
    last_sign: dict[int, LogRow] = {}
    last_state: dict[int, LogRow] = {}
    i = 0
    for day in sorted(days):
        start, end = day_bounds(day, tz)
        if now is not None:
            end = max(start, min(end, now))
        while i < len(ordered) and ordered[i].at < start:
            entry = ordered[i]
            if entry.action in ("sign_in", "sign_out"):
                last_sign[entry.window] = entry
            elif entry.action in ("open", "close", "pause", "resume"):
                last_state[entry.window] = entry
            i += 1
        carried = [e for e in last_sign.values() if e.action == "sign_in"]
        carried += last_state.values()
        entries = sorted(carried, key=lambda e: e.at)
        j = i
        while j < len(ordered) and ordered[j].at < end:
            entries.append(ordered[j])
            j += 1
        by_window: dict[int, list[LogRow]] = defaultdict(list)
        for entry in entries:
            by_window[entry.window].append(entry)
        for window, mine in sorted(by_window.items()):
            opened, paused = open_and_paused(mine, start, end)
            if opened > 0:
                out.append(WindowFact(day, window, "open", "", None, opened))
            for reason, seconds in sorted(paused.items()):
                out.append(WindowFact(day, window, "paused", reason, None, seconds))
        for (window, staff), seconds in sorted(signed_in_by_window(entries, start, end).items()):
            if seconds > 0:
                out.append(WindowFact(day, window, "signed", "", staff, seconds))
    return out


# --- aggregated facts: what a GROUP BY returns, and the same in Python -----------------


def group_key(group: Group, day: date, hour: int) -> str:
    match group:
        case Group.HOUR:
            return f"{hour:02d}"
        case Group.DAY:
            return day.isoformat()
        case Group.WEEK:
            return (day - timedelta(days=day.weekday())).isoformat()
        case Group.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        case Group.WEEKDAY:
            return WEEKDAYS[day.weekday()]
        case Group.NONE:
            return "total"


def key_of_value(group: Group, value: object) -> str:
    """The report key of a grouping column's value as the database returns it."""
    match group:
        case Group.HOUR:
            return f"{int(value):02d}"  # type: ignore[call-overload]
        case Group.DAY | Group.WEEK:
            return value.isoformat() if isinstance(value, date) else str(value)
        case Group.MONTH:
            m = int(value)  # type: ignore[call-overload]
            return f"{m // 100:04d}-{m % 100:02d}"
        case Group.WEEKDAY:
            return WEEKDAYS[int(value)]  # type: ignore[call-overload]
        case Group.NONE:
            return "total"


class VolumeCell(NamedTuple):
    key: str
    continuation: bool
    source: str
    status: str
    outcome: str | None
    ever_held: bool
    n: int


# A HistCell as a plain tuple (key, name, bucket, n, total, max): what a long list of
# cells read from the database is made of (a tuple is cheaper to make).
HistRow = tuple[str, str, int, int, float, float]


class HistCell(NamedTuple):
    """Values of one group in one bucket: how many, their sum and their largest."""

    key: str
    name: str  # a service code, a window number, a clerk
    bucket: int
    n: int
    total: float
    max: float


class HeatCell(NamedTuple):
    weekday: int
    hour: int
    n: int
    total: float


class CaseCell(NamedTuple):
    """Finished cases of one window and clerk (办件量, handling time)."""

    window: int
    staff: int | None
    n: int
    handling: float


def fact_key(f: TicketFact, group: Group) -> str:
    return group_key(group, f.day, f.hour)


def aggregate_volumes(facts: Iterable[TicketFact], group: Group) -> list[VolumeCell]:
    counts: dict[tuple[str, bool, str, str, str | None, bool], int] = defaultdict(int)
    for f in facts:
        key = (fact_key(f, group), f.continuation, f.source, f.status, f.outcome, f.ever_held)
        counts[key] += 1
    return [VolumeCell(*k, n) for k, n in counts.items()]


def _hist(
    facts: Iterable[TicketFact],
    key: Callable[[TicketFact], str],
    name: Callable[[TicketFact], str | None],
    value: Callable[[TicketFact], float | None],
) -> list[HistCell]:
    cells: dict[tuple[str, str, int], list[float]] = {}
    for f in facts:
        v = value(f)
        n = name(f)
        if v is None or n is None:
            continue
        b = bucket(v)
        assert b is not None
        cell = cells.setdefault((key(f), n, coarse(b)), [0, 0.0, v])
        cell[0] += 1
        cell[1] += v
        cell[2] = max(cell[2], v)
    return [HistCell(k, n, b, int(c[0]), c[1], c[2]) for (k, n, b), c in cells.items()]


def aggregate_waits(facts: Iterable[TicketFact], group: Group) -> list[HistCell]:
    return _hist(facts, lambda f: fact_key(f, group), lambda f: f.service, lambda f: f.wait_s)


def aggregate_heat(facts: Iterable[TicketFact]) -> list[HeatCell]:
    cells: dict[tuple[int, int], list[float]] = {}
    for f in facts:
        if f.wait_s is not None:
            cell = cells.setdefault((f.weekday, f.hour), [0, 0.0])
            cell[0] += 1
            cell[1] += f.wait_s
    return [HeatCell(d, h, int(c[0]), c[1]) for (d, h), c in cells.items()]


def aggregate_handling(facts: Iterable[TicketFact], by: str) -> list[HistCell]:
    """by: service, window or staff (finished cases with a handling time)."""

    def name(f: TicketFact) -> str | None:
        value = getattr(f, by)
        return None if value is None else str(value)

    return _hist(facts, lambda f: "", name, lambda f: f.handling_s)


def aggregate_cases(facts: Iterable[TicketFact]) -> list[CaseCell]:
    cells: dict[tuple[int, int | None], list[float]] = {}
    for f in facts:
        if f.status == "done" and f.window is not None:
            cell = cells.setdefault((f.window, f.staff), [0, 0.0])
            cell[0] += 1
            cell[1] += f.handling_s or 0.0
    return [CaseCell(w, s, int(c[0]), c[1]) for (w, s), c in cells.items()]


# --- figures from aggregated facts -----------------------------------------------------


def volumes_of(cells: Iterable[VolumeCell]) -> dict[str, Volume]:
    out: dict[str, Volume] = defaultdict(Volume)
    for c in cells:
        v = out[c.key]
        if not c.continuation:
            v.issued += c.n
            v.by_source[c.source] = v.by_source.get(c.source, 0) + c.n
        match c.status:
            case "done":
                v.served += c.n
                outcome = c.outcome or ""
                v.by_outcome[outcome] = v.by_outcome.get(outcome, 0) + c.n
            case "no_show":
                v.no_show += c.n
            case "cancelled":
                v.cancelled += c.n
            case "transferred":
                v.transferred += c.n
            case "held_expired":
                v.held_expired += c.n
        if c.ever_held:
            v.held += c.n
    return dict(sorted(out.items()))


@dataclass
class Histogram:
    """Values in report buckets (``coarse``): per bucket how many, their sum, their
    largest."""

    buckets: dict[int, list[float]]

    @classmethod
    def empty(cls) -> Histogram:
        return cls({})

    def add(self, b: int, n: int, total: float, largest: float) -> None:
        cell = self.buckets.setdefault(b, [0, 0.0, largest])
        cell[0] += n
        cell[1] += total
        cell[2] = max(cell[2], largest)

    def count(self) -> int:
        return int(sum(c[0] for c in self.buckets.values()))

    def over(self, limit: float) -> int:
        """Values above ``limit`` (exact when the limit is a bucket edge)."""
        return int(sum(c[0] for b, c in self.buckets.items() if upper(b) > limit))

    def percentile(self, q: float, n: int | None = None) -> float | None:
        """``measures.percentile`` with each value replaced by its bucket's mean: within
        one bucket's width of the exact figure (``n``: ``count()`` when known)."""
        if n is None:
            n = self.count()
        if n == 0:
            return None
        position = (n - 1) * q / 100
        low, high = math.floor(position), math.ceil(position)
        a, b = self._rank(low), self._rank(high)
        return a + (b - a) * (position - low)

    def _rank(self, rank: int) -> float:
        seen = 0
        for b in sorted(self.buckets):
            n, total, _ = self.buckets[b]
            seen += int(n)
            if rank < seen:
                return total / n
        raise IndexError(rank)

    def summary(self) -> measures.Summary:
        n = self.count()
        if n == 0:
            return measures.Summary(0, None, None, None, None)
        total = sum(c[1] for c in self.buckets.values())
        return measures.Summary(
            n,
            total / n,
            self.percentile(50, n),
            self.percentile(90, n),
            max(c[2] for c in self.buckets.values()),
        )


def histograms(cells: Iterable[HistCell]) -> dict[tuple[str, str], Histogram]:
    out: dict[tuple[str, str], Histogram] = {}
    for c in cells:
        out.setdefault((c.key, c.name), Histogram.empty()).add(c.bucket, c.n, c.total, c.max)
    return out


def over_of(
    facts_: Iterable[TicketFact], group: Group, target: Callable[[TicketFact], float]
) -> dict[tuple[str, str], int]:
    """Waits over their service's target per (period key, service)."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for f in facts_:
        if f.wait_s is not None and f.wait_s > target(f):
            out[(fact_key(f, group), f.service)] += 1
    return out


def waits_of(
    cells: Iterable[HistRow],
    over: Mapping[tuple[str, str], int],
    by_service: bool = True,
) -> dict[tuple[str, str], WaitLine]:
    """Per (period key, service), or per period key for every service together ('');
    ``over``: the waits over target per (period key, service)."""
    per_service, together = waits_both(cells, over)
    return per_service if by_service else together


def waits_both(
    cells: Iterable[HistRow], over: Mapping[tuple[str, str], int]
) -> tuple[dict[tuple[str, str], WaitLine], dict[tuple[str, str], WaitLine]]:
    """``waits_of`` by service and for every service together, in one pass over the
    cells (a district's year by day is 140,000 of them)."""
    # Plain dicts of bucket -> [count, sum, max] while adding (Histogram.add, inlined).
    grouped: dict[tuple[str, str], dict[int, list[float]]] = {}
    together: dict[tuple[str, str], dict[int, list[float]]] = {}
    for key, name, bucket, n, total, largest in cells:
        buckets = grouped.get((key, name))
        if buckets is None:
            buckets = grouped[(key, name)] = {}
        cell = buckets.get(bucket)
        if cell is None:
            buckets[bucket] = [0 + n, 0.0 + total, largest]
        else:
            cell[0] += n
            cell[1] += total
            if largest > cell[2]:
                cell[2] = largest
    # Every service together: the services' histograms merged (fewer cells than rows).
    for (key, _), buckets in grouped.items():
        merged = together.get((key, ""))
        if merged is None:
            together[(key, "")] = {b: list(c) for b, c in buckets.items()}
            continue
        for bucket, (count, summed, top) in buckets.items():
            cell = merged.get(bucket)
            if cell is None:
                merged[bucket] = [count, summed, top]
            else:
                cell[0] += count
                cell[1] += summed
                if top > cell[2]:
                    cell[2] = top
    overs: dict[tuple[str, str], int] = defaultdict(int)
    for (key, service), n in over.items():
        overs[(key, service)] += n
        overs[(key, "")] += n

    def lines(
        histograms: dict[tuple[str, str], dict[int, list[float]]],
    ) -> dict[tuple[str, str], WaitLine]:
        out: dict[tuple[str, str], WaitLine] = {}
        for k, buckets in sorted(histograms.items()):
            summary = Histogram(buckets).summary()
            if summary.count:
                out[k] = WaitLine(summary, overs.get(k, 0) / summary.count)
        return out

    return lines(grouped), lines(together)


def heatmap_of(cells: Iterable[HeatCell]) -> dict[tuple[int, int], float]:
    sums: dict[tuple[int, int], list[float]] = {}
    for c in cells:
        cell = sums.setdefault((c.weekday, c.hour), [0, 0.0])
        cell[0] += c.n
        cell[1] += c.total
    return {k: v[1] / v[0] for k, v in sorted(sums.items()) if v[0]}


def handling_of(
    cells: Iterable[HistCell], name: Callable[[str], str | None] = lambda n: n
) -> dict[str, measures.Summary]:
    merged: dict[str, Histogram] = {}
    for c in cells:
        shown = name(c.name)
        if shown is not None:
            merged.setdefault(shown, Histogram.empty()).add(c.bucket, c.n, c.total, c.max)
    return {k: h.summary() for k, h in sorted(merged.items())}


def windows_of(
    cases: Iterable[CaseCell],
    times: Iterable[WindowFact],
    windows: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    low_cases_per_month: int,
) -> tuple[dict[int, WindowLine], dict[int, StaffLine], Balance]:
    """The windows report (``reports.windows_report``) from summed facts."""
    lines = {w: WindowLine() for w in windows}
    staff: dict[int, StaffLine] = defaultdict(StaffLine)
    for c in cases:
        line = lines.setdefault(c.window, WindowLine())
        line.cases += c.n
        line.handling_seconds += c.handling
        if c.staff is not None:
            staff[c.staff].cases += c.n
            staff[c.staff].handling_seconds += c.handling
    for t in times:
        if t.kind == "signed":
            if t.staff is not None:
                staff[t.staff].signed_in_seconds += t.seconds
            continue
        line = lines.setdefault(t.window, WindowLine())
        if t.kind == "open":
            line.open_seconds += t.seconds
        else:
            line.paused_seconds[t.reason] = line.paused_seconds.get(t.reason, 0.0) + t.seconds
    return finish_windows(
        lines, staff, start=start, end=end, low_cases_per_month=low_cases_per_month
    )
