"""Benchmark: the simulator's targets on deploy/scenarios/district-centre.toml.

Runs every policy over the same days (same citizens for each seed) and checks
the issue's targets at equal staffing:

* balanced p90 wait at least 40% below dedicated (today's practice);
* no ticket waits more than twice its service's target wait under balanced;
* wait estimate mean absolute error within 25% of the mean wait under balanced.

Prints the measured figures; exits 1 when a target is missed. A benchmark, not
a unit test: run it with ``make bench-sim``.

    .venv/bin/python bench/simulate_targets.py [--days 20] [--seed 1] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.simulator.model import POLICY_NAMES, simulate_day  # noqa: E402
from services.simulator.report import Report, build_report  # noqa: E402
from services.simulator.scenario import load_scenario  # noqa: E402

DEFAULT_SCENARIO = ROOT / "deploy" / "scenarios" / "district-centre.toml"


def targets(reports: dict[str, Report]) -> list[tuple[str, bool, str]]:
    balanced, dedicated = reports["balanced"], reports["dedicated"]
    cut = 1 - balanced.wait.p90 / dedicated.wait.p90 if dedicated.wait.p90 > 0 else 0.0
    return [
        (
            "balanced p90 wait >= 40% below dedicated",
            cut >= 0.40,
            f"p90 {balanced.wait.p90:.1f} vs {dedicated.wait.p90:.1f} min: {cut:.0%} below",
        ),
        (
            "no ticket waits more than twice its service's target (balanced)",
            balanced.over_twice_target == 0,
            f"{balanced.over_twice_target} tickets over; worst wait/target "
            f"{balanced.worst_ratio:.2f} ({balanced.worst_service})",
        ),
        (
            "estimate MAE within 25% of the mean wait (balanced)",
            balanced.estimate_mae_ratio <= 0.25,
            f"MAE {balanced.estimate_mae:.2f} min, mean wait {balanced.wait.mean:.2f} min: "
            f"{balanced.estimate_mae_ratio:.0%}; bias {balanced.estimate_bias:+.2f} min",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    reports: dict[str, Report] = {}
    started = time.perf_counter()
    for policy in POLICY_NAMES:
        days = [simulate_day(scenario, policy, args.seed + i) for i in range(args.days)]
        reports[policy] = build_report(days)
    elapsed = time.perf_counter() - started
    results = targets(reports)
    if args.json:
        print(
            json.dumps(
                {
                    "scenario": scenario.scenario.name,
                    "days": args.days,
                    "policies": {p: r.as_dict() for p, r in reports.items()},
                    "targets": [{"target": t, "met": ok, "measured": m} for t, ok, m in results],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(
            f"{scenario.scenario.name}: {args.days} days per policy, seeds {args.seed}.."
            f"{args.seed + args.days - 1}, {elapsed:.1f} s"
        )
        print(
            f"{'policy':<13}{'mean':>7}{'p90':>7}{'max':>7}{'max/t':>7}{'>2x t':>7}"
            f"{'util CV':>9}{'spread':>8}{'MAE':>7}{'MAE/mean':>10}{'bias':>7}"
        )
        for p, r in reports.items():
            print(
                f"{p:<13}{r.wait.mean:>7.1f}{r.wait.p90:>7.1f}{r.wait.max:>7.1f}"
                f"{r.worst_ratio:>7.2f}{r.over_twice_target:>7}{r.utilisation_cv:>9.2f}"
                f"{r.utilisation_spread:>8.2f}{r.estimate_mae:>7.2f}"
                f"{r.estimate_mae_ratio:>10.0%}{r.estimate_bias:>+7.2f}"
            )
        for target, ok, measured in results:
            print(f"{'PASS' if ok else 'FAIL'}  {target}: {measured}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
