"""Benchmark: the simulator's targets on the scenarios of deploy/scenarios/.

Runs every policy over the same days (the same citizens for each seed; seeds
11-20 and 101-110 by default) on district-centre, town-centre and
county-surge, and prints per scenario and policy: the overall p90 wait, the
worst wait / target wait of each service, the tickets that waited more than
twice their target, and the p90 of favoured (priority groups, appointments in
their slot) and green-channel tickets. Then it checks the targets of balanced
calling (issue #21):

* district-centre: balanced p90 at least 40% below dedicated, no ticket over
  twice its target, and no figure worse than under the rule it replaced (the
  class-first rule measured p90 7.15 min, worst wait/target 1.62 on these seeds);
* town-centre: worst wait/target of any service <= 3.5, at most 45 tickets
  over twice their target, p90 no worse than under the rule it replaced
  (17.10 min);
* every scenario: the engine's wait estimate MAE within 5 points (of the mean
  wait) of the Bayes floor computed by ``bench/estimate_bound.py`` on the
  same days, printed side by side.

Exits 1 when a target is missed. A benchmark, not a unit test: run it with
``make bench-sim``.

    .venv/bin/python bench/simulate_targets.py [--seeds 11-20,101-110] [--scenario FILE ...]
        [--rollouts 20] [--no-floor] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.estimate_bound import Floor, measure  # noqa: E402
from services.simulator.model import POLICY_NAMES, simulate_day  # noqa: E402
from services.simulator.report import Report, build_report  # noqa: E402
from services.simulator.scenario import load_scenario  # noqa: E402

SCENARIOS = ROOT / "deploy" / "scenarios"
DEFAULT_SCENARIOS = [
    SCENARIOS / "district-centre.toml",
    SCENARIOS / "town-centre.toml",
    SCENARIOS / "county-surge.toml",
]
DEFAULT_SEEDS = "11-20,101-110"
# Estimate MAE may exceed the Bayes floor by this much (share of the mean wait).
FLOOR_MARGIN = 0.05
# The class-first rule that help per service replaced (issue #21), on seeds
# 11-20 and 101-110: the figures balanced calling must not get worse than.
DISTRICT_BEFORE = {"p90": 7.15, "worst": 1.62}
TOWN_BEFORE_P90 = 17.10

Target = tuple[str, bool, str]


def parse_seeds(text: str) -> list[int]:
    """``11-20,101-110`` -> [11, ..., 20, 101, ..., 110]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def _district(reports: dict[str, Report]) -> list[Target]:
    balanced, dedicated = reports["balanced"], reports["dedicated"]
    cut = 1 - balanced.wait.p90 / dedicated.wait.p90 if dedicated.wait.p90 > 0 else 0.0
    return [
        (
            "balanced p90 wait >= 40% below dedicated",
            cut >= 0.40,
            f"p90 {balanced.wait.p90:.1f} vs {dedicated.wait.p90:.1f} min: {cut:.0%} below",
        ),
        (
            f"no ticket over twice its target; worst wait/target <= "
            f"{DISTRICT_BEFORE['worst']}, p90 <= {DISTRICT_BEFORE['p90']} min",
            balanced.over_twice_target == 0
            and balanced.worst_ratio <= DISTRICT_BEFORE["worst"]
            and balanced.wait.p90 <= DISTRICT_BEFORE["p90"],
            f"{balanced.over_twice_target} over, worst {balanced.worst_ratio:.2f} "
            f"({balanced.worst_service}), p90 {balanced.wait.p90:.2f} min",
        ),
    ]


def _town(reports: dict[str, Report]) -> list[Target]:
    balanced = reports["balanced"]
    return [
        (
            "worst wait/target <= 3.5, tickets over twice their target <= 45, "
            f"p90 <= {TOWN_BEFORE_P90} min",
            balanced.worst_ratio <= 3.5
            and balanced.over_twice_target <= 45
            and balanced.wait.p90 <= TOWN_BEFORE_P90,
            f"worst {balanced.worst_ratio:.2f} ({balanced.worst_service}), "
            f"{balanced.over_twice_target} over, p90 {balanced.wait.p90:.2f} min",
        ),
    ]


SCENARIO_TARGETS: dict[str, Callable[[dict[str, Report]], list[Target]]] = {
    "district-centre": _district,
    "town-centre": _town,
}


