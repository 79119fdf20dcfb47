"""A day in the hall, as a discrete-event simulation.

It runs the engine's own rules -- the calling policies of
``services.engine.balancing.policy`` with the interleave of
``balancing.interleave``, the wait estimator of ``balancing.estimates`` and the
tidal rules of ``balancing.tidal`` -- on a day of random arrivals, so that what
it measures is what the engine would do.

Policies:

* ``dedicated``: today's practice; each window serves only its own services,
  first come first served (green first and the priority interleave still hold);
* ``pooled-fifo``: each window serves all its primary and secondary services,
  first come first served across them;
* ``balanced``: the engine's balanced policy (its own services first; a
  secondary service helped while it is the more overdue, with the look-ahead
  of one case), plus the scenario's tidal windows if it has any.

For one seed every policy sees the same citizens (arrival times, services,
priority, handle times and no-shows), so differences come from the policy.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from services.engine.balancing import estimates, policy, tidal
from services.engine.balancing.policy import Candidate, InterleaveState, Link, Role, WindowView
from services.engine.halls.settings import RulesSpec
from services.engine.tickets.ahead import ahead_of
from services.engine.tickets.states import PriorityClass
from services.simulator.scenario import Scenario

POLICY_NAMES = ("dedicated", "pooled-fifo", "balanced")
# The engine looks at the first few tickets of each service x class; so does the simulator.
HEADS_PER_GROUP = 5
# Simulated clock: seconds since midnight of an arbitrary day (the policies need datetimes).
_MIDNIGHT = datetime(2026, 1, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return _MIDNIGHT + timedelta(seconds=seconds)


@dataclass
class SimTicket:
    id: int
    service_id: int
    priority: PriorityClass
    arrival: float
    handle: float
    no_show: bool
    slot_start: float | None = None
    slot_end: float | None = None
    called: float | None = None
    finished: float | None = None
    window: int | None = None
    ahead: int = 0
    estimate: float | None = None

    @property
    def wait(self) -> float | None:
        return None if self.called is None else self.called - self.arrival


@dataclass
class SimWindow:
    number: int
    name: str
    links: dict[int, Link]
    state: InterleaveState = field(default_factory=InterleaveState)
    current: SimTicket | None = None
    idle_since: float = 0.0
    busy_seconds: float = 0.0
    served: int = 0
    # Services added by a tidal rule (removed again when it closes).
    tidal_services: set[int] = field(default_factory=set)
    # When it calls, as (start, end) seconds since midnight; None: the whole day.
    spans: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True)
class TidalChange:
    at: float
    service_id: int
    action: str
    windows: tuple[int, ...]
    reason: str


@dataclass
class DayResult:
    scenario: Scenario
    policy: str
    seed: int
    tickets: list[SimTicket]
    windows: list[SimWindow]
    # (seconds, waiting per service id)
    samples: list[tuple[float, dict[int, int]]]
    tidal_changes: list[TidalChange]
    start: float
    end: float


def _lognormal(rng: random.Random, mean: float, cv: float) -> float:
    if cv <= 0:
        return mean
    sigma2 = math.log(1 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def generate_arrivals(
    scenario: Scenario,
    rng: random.Random,
    *,
    start: float | None = None,
    end: float | None = None,
    first_id: int = 1,
) -> list[SimTicket]:
    """Poisson arrivals per service and hour, with each citizen's draws fixed up front.

    The whole day by default; ``start``/``end`` (seconds since midnight) draw
    only the arrivals of that span (used to roll a day forward from a moment).
    """
    day = scenario.scenario
    open_s, close_s = day.open_minute * 60.0, day.close_minute * 60.0
    lo = open_s if start is None else start
    hi = close_s if end is None else min(end, close_s)
    step = day.profile_minutes * 60.0
    hours = math.ceil((close_s - open_s) / step - 1e-9)
    spans = [(open_s + h * step, min(open_s + (h + 1) * step, close_s)) for h in range(hours)]
    ids = scenario.service_index()
    raw: list[tuple[float, int]] = []
    for service in scenario.services:
        # A service with its own profile (a surge on one matter) keeps its share of the day.
        profile = (service.hourly or day.hourly)[:hours]
        weight_total = sum(r * (b - a) / 3600 for r, (a, b) in zip(profile, spans, strict=True))
        per_day = day.visitors * service.share
        for rate, (a, b) in zip(profile, spans, strict=True):
            per_hour = per_day * rate / weight_total
            if per_hour <= 0 or b <= lo or a >= hi:
                continue
            t, stop = max(a, lo), min(b, hi)
            while True:
                t += rng.expovariate(per_hour / 3600)
                if t >= stop:
                    break
                raw.append((t, ids[service.code]))
    raw.sort()
    by_id = {ids[s.code]: s for s in scenario.services}
    tickets: list[SimTicket] = []
    slot = day.slot_minutes * 60.0
    for n, (t, service_id) in enumerate(raw, start=first_id):
        spec = by_id[service_id]
        draw = rng.random()
        slot_start = slot_end = None
        if draw < day.green_share:
            priority = PriorityClass.GREEN
        elif draw < day.green_share + day.priority_share:
            priority = PriorityClass.PRIORITY
        elif draw < day.green_share + day.priority_share + day.appointment_share:
            priority = PriorityClass.APPOINTMENT
            if rng.random() < day.late_appointment_share:
                slot_end = t - rng.uniform(0, slot)  # came after the slot ended
            else:
                slot_end = t + rng.uniform(0, slot)
            slot_start = slot_end - slot
        else:
            priority = PriorityClass.NORMAL
        handle = _lognormal(rng, spec.handle_minutes * 60, spec.handle_cv)
        no_show = rng.random() < day.no_show_share
        tickets.append(SimTicket(n, service_id, priority, t, handle, no_show, slot_start, slot_end))
    return tickets


ProgressFn = Callable[[float], None]


class Simulation:
    """One day under one policy.

    ``tickets``: the day's citizens, given (a replay of a past day) instead of drawn
    from the scenario's arrival rates; they are copied, so one list serves several runs.
    """

    def __init__(
        self,
        scenario: Scenario,
        policy_name: str,
        seed: int,
        *,
        tickets: list[SimTicket] | None = None,
    ) -> None:
        if policy_name not in POLICY_NAMES:
            raise ValueError(f"unknown policy {policy_name!r} (known: {', '.join(POLICY_NAMES)})")
        self.scenario = scenario
        self.policy_name = policy_name
        self.seed = seed
        day = scenario.scenario
        self.open_s = day.open_minute * 60.0
        self.close_s = day.close_minute * 60.0
        self.ratio = RulesSpec.parse_ratio(day.interleave)
        self.rank = policy.rank if policy_name == "balanced" else policy.rank_fifo
        link_policy = "dedicated" if policy_name == "dedicated" else "balanced"
        self.windows = [
            SimWindow(
                n,
                spec.name or f"{n}",
                scenario.links(spec, link_policy),
                idle_since=self.open_s,
                spans=_spans(spec.spans()),
            )
            for spec in scenario.windows
            for n in spec.window_numbers()
        ]
        self.windows.sort(key=lambda w: w.number)
        self.by_number = {w.number: w for w in self.windows}
        ids = scenario.service_index()
        self.targets = {ids[s.code]: s.target_wait_minutes * 60 for s in scenario.services}
        self.handle = estimates.HandleTimes(
            {ids[s.code]: s.handle_minutes * 60 for s in scenario.services}
        )
        self.queues: dict[int, dict[PriorityClass, deque[SimTicket]]] = {
            sid: {p: deque() for p in PriorityClass} for sid in ids.values()
        }
        self.waiting: dict[int, int] = dict.fromkeys(ids.values(), 0)
        self.tickets = (
            generate_arrivals(scenario, random.Random(seed))
            if tickets is None
            else [replace(t) for t in tickets]
        )
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.tidal_changes: list[TidalChange] = []
        self.tidal_rules: list[tidal.TidalRule] = []
        self.tidal_state: dict[int, tidal.TidalState] = {}
        spec = scenario.tidal
        if policy_name == "balanced" and spec is not None and spec.mode is not tidal.TidalMode.OFF:
            for r in spec.rules:
                self.tidal_rules.append(
                    tidal.TidalRule(
                        ids[r.service],
                        r.high_waiting,
                        r.low_waiting,
                        r.high_wait_minutes,
                        r.low_wait_minutes,
                        r.hold_minutes,
                    )
                )
        self._events: list[tuple[float, int, int, str, object]] = []
        self._seq = 0

    # -- the event queue -------------------------------------------------

    def _push(self, t: float, order: int, kind: str, item: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, order, self._seq, kind, item))

    # -- what the engine would compute -----------------------------------

    def is_open(self, window: SimWindow, now: float) -> bool:
        """Whether a window calls now: within its open hours; after the day's close, any
        window that was open that day works on until the queue is empty."""
        if window.spans is None:
            return True
        if now >= self.close_s:
            return bool(window.spans)
        return any(a <= now < b for a, b in window.spans)

    def _view(self, window: SimWindow, now: float) -> WindowView:
        # As the engine: recent mean handle times and the windows sharing each service
        # as their own work (the look-ahead of helping).
        own_windows: dict[int, int] = {}
        for w in self.windows:
            if not self.is_open(w, now):
                continue
            for service_id, link in w.links.items():
                if link.role is not Role.SECONDARY and link.weight > 0:
                    own_windows[service_id] = own_windows.get(service_id, 0) + 1
        return WindowView(
            window.number, window.links, self.targets, self.handle.averages, own_windows
        )

    @staticmethod
    def _candidate(ticket: SimTicket) -> Candidate:
        return Candidate(
            ticket.id,
            ticket.service_id,
            ticket.priority,
            at(ticket.arrival),
            slot_start=None if ticket.slot_start is None else at(ticket.slot_start),
            slot_end=None if ticket.slot_end is None else at(ticket.slot_end),
        )

    def _candidates(self, window: SimWindow) -> list[Candidate]:
        out: list[Candidate] = []
        for service_id in window.links:
            for queue in self.queues[service_id].values():
                for i, ticket in enumerate(queue):
                    if i >= HEADS_PER_GROUP:
                        break
                    out.append(self._candidate(ticket))
        return out

    def _loads(self, now: float) -> list[estimates.WindowLoad]:
        loads = []
        for w in self.windows:
            if w.current is None or w.current.called is None:
                loads.append(estimates.WindowLoad(w.number, w.links))
                continue
            average = self.handle.get(w.current.service_id)
            elapsed = now - w.current.called
            free_in = estimates.expected_remaining(average, elapsed)
            loads.append(estimates.WindowLoad(w.number, w.links, free_in, average, elapsed))
        return loads

    def estimate(self, service_id: int, ahead: int, now: float) -> float | None:
        return estimates.estimate_wait_seconds(
            service_id=service_id,
            ahead=ahead,
            windows=self._loads(now),
            waiting=self.waiting,
            handle=self.handle.averages,
        )

    # -- events ----------------------------------------------------------

    def _arrive(self, ticket: SimTicket, now: float) -> None:
        queues = self.queues[ticket.service_id]
        by_class = {p: len(q) for p, q in queues.items()}
        # Just arrived: every waiting ticket of its class was queued earlier.
        ticket.ahead = ahead_of(
            policy.effective_class(self._candidate(ticket), at(now)), by_class, by_class
        )
        queues[ticket.priority].append(ticket)
        self.waiting[ticket.service_id] += 1
        ticket.estimate = self.estimate(ticket.service_id, ticket.ahead, now)
        self._tidal(now)
        self._dispatch(now)

    def _dispatch(self, now: float) -> None:
        for window in sorted(self.windows, key=lambda w: (w.idle_since, w.number)):
            if window.current is None:
                self._call(window, now)

    def _call(self, window: SimWindow, now: float) -> None:
        if not self.is_open(window, now):
            return
        candidates = self._candidates(window)
        if not candidates:
            return
        when = at(now)
        ranked = self.rank(self._view(window, now), candidates, window.state, self.ratio, when)
        if not ranked:
            return
        chosen = ranked[0]
        favoured_waiting, normal_waiting = policy.classes_waiting(ranked, when)
        window.state = policy.advance(
            window.state,
            self.ratio,
            policy.taken_class(chosen, when),
            favoured_waiting=favoured_waiting,
            normal_waiting=normal_waiting,
        )
        queue = self.queues[chosen.service_id][chosen.priority]
        ticket = next(t for t in queue if t.id == chosen.ticket_id)
        queue.remove(ticket)
        self.waiting[ticket.service_id] -= 1
        ticket.called = now
        ticket.window = window.number
        window.current = ticket
        busy = self.scenario.scenario.no_show_minutes * 60 if ticket.no_show else ticket.handle
        self._push(now + busy, 0, "finish", window)

    def _finish(self, window: SimWindow, now: float) -> None:
        ticket = window.current
        assert ticket is not None and ticket.called is not None
        window.busy_seconds += now - ticket.called
        window.current = None
        window.idle_since = now
        if not ticket.no_show:
            ticket.finished = now
            window.served += 1
            self.handle.record(ticket.service_id, now - ticket.called)
        self._tidal(now)
        self._call(window, now)

    def _tidal(self, now: float) -> None:
        spec = self.scenario.tidal
        if not self.tidal_rules or spec is None:
            return
        for rule in self.tidal_rules:
            sid = rule.service_id
            state = self.tidal_state.get(sid, tidal.TidalState())
            waiting = self.waiting[sid]
            est = self.estimate(sid, waiting, now)
            decision = tidal.decide(
                rule,
                state,
                waiting=waiting,
                wait_minutes=None if est is None else est / 60,
                now=at(now),
            )
            self.tidal_state[sid] = decision.state
            if decision.action is None:
                continue
            moved: list[int] = []
            for number in spec.windows:
                window = self.by_number[number]
                if decision.action is tidal.TidalAction.OPEN and sid not in window.links:
                    window.links = {**window.links, sid: Link(spec.weight, Role.TIDAL)}
                    window.tidal_services.add(sid)
                    moved.append(number)
                elif decision.action is tidal.TidalAction.CLOSE and sid in window.tidal_services:
                    window.links = {s: lk for s, lk in window.links.items() if s != sid}
                    window.tidal_services.discard(sid)
                    moved.append(number)
            self.tidal_changes.append(
                TidalChange(now, sid, decision.action.value, tuple(moved), decision.reason)
            )
            if decision.action is tidal.TidalAction.OPEN:
                self._dispatch(now)

    def _sample(self, now: float) -> None:
        self.samples.append((now, dict(self.waiting)))

    def _pending(self) -> bool:
        # Only arrivals, finishes and openings change the hall: without any, a ticket
        # still waiting has no window that will ever call it (closed all day).
        return any(kind != "sample" for _, _, _, kind, _ in self._events)

    def _step(self, kind: str, item: object, now: float) -> bool:
        """Play a citizen's arrival or a window's finish; False for any other event."""
        if kind == "arrive":
            assert isinstance(item, SimTicket)
            self._arrive(item, now)
        elif kind == "finish":
            assert isinstance(item, SimWindow)
            self._finish(item, now)
        elif kind == "open":
            self._dispatch(now)
        else:
            return False
        return True

    def run(self, progress: ProgressFn | None = None) -> DayResult:
        for ticket in self.tickets:
            self._push(ticket.arrival, 1, "arrive", ticket)
        # A window opening later in the day (and every window at the close, when those
        # that closed earlier work on) calls the queue it finds.
        openings = {a for w in self.windows for a, _ in w.spans or () if a > self.open_s}
        if any(w.spans is not None for w in self.windows):
            openings.add(self.close_s)
        for moment in sorted(openings):
            self._push(moment, 0, "open", None)
        step = self.scenario.scenario.sample_minutes * 60.0
        self._push(self.open_s, 2, "sample", None)
        end = self.open_s
        while self._events:
            now, _, _, kind, item = heapq.heappop(self._events)
            if not self._step(kind, item, now):
                self._sample(now)
                if now < self.close_s or self._pending():
                    self._push(now + step, 2, "sample", None)
            if kind != "sample":
                end = max(end, now)
            if progress is not None:
                progress(now)
        return DayResult(
            self.scenario,
            self.policy_name,
            self.seed,
            self.tickets,
            self.windows,
            self.samples,
            self.tidal_changes,
            self.open_s,
            max(end, self.close_s),
        )


def _spans(minutes: list[tuple[int, int]] | None) -> tuple[tuple[float, float], ...] | None:
    return None if minutes is None else tuple((a * 60.0, b * 60.0) for a, b in minutes)


def simulate_day(
    scenario: Scenario, policy_name: str, seed: int, progress: ProgressFn | None = None
) -> DayResult:
    return Simulation(scenario, policy_name, seed).run(progress)
