"""The day-in-the-hall simulator: same citizens for every policy, balanced beats dedicated."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from services.cli import main as jiaohao
from services.engine.balancing import policy as engine_policy
from services.simulator import model
from services.simulator.model import Simulation, simulate_day
from services.simulator.report import build_report, percentile
from services.simulator.scenario import ScenarioInvalid, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
TOWN = ROOT / "deploy" / "scenarios" / "town-centre.toml"
DISTRICT = ROOT / "deploy" / "scenarios" / "district-centre.toml"
SEEDS = range(1, 5)


def test_balanced_beats_dedicated_on_the_town_centre() -> None:
    scenario = load_scenario(TOWN)
    reports = {
        p: build_report([simulate_day(scenario, p, s) for s in SEEDS])
        for p in ("dedicated", "balanced")
    }
    dedicated, balanced = reports["dedicated"], reports["balanced"]
    assert balanced.tickets == dedicated.tickets > 300
    assert balanced.wait.p90 < dedicated.wait.p90
    assert balanced.wait.mean < dedicated.wait.mean
    assert balanced.wait.max < dedicated.wait.max
    # Load spread evenly: the utilisation of windows varies less.
    assert balanced.utilisation_cv < dedicated.utilisation_cv


def test_every_policy_sees_the_same_citizens() -> None:
    scenario = load_scenario(TOWN)
    days = [simulate_day(scenario, p, 7) for p in model.POLICY_NAMES]
    signatures = [
        [
            (t.service_id, t.priority, round(t.arrival, 6), round(t.handle, 6), t.no_show)
            for t in d.tickets
        ]
        for d in days
    ]
    assert signatures[0] == signatures[1] == signatures[2]
    # Everyone who took a ticket is called by the end of the day.
    assert all(t.called is not None for d in days for t in d.tickets)


def test_same_seed_same_result_and_different_seed_different_day() -> None:
    scenario = load_scenario(TOWN)
    a = build_report([simulate_day(scenario, "balanced", 3)])
    b = build_report([simulate_day(scenario, "balanced", 3)])
    c = build_report([simulate_day(scenario, "balanced", 4)])
    assert a == b
    assert a != c


def test_dedicated_windows_serve_only_their_own_services() -> None:
    scenario = load_scenario(DISTRICT)
    day = simulate_day(scenario, "dedicated", 1)
    own = {
        n: {scenario.service_index()[c] for c in spec.own_services()}
        for spec in scenario.windows
        for n in spec.window_numbers()
    }
    assert all(t.service_id in own[t.window] for t in day.tickets if t.window is not None)


def test_simulator_calls_the_engines_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = engine_policy.rank

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_policy, "rank", spy)
    Simulation(load_scenario(TOWN), "balanced", 1).run()
    assert len(calls) > 100


def test_percentile_nearest_rank() -> None:
    assert percentile([], 90) == 0.0
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([5.0], 90) == 5.0


def test_scenario_refusals_are_clear(tmp_path: Path) -> None:
    text = TOWN.read_text(encoding="utf-8")
    with pytest.raises(ScenarioInvalid, match="shares add up"):
        parse_scenario(text.replace("share = 0.55", "share = 0.65"))
    with pytest.raises(ScenarioInvalid, match="unknown service"):
        parse_scenario(text.replace('services = ["consult"]', 'services = ["tax"]'))
    with pytest.raises(ScenarioInvalid, match="not valid TOML"):
        parse_scenario("[scenario")
    with pytest.raises(ScenarioInvalid, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_cli_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    code = jiaohao(
        [
            "simulate",
            "--scenario",
            str(TOWN),
            "--policy",
            "balanced",
            "--seed",
            "2",
            "--json",
            "--progress",
            "off",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    report = out["policies"]["balanced"]
    assert out["scenario"] == "town-centre" and report["seeds"] == [2]
    for key in ("mean", "p90", "max"):
        assert report["wait"][key] >= 0
    assert {s["code"] for s in report["services"]} == {"social", "civil", "consult"}
    assert {
        "utilisation_spread",
        "utilisation_cv",
        "estimate_mae",
        "estimate_bias",
        "worst_ratio",
    } <= set(report)


def test_cli_text_report_with_progress_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "day.png"
    code = jiaohao(
        [
            "simulate",
            "--scenario",
            str(TOWN),
            "--days",
            "2",
            "--plot",
            str(chart),
            "--progress",
            "on",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "balanced p90 wait is" in captured.out and "policy dedicated" in captured.out
    assert "100%" in captured.err and "chart written" in captured.err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_without_matplotlib_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = jiaohao(
        [
            "simulate",
            "--scenario",
            str(TOWN),
            "--plot",
            str(tmp_path / "x.png"),
            "--progress",
            "off",
        ]
    )
    assert code == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 'x'\n", encoding="utf-8")
    assert jiaohao(["simulate", "--scenario", str(bad), "--progress", "off"]) == 2
    assert "scenario refused" in capsys.readouterr().err


def test_tidal_windows_in_the_simulation() -> None:
    text = TOWN.read_text(encoding="utf-8") + (
        '\n[tidal]\nmode = "auto"\nwindows = [3]\n'
        '[[tidal.rules]]\nservice = "consult"\n'
        "high_waiting = 3\nlow_waiting = 0\nhold_minutes = 5\n"
    )
    scenario = parse_scenario(text)
    day = simulate_day(scenario, "balanced", 1)
    actions = [c.action for c in day.tidal_changes]
    assert "open" in actions and "close" in actions
    opened = next(c for c in day.tidal_changes if c.action == "open")
    assert opened.windows == (3,) and "high mark 3" in opened.reason
    consult = scenario.service_index()["consult"]
    assert any(t.window == 3 and t.service_id == consult for t in day.tickets)
    # Today's practice has no tidal windows.
    assert simulate_day(scenario, "dedicated", 1).tidal_changes == []


SURGE = ROOT / "deploy" / "scenarios" / "county-surge.toml"


def test_a_service_with_its_own_profile_surges_and_the_others_keep_the_days() -> None:
    scenario = load_scenario(SURGE)
    ids = scenario.service_index()
    tickets = [t for s in SEEDS for t in model.generate_arrivals(scenario, random_of(s))]
    open_s = scenario.scenario.open_minute * 60.0

    def morning_share(code: str) -> float:
        mine = [t for t in tickets if t.service_id == ids[code]]
        return sum(t.arrival < open_s + 2 * 3600 for t in mine) / len(mine)

    # Medical insurance payment: 6.0 of 9.15 hourly weight in the first two hours.
    assert morning_share("medical-pay") > 0.55
    # The others follow the day's profile: 2.6 of 8.4.
    assert 0.2 < morning_share("consult") < 0.45
    # Each service keeps its share of the day's visitors (Poisson; four days).
    medical = sum(t.service_id == ids["medical-pay"] for t in tickets)
    assert abs(medical / len(tickets) - 0.48) < 0.06


def random_of(seed: int) -> random.Random:
    return random.Random(seed)


def test_a_services_profile_must_cover_the_day() -> None:
    text = SURGE.read_text(encoding="utf-8")
    with pytest.raises(ScenarioInvalid, match="'medical-pay': hourly needs a rate"):
        parse_scenario(text.replace("hourly = [3.2, 2.8, 1.4,", "hourly = [", 1))
    with pytest.raises(ScenarioInvalid, match="not all zero"):
        parse_scenario(
            text.replace(
                "hourly = [3.2, 2.8, 1.4, 0.4, 0.2, 0.4, 0.4, 0.3, 0.1]",
                "hourly = [0, 0, 0, 0, 0, 0, 0, 0, 0]",
            )
        )


def test_the_simulator_gives_the_policy_the_engines_recent_handle_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[int, float]] = []
    real = engine_policy.rank

    def spy(window, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(dict(window.handle_seconds))
        return real(window, *args, **kwargs)

    monkeypatch.setattr(engine_policy, "rank", spy)
    sim = Simulation(load_scenario(SURGE), "balanced", 1)
    configured = dict(sim.handle.averages)
    sim.run()
    # First the configured averages, then moving averages of the day's handle times.
    assert seen[0] == configured
    assert seen[-1].keys() == configured.keys() and seen[-1] != configured


def test_general_windows_help_the_surge() -> None:
    scenario = load_scenario(SURGE)
    ids = scenario.service_index()
    day = simulate_day(scenario, "balanced", 3)
    general = {6, 7, 8}
    helped = [t for t in day.tickets if t.window in general and t.service_id == ids["medical-pay"]]
    # They help the surging queue, mostly while it surges (before noon)...
    assert len(helped) > 20
    noon = 12 * 3600
    assert sum(t.called is not None and t.called < noon for t in helped) > 0.7 * len(helped)
    # ...and keep serving their own matters meanwhile.
    own = {ids[c] for c in ("consult", "civil", "disability")}
    assert (
        sum(
            t.window in general and t.service_id in own and t.called is not None and t.called < noon
            for t in day.tickets
        )
        > 20
    )


def test_the_floor_replays_the_real_day_exactly_in_check_mode() -> None:
    """bench/estimate_bound.py: with the real hidden values a rollout must reproduce
    every real wait (the policy, its look-ahead facts and the day copied whole)."""
    from bench.estimate_bound import measure

    floor = measure(load_scenario(SURGE), "balanced", [11], rollouts=1, check=True)
    assert floor.tickets > 200 and floor.real_mae > 0
    assert floor.bound_mae == 0


def test_bench_sim_prints_the_table_and_checks_the_targets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.simulate_targets import main as bench_sim
    from bench.simulate_targets import parse_seeds

    assert parse_seeds("11-13,101") == [11, 12, 13, 101]
    code = bench_sim(["--scenario", str(TOWN), "--seeds", "11-12", "--rollouts", "2"])
    out = capsys.readouterr().out
    assert "== town-centre · seeds 11-12" in out
    assert "fav p90" in out and "green p90" in out and "worst wait / target per service" in out
    assert "Bayes floor" in out and "ahead 0" in out
    assert out.count("PASS") + out.count("FAIL") == 2  # the town targets, the estimate
    assert code == (0 if "FAIL" not in out else 1)
