"""A region's figures from its halls' (docs/statistics.md, "Regions"). Pure.

Counts add up: a region's 办件量 is the sum of its halls'. Waits and handling times do
not (a median of medians is no median): the region's are computed again from all its
halls' tickets together. 忙闲不均 across a region compares every window of every hall:
the busiest three windows' share of the region's cases, the Gini of handling time, and
the windows under their own hall's monthly threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.engine.statistics import measures
from services.engine.statistics.reports import Balance, Volume, WindowLine


def add_volume(a: Volume, b: Volume) -> Volume:
    def merged(x: Mapping[str, int], y: Mapping[str, int]) -> dict[str, int]:
        out = dict(x)
        for k, v in y.items():
            out[k] = out.get(k, 0) + v
        return dict(sorted(out.items()))

    return Volume(
        issued=a.issued + b.issued,
        served=a.served + b.served,
        no_show=a.no_show + b.no_show,
        cancelled=a.cancelled + b.cancelled,
        transferred=a.transferred + b.transferred,
        held=a.held + b.held,
        held_expired=a.held_expired + b.held_expired,
        by_source=merged(a.by_source, b.by_source),
        by_outcome=merged(a.by_outcome, b.by_outcome),
    )


def sum_volumes(tables: Iterable[Mapping[str, Volume]]) -> dict[str, Volume]:
    """Per period key, the sum of every hall's volume (keys in order)."""
    out: dict[str, Volume] = {}
    for table in tables:
        for key, volume in table.items():
            out[key] = add_volume(out[key], volume) if key in out else volume
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class RegionWindow:
    """One window of one hall, as the region compares it."""

    hall: str
    window: int
    cases: int
    handling_seconds: float
    case_share: float  # of the region's cases
    low: bool  # under its hall's threshold for the period


@dataclass(frozen=True)
class RegionBalance:
    windows: list[RegionWindow]  # the windows that worked, busiest first
    top3_case_share: float | None
    top3_handling_share: float | None
    gini_handling: float | None
    busiest: list[RegionWindow]  # the three windows that did most of the cases
    low_volume: list[RegionWindow]  # under their hall's monthly threshold, fewest first


def region_balance(halls: Mapping[str, tuple[Mapping[int, WindowLine], Balance]]) -> RegionBalance:
    """忙闲不均 across the region: ``halls`` maps a hall's code to its windows report."""
    worked: list[tuple[str, int, WindowLine, bool]] = []
    for code, (lines, balance) in halls.items():
        low = set(balance.low_volume_windows)
        for number, line in lines.items():
            if line.open_seconds > 0 or line.cases > 0:
                worked.append((code, number, line, number in low))
    keys = {f"{c}#{n}": line for c, n, line, _ in worked}
    shares = measures.shares({k: line.cases for k, line in keys.items()})
    windows = sorted(
        (
            RegionWindow(c, n, line.cases, line.handling_seconds, shares[f"{c}#{n}"], low)
            for c, n, line, low in worked
        ),
        key=lambda w: (-w.cases, w.hall, w.window),
    )
    return RegionBalance(
        windows=windows,
        top3_case_share=measures.top_share({k: line.cases for k, line in keys.items()}),
        top3_handling_share=measures.top_share(
            {k: line.handling_seconds for k, line in keys.items()}
        ),
        gini_handling=measures.gini(line.handling_seconds for line in keys.values()),
        busiest=[w for w in windows if w.cases > 0][:3],
        low_volume=sorted((w for w in windows if w.low), key=lambda w: (w.cases, w.hall, w.window)),
    )
