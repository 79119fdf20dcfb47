"""Charts of a simulated day: queue length per service, utilisation per window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.simulator.model import DayResult
from services.simulator.report import Report


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


# Services drawn one by one; the rest are summed as "others".
TOP_SERVICES = 6


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PlotUnavailable(
            "--plot needs matplotlib: pip install 'jiaohao[plot]' (or pip install matplotlib)"
        ) from err
    return plt


def plot_day(days: Sequence[DayResult], reports: Sequence[Report], out: str | Path) -> Path:
    """Queue length per service over the first day (one panel per policy) and utilisation."""
    plt = _pyplot()
    scenario = days[0].scenario
    codes = {i + 1: s.code for i, s in enumerate(scenario.services)}
    # Biggest services by share get their own line.
    ranked = sorted(scenario.services, key=lambda s: -s.share)
    top_ids = [scenario.service_index()[s.code] for s in ranked[:TOP_SERVICES]]
    panels = len(days)
    fig, axes = plt.subplots(
        panels + 1,
        1,
        figsize=(11, 3.2 * panels + 3.4),
        squeeze=False,
        gridspec_kw={"height_ratios": [3] * panels + [2.6]},
    )
    ymax = max((max(s.values(), default=0) for d in days for _, s in d.samples), default=1)
    for ax, day, report in zip(axes[:panels, 0], days, reports, strict=True):
        hours = [t / 3600 for t, _ in day.samples]
        for sid in top_ids:
            ax.plot(hours, [s.get(sid, 0) for _, s in day.samples], label=codes[sid], linewidth=1.6)
        others = [sum(v for k, v in s.items() if k not in top_ids) for _, s in day.samples]
        ax.plot(hours, others, label="others", linewidth=1.2, linestyle="--", color="grey")
        ax.set_title(
            f"{report.policy}: waiting tickets per service "
            f"(p90 wait {report.wait.p90:.1f} min, max {report.wait.max:.1f} min)",
            fontsize=10,
        )
        ax.set_ylabel("waiting")
        ax.set_ylim(0, ymax * 1.05 + 1)
        ax.set_xlim(day.start / 3600, day.end / 3600)
        ax.grid(alpha=0.3)
        ax.legend(ncol=4, fontsize=8, loc="upper right")
    axes[panels - 1, 0].set_xlabel("hour of day")
    ax = axes[panels, 0]
    numbers = [w.number for w in reports[0].windows]
    width = 0.8 / len(reports)
    for i, report in enumerate(reports):
        xs = [n + (i - (len(reports) - 1) / 2) * width for n in numbers]
        ax.bar(
            xs,
            [w.utilisation * 100 for w in report.windows],
            width=width,
            label=f"{report.policy} (CV {report.utilisation_cv:.2f})",
        )
    ax.set_title("utilisation per window", fontsize=10)
    ax.set_xlabel("window")
    ax.set_ylabel("busy %")
    ax.set_ylim(0, 105)
    ax.set_xticks(numbers)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"{scenario.scenario.name}, seed {days[0].seed}", fontsize=12)
    fig.tight_layout()
    path = Path(out)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
