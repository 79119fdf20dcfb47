"""How good can a wait estimate be? A Bayes bound for the estimate error target.

How close can the engine's wait estimate get? This tool measures the floor
of the mean absolute error (MAE) any estimator can reach with the engine's
information, so that a miss can be told apart from a limit of the hall
itself. ``make bench-sim`` (bench/simulate_targets.py) prints the engine's
MAE next to it for every scenario, on the same days (``measure``).

For every ticket that does not get a window at once (its estimate is above
zero), the simulated hall is taken at the moment the ticket is issued and
rolled forward ``--rollouts`` times until that ticket is called. Each rollout
keeps all the engine knows -- the queues (class, queue time, slot of every
waiting ticket), which windows are open with which services, the ticket each
window holds and for how long, the interleave state of every window, the tidal
state -- and re-draws everything it cannot know from the scenario's own
distributions:

* the rest of each ticket in hand, conditional on the time it has already
  taken (a no-show ends at ``no_show_minutes``; a served ticket's lognormal
  handle time is drawn beyond its elapsed time);
* handle times and no-shows of the tickets still waiting;
* arrivals from now on (Poisson per service and hour, classes, slots),

and runs the engine's real calling policy (the simulator's ``_call``). With
``--check`` nothing is re-drawn (the real hidden values and the real later
arrivals): each rollout must then reproduce the real wait, MAE 0. The
median of the rollouts' waits is the estimate that minimises the expected
absolute error given that information (the conditional median), so its MAE
against the real day's waits is a lower bound for any estimator the engine
could compute (with a small upward bias from using a finite number of
rollouts). Tickets estimated at zero are called at once (an idle window could
take them) and count with their real error, as in the simulator's report.

Prints, over the same tickets as the simulator's report: the real estimator's
MAE / mean wait and the bound's; also the bound's expected MAE inside the
model (mean absolute deviation of the rollouts from their median).

    flock /tmp/bench.lock .venv/bin/python bench/estimate_bound.py [--days 5] [--seed 1]
        [--rollouts 40] [--scenario FILE] [--policy balanced]
"""

from __future__ import annotations

import argparse
import copy
import heapq
import math
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.simulator.model import (  # noqa: E402
    SimTicket,
    Simulation,
    SimWindow,
    generate_arrivals,
)
from services.simulator.scenario import Scenario, load_scenario  # noqa: E402

DEFAULT_SCENARIO = ROOT / "deploy" / "scenarios" / "district-centre.toml"
# Arrivals are drawn this far ahead of the issue moment, then further if needed.
HORIZON = 3600.0
_NORMAL = NormalDist()


@dataclass
class Bound:
    ticket_id: int
    ahead: int
    estimate: float
    median: float
    spread: float  # mean |rollout wait - median|: the bound's expected error in the model


class Draws:
    """What the engine cannot know, drawn from the scenario's distributions."""

    def __init__(self, scenario: Scenario, rng: random.Random, truth: bool = False) -> None:
        self.rng = rng
        # Check mode: no re-draws, the real hidden values (a rollout must then
        # reproduce the real wait exactly).
        self.truth = truth
        day = scenario.scenario
        self.no_show_share = day.no_show_share
        self.no_show_s = day.no_show_minutes * 60.0
        ids = scenario.service_index()
        self.spec = {ids[s.code]: s for s in scenario.services}

    def _lognormal_params(self, service_id: int) -> tuple[float, float]:
        spec = self.spec[service_id]
        sigma2 = math.log(1 + spec.handle_cv**2)
        return math.log(spec.handle_minutes * 60) - sigma2 / 2, math.sqrt(sigma2)

    def handle(self, service_id: int, beyond: float = 0.0) -> float:
        """A lognormal handle time, conditional on exceeding ``beyond`` seconds."""
        mu, sigma = self._lognormal_params(service_id)
        if sigma <= 0:
            return max(math.exp(mu), beyond)
        low = _NORMAL.cdf((math.log(beyond) - mu) / sigma) if beyond > 0 else 0.0
        p = low + self.rng.random() * (1.0 - low)
        p = min(max(p, 1e-12), 1 - 1e-12)
        return max(math.exp(mu + sigma * _NORMAL.inv_cdf(p)), beyond)

    def remaining(self, service_id: int, elapsed: float) -> float:
        """Seconds left on a ticket in hand that has taken ``elapsed`` so far."""
        if elapsed < self.no_show_s and self.no_show_share > 0:
            mu, sigma = self._lognormal_params(service_id)
            survive = 1.0 - _NORMAL.cdf((math.log(elapsed) - mu) / sigma) if elapsed > 0 else 1.0
            q = self.no_show_share
            if self.rng.random() < q / (q + (1 - q) * survive):
                return self.no_show_s - elapsed
        return self.handle(service_id, elapsed) - elapsed


