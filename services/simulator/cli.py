"""``jiaohao simulate``: run a scenario under one or all policies and report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from services.simulator.model import POLICY_NAMES, DayResult, Simulation
from services.simulator.progress import ProgressBar
from services.simulator.report import Report, build_report, format_report
from services.simulator.scenario import Scenario, ScenarioInvalid, load_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, help="scenario TOML (deploy/scenarios/)")
    parser.add_argument(
        "--policy",
        choices=[*POLICY_NAMES, "all"],
        default="all",
        help="calling policy to simulate (default: all three, for comparison)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the first day")
    parser.add_argument(
        "--days", type=int, default=1, help="days to simulate (seeds seed, seed+1, ...)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", help="chart queue lengths and utilisation")
    parser.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help="progress bar on stderr (auto: when stderr is a terminal)",
    )


def run_policy(
    scenario: Scenario, policy: str, seed: int, days: int, bar: ProgressBar, done_before: float
) -> list[DayResult]:
    day_span = _day_span(scenario)
    open_s = scenario.scenario.open_minute * 60.0
    results = []
    for i in range(days):
        base = done_before + i * day_span
        sim = Simulation(scenario, policy, seed + i)

        def progress(t: float, base: float = base) -> None:
            bar.update(base + min(t - open_s, day_span))

        results.append(sim.run(progress))
    return results


def _day_span(scenario: Scenario) -> float:
    return (scenario.scenario.close_minute - scenario.scenario.open_minute) * 60.0


def main(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("--days must be at least 1", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioInvalid as err:
        print(str(err), file=sys.stderr)
        return 2
    if args.plot:
        from services.simulator.plot import PlotUnavailable, _pyplot

        try:
            _pyplot()
        except PlotUnavailable as err:
            print(str(err), file=sys.stderr)
            return 2
    policies = list(POLICY_NAMES) if args.policy == "all" else [args.policy]
    enabled = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())
    bar = ProgressBar(
        _day_span(scenario) * args.days * len(policies),
        f"{scenario.scenario.name}",
        enabled=enabled,
    )
    reports: list[Report] = []
    first_days: list[DayResult] = []
    for n, policy in enumerate(policies):
        bar.label = f"{scenario.scenario.name} · {policy}"
        days = run_policy(
            scenario, policy, args.seed, args.days, bar, n * args.days * _day_span(scenario)
        )
        reports.append(build_report(days))
        first_days.append(days[0])
    bar.close()
    if args.json:
        out: dict[str, Any] = {"scenario": scenario.scenario.name, "policies": {}}
        for report in reports:
            out["policies"][report.policy] = report.as_dict()
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_report(r) for r in reports))
        if len(reports) > 1:
            print("\n" + compare(reports))
    if args.plot:
        from services.simulator.plot import plot_day

        path = plot_day(first_days, reports, args.plot)
        print(f"chart written to {path}", file=sys.stderr)
    return 0


def compare(reports: list[Report]) -> str:
    """One line per policy, and how the balanced policy compares with today's practice."""
    lines = [f"{'policy':<13}{'mean':>7}{'p90':>7}{'max':>7}{'max/t':>7}{'util CV':>9}{'MAE':>7}"]
    for r in reports:
        lines.append(
            f"{r.policy:<13}{r.wait.mean:>7.1f}{r.wait.p90:>7.1f}{r.wait.max:>7.1f}"
            f"{r.worst_ratio:>7.2f}{r.utilisation_cv:>9.2f}{r.estimate_mae:>7.1f}"
        )
    by = {r.policy: r for r in reports}
    if "balanced" in by and "dedicated" in by and by["dedicated"].wait.p90 > 0:
        cut = 1 - by["balanced"].wait.p90 / by["dedicated"].wait.p90
        lines.append(f"balanced p90 wait is {cut:.0%} below dedicated")
    return "\n".join(lines)