def _floor_target(floor: Floor) -> Target:
    gap = floor.real_ratio - floor.bound_ratio
    return (
        f"estimate MAE within {FLOOR_MARGIN * 100:.0f} points of the Bayes floor (balanced)",
        gap <= FLOOR_MARGIN,
        f"MAE {floor.real_mae:.2f} min = {floor.real_ratio:.0%} of the mean wait "
        f"{floor.mean_wait:.2f} min; floor {floor.bound_mae:.2f} min = {floor.bound_ratio:.0%}; "
        f"{gap * 100:+.0f} points",
    )


@dataclass
class ScenarioRun:
    name: str
    reports: dict[str, Report]
    floor: Floor | None
    targets: list[Target]
    seconds: float


def run_scenario(path: Path, seeds: list[int], rollouts: int, floor: bool) -> ScenarioRun:
    started = time.perf_counter()
    scenario = load_scenario(path)
    name = scenario.scenario.name
    reports = {
        policy: build_report([simulate_day(scenario, policy, seed) for seed in seeds])
        for policy in POLICY_NAMES
    }
    targets = SCENARIO_TARGETS.get(name, lambda _: [])(reports)
    measured = measure(scenario, "balanced", seeds, rollouts) if floor else None
    if measured is not None:
        targets.append(_floor_target(measured))
    return ScenarioRun(name, reports, measured, targets, time.perf_counter() - started)


def print_run(run: ScenarioRun, seeds_text: str) -> None:
    print(f"\n== {run.name} · seeds {seeds_text} · {run.seconds:.0f} s")
    print(
        f"{'policy':<13}{'mean':>6}{'p90':>6}{'fav p90':>8}{'green p90':>10}"
        f"{'worst w/t':>10}  {'':<12}{'>2x t':>6}{'MAE':>6}{'MAE/mean':>9}"
    )
    for policy, r in run.reports.items():
        print(
            f"{policy:<13}{r.wait.mean:>6.1f}{r.wait.p90:>6.1f}{r.favoured_wait.p90:>8.1f}"
            f"{r.green_wait.p90:>10.1f}{r.worst_ratio:>10.2f}  {r.worst_service:<12}"
            f"{r.over_twice_target:>6}{r.estimate_mae:>6.2f}{r.estimate_mae_ratio:>9.0%}"
        )
    codes = [s.code for s in next(iter(run.reports.values())).services]
    width = max(8, *(len(c) + 1 for c in codes))
    print("worst wait / target per service:")
    print(f"  {'policy':<13}" + "".join(f"{c:>{width}}" for c in codes))
    for policy, r in run.reports.items():
        ratios = {s.code: s.worst_ratio for s in r.services}
        print(f"  {policy:<13}" + "".join(f"{ratios[c]:>{width}.2f}" for c in codes))
    if run.floor is not None:
        f = run.floor
        print(
            f"estimate (balanced): MAE {f.real_mae:.2f} min ({f.real_ratio:.0%} of the mean "
            f"wait {f.mean_wait:.2f}) · Bayes floor {f.bound_mae:.2f} min ({f.bound_ratio:.0%})"
            f" · gap {(f.real_ratio - f.bound_ratio) * 100:+.0f} points"
        )
        for ahead, (n, wait, real, bound) in f.by_ahead.items():
            label = f"ahead {ahead}" + ("+" if ahead == 3 else "")
            print(
                f"  {label:<9} n {n:5}  mean wait {wait:5.2f}  MAE {real:5.2f}  floor {bound:5.2f}"
            )
    for target, ok, measured in run.targets:
        print(f"{'PASS' if ok else 'FAIL'}  {target}: {measured}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", action="append", help="a scenario file (repeatable)")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS, help="e.g. 11-20,101-110")
    parser.add_argument(
        "--rollouts", type=int, default=20, help="rollouts per waiting ticket for the floor"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the Bayes floor")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    paths = [Path(p) for p in args.scenario] if args.scenario else DEFAULT_SCENARIOS
    runs = [run_scenario(p, seeds, args.rollouts, not args.no_floor) for p in paths]
    if args.json:
        print(
            json.dumps(
                {
                    "seeds": seeds,
                    "scenarios": {
                        run.name: {
                            "policies": {p: r.as_dict() for p, r in run.reports.items()},
                            "estimate_floor": None
                            if run.floor is None
                            else {
                                "real_mae_ratio": run.floor.real_ratio,
                                "floor_mae_ratio": run.floor.bound_ratio,
                            },
                            "targets": [
                                {"target": t, "met": ok, "measured": m} for t, ok, m in run.targets
                            ],
                        }
                        for run in runs
                    },
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for run in runs:
            print_run(run, args.seeds)
    return 0 if all(ok for run in runs for _, ok, _ in run.targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