class Rollout(Simulation):
    """A copy of a simulated hall at one moment, re-drawn where the engine cannot see."""

    def __init__(self, base: Simulation, now: float, draws: Draws, horizon: float) -> None:
        # Not Simulation.__init__: nothing is generated, everything known is copied.
        self.scenario = base.scenario
        self.policy_name = base.policy_name
        self.seed = base.seed
        self.open_s, self.close_s = base.open_s, base.close_s
        self.ratio, self.rank = base.ratio, base.rank
        self.targets = base.targets
        self.handle = copy.deepcopy(base.handle)
        self.tidal_rules = base.tidal_rules
        self.tidal_state = dict(base.tidal_state)
        self.tidal_changes = []
        self.samples = []
        self._events = []
        self._seq = 0
        self.draws = draws
        self.clones: dict[int, SimTicket] = {}

        def clone(t: SimTicket) -> SimTicket:
            if draws.truth:
                c = replace(t, estimate=None)
            else:
                no_show = draws.rng.random() < draws.no_show_share
                c = replace(t, handle=draws.handle(t.service_id), no_show=no_show, estimate=None)
            self.clones[t.id] = c
            return c

        self.queues = {
            sid: {p: deque(clone(t) for t in q) for p, q in by_class.items()}
            for sid, by_class in base.queues.items()
        }
        self.waiting = dict(base.waiting)
        self.windows = []
        for w in base.windows:
            window = SimWindow(w.number, w.name, w.links, w.state, None, w.idle_since)
            window.tidal_services = set(w.tidal_services)
            called = None if w.current is None else w.current.called
            if w.current is not None and called is not None:
                held = replace(w.current)
                window.current = held
                if draws.truth:
                    busy = draws.no_show_s if held.no_show else held.handle
                    left = called + busy - now
                else:
                    left = draws.remaining(held.service_id, now - called)
                self._push(now + left, 0, "finish", window)
            self.windows.append(window)
        self.by_number = {w.number: w for w in self.windows}
        self.next_id = max((t.id for t in base.tickets), default=0) + 1
        self.drawn_until = now
        if draws.truth:
            # Check mode: the real day's later citizens, so a rollout replays the day.
            for t in base.tickets:
                if t.arrival > now:
                    self._push(t.arrival, 1, "arrive", replace(t, estimate=None))
            self.drawn_until = self.close_s
        else:
            self._draw_arrivals(now + horizon)

    def _draw_arrivals(self, until: float) -> None:
        if self.drawn_until >= self.close_s:
            return
        new = generate_arrivals(
            self.scenario,
            self.draws.rng,
            start=self.drawn_until,
            end=until,
            first_id=self.next_id,
        )
        for t in new:
            self._push(t.arrival, 1, "arrive", t)
        self.next_id += len(new)
        self.drawn_until = min(until, self.close_s)

    def _arrive(self, ticket: SimTicket, now: float) -> None:
        # Estimates of later tickets are not needed; only tidal rules read them.
        queues = self.queues[ticket.service_id]
        queues[ticket.priority].append(ticket)
        self.waiting[ticket.service_id] += 1
        self._tidal(now)
        self._dispatch(now)

    def wait_of(self, ticket_id: int, now: float, horizon: float) -> float:
        """Run until the ticket is called; its wait in seconds."""
        ticket = self.clones[ticket_id]
        while ticket.called is None:
            if not self._events or (
                self._events[0][0] > self.drawn_until and self.drawn_until < self.close_s
            ):
                self._draw_arrivals(self.drawn_until + horizon)
                if not self._events:
                    raise RuntimeError(f"ticket {ticket_id} was never called")
                continue
            t, _, _, kind, item = heapq.heappop(self._events)
            self._step(kind, item, t)
        assert ticket.wait is not None
        return ticket.wait


class Recorder(Simulation):
    """The real day; at each issue that has to wait, the rollouts' median."""

    def __init__(
        self, scenario: Scenario, policy: str, seed: int, rollouts: int, truth: bool = False
    ) -> None:
        super().__init__(scenario, policy, seed)
        self.rollouts = rollouts
        self.rng = random.Random(f"bound-{seed}")
        self.draws = Draws(scenario, self.rng, truth)
        self.bounds: list[Bound] = []

    def _arrive(self, ticket: SimTicket, now: float) -> None:
        super()._arrive(ticket, now)
        if ticket.estimate is None or ticket.estimate <= 0 or ticket.called is not None:
            return
        # Arrival dispatch is done: no idle window could take it, so the state
        # is as at the issue moment.
        waits = []
        for _ in range(self.rollouts):
            waits.append(Rollout(self, now, self.draws, HORIZON).wait_of(ticket.id, now, HORIZON))
        median = statistics.median(waits)
        spread = statistics.fmean(abs(w - median) for w in waits)
        self.bounds.append(Bound(ticket.id, ticket.ahead, ticket.estimate, median, spread))


@dataclass(frozen=True)
class Floor:
    """The engine's estimate error next to the Bayes floor, over the same tickets."""

    tickets: int
    mean_wait: float  # minutes
    real_mae: float  # minutes
    bound_mae: float  # minutes
    model_mae: float  # minutes
    # ahead (3 = 3 or more) -> (tickets, mean wait, real MAE, bound MAE), minutes
    by_ahead: dict[int, tuple[int, float, float, float]]
    seconds: float

    @property
    def real_ratio(self) -> float:
        return self.real_mae / self.mean_wait if self.mean_wait > 0 else 0.0

    @property
    def bound_ratio(self) -> float:
        return self.bound_mae / self.mean_wait if self.mean_wait > 0 else 0.0

    @property
    def model_ratio(self) -> float:
        return self.model_mae / self.mean_wait if self.mean_wait > 0 else 0.0


def measure(
    scenario: Scenario,
    policy: str,
    seeds: list[int],
    rollouts: int,
    check: bool = False,
) -> Floor:
    """The real estimator's MAE and the floor's, on the simulated days of ``seeds``."""
    started = time.perf_counter()
    waits: list[float] = []
    real_err: list[float] = []
    bound_err: list[float] = []
    model_err: list[float] = []
    rows_by_ahead: dict[int, list[tuple[float, float, float]]] = {}
    for seed in seeds:
        sim = Recorder(scenario, policy, seed, 1 if check else rollouts, check)
        sim.run()
        bounds = {b.ticket_id: b for b in sim.bounds}
        for t in sim.tickets:
            # The report's population: served tickets with an estimate.
            if t.called is None or t.no_show or t.wait is None:
                continue
            waits.append(t.wait)
            if t.estimate is None:
                continue
            real_err.append(abs(t.estimate - t.wait))
            b = bounds.get(t.id)
            if b is None:
                bound_err.append(abs(t.estimate - t.wait))  # estimated 0, called at once
                model_err.append(abs(t.estimate - t.wait))
                continue
            bound_err.append(abs(b.median - t.wait))
            model_err.append(b.spread)
            rows_by_ahead.setdefault(min(b.ahead, 3), []).append(
                (t.wait, abs(t.estimate - t.wait), abs(b.median - t.wait))
            )

    def minutes(values: list[float]) -> float:
        return statistics.fmean(values) / 60 if values else 0.0

    by_ahead = {
        ahead: (
            len(rows),
            minutes([r[0] for r in rows]),
            minutes([r[1] for r in rows]),
            minutes([r[2] for r in rows]),
        )
        for ahead, rows in sorted(rows_by_ahead.items())
    }
    return Floor(
        tickets=len(real_err),
        mean_wait=minutes(waits),
        real_mae=minutes(real_err),
        bound_mae=minutes(bound_err),
        model_mae=minutes(model_err),
        by_ahead=by_ahead,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--policy", default="balanced")
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rollouts", type=int, default=40)
    parser.add_argument(
        "--check",
        action="store_true",
        help="replay with the real hidden values: the bound's MAE must then be 0",
    )
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    seeds = list(range(args.seed, args.seed + args.days))
    floor = measure(scenario, args.policy, seeds, args.rollouts, args.check)

    def line(name: str, mae: float, ratio: float) -> str:
        return f"{name:<34} MAE {mae:5.2f} min  {ratio:5.0%} of the mean wait"

    print(
        f"{scenario.scenario.name} · {args.policy} · seeds {seeds[0]}..{seeds[-1]}"
        f" · {1 if args.check else args.rollouts} rollouts per waiting ticket"
        f" · {floor.seconds:.0f} s"
    )
    print(f"tickets {floor.tickets}, mean wait {floor.mean_wait:.2f} min")
    print(line("real estimator", floor.real_mae, floor.real_ratio))
    print(line("bound (median of rollouts)", floor.bound_mae, floor.bound_ratio))
    print(line("bound, expected inside the model", floor.model_mae, floor.model_ratio))
    for ahead, (n, wait, real, bound) in floor.by_ahead.items():
        label = f"ahead {ahead}" + ("+" if ahead == 3 else "")
        print(
            f"  {label:<9} n {n:4}  mean wait {wait:5.2f}"
            f"  real MAE {real:5.2f}  bound MAE {bound:5.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
