"""The 好差评 indicators of a period (GB/T 39734-2020, GB/T 39735-2020). Pure.

The formulas are written out in docs/reviews.md; the names below are the standards'.
Every rate is kept as numerator / denominator and shown as a percentage with two
decimals, rounded half up; a rate whose denominator is 0 has no value (None), never 0
or 100. Invalid bad reviews (upheld by 申诉复核) are kept and counted separately, but
left out of every rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

SYSTEM_DEFAULT = "system_default"
GOOD_LEVELS = (3, 4, 5)  # 基本满意, 满意, 非常满意 are 好评
BAD_LEVELS = (1, 2)  # 不满意, 非常不满意 are 差评
SATISFIED = ("satisfied", "basic")
ANSWERED = ("satisfied", "basic", "unsatisfied")


@dataclass(frozen=True)
class RatingFact:
    level: int
    channel: str
    # An invalid bad review, upheld by 申诉复核: kept, left out of the rates.
    excluded: bool = False


@dataclass(frozen=True)
class CaseFact:
    rectify_due: date
    excluded: bool = False
    contacted: bool = False
    rectified_on: date | None = None  # the local date it was rectified
    replied: bool = False
    satisfaction: str | None = None


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> Decimal | None:
        if self.denominator == 0:
            return None
        value = Decimal(self.numerator) * 100 / Decimal(self.denominator)
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict[str, object]:
        percent = self.percent
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "percent": None if percent is None else str(percent),
        }


# The indicators in the order they are shown, with their Chinese names.
NAMES = {
    "participation": "参评率",
    "unrated": "未评率",
    "good": "好评率",
    "active_good": "主动评价好评率",
    "bad": "差评率",
    "reply": "差评回复率",
    "contact": "回访率",
    "rectify": "整改率",
    "rectify_on_time": "按期整改率",
    "contact_rectify": "回访整改率",
    "rectify_satisfaction": "回访整改满意率",
}


@dataclass(frozen=True)
class Indicators:
    finished: int  # 办件量: finished tickets of the period
    active: int  # ratings the citizen gave (主动评价)
    defaults: int  # system-default ratings (默认评价)
    excluded: int  # invalid bad reviews after 申诉复核
    levels: dict[int, int]  # counted ratings per level (5 ... 1), excluded ones left out
    cases: int  # bad-review cases counted (excluded ones left out)
    rates: dict[str, Rate]

    def as_dict(self) -> dict[str, object]:
        return {
            "finished": self.finished,
            "active": self.active,
            "defaults": self.defaults,
            "excluded": self.excluded,
            "levels": {str(k): v for k, v in sorted(self.levels.items(), reverse=True)},
            "cases": self.cases,
            "rates": {
                key: {"name": NAMES[key], **rate.as_dict()} for key, rate in self.rates.items()
            },
        }


def compute(finished: int, ratings: Sequence[RatingFact], cases: Sequence[CaseFact]) -> Indicators:
    """The indicators of a period from its finished tickets, ratings and cases."""
    counted = [r for r in ratings if not r.excluded]
    active = [r for r in ratings if r.channel != SYSTEM_DEFAULT]
    active_counted = [r for r in active if not r.excluded]
    good = sum(1 for r in counted if r.level in GOOD_LEVELS)
    bad = sum(1 for r in counted if r.level in BAD_LEVELS)
    live = [c for c in cases if not c.excluded]
    rectified = [c for c in live if c.rectified_on is not None]
    answered = [c for c in live if c.satisfaction in ANSWERED]
    rates = {
        "participation": Rate(len(active), finished),
        "unrated": Rate(max(finished - len(active), 0), finished),
        "good": Rate(good, len(counted)),
        "active_good": Rate(
            sum(1 for r in active_counted if r.level in GOOD_LEVELS), len(active_counted)
        ),
        "bad": Rate(bad, len(counted)),
        "reply": Rate(sum(1 for c in live if c.replied), len(live)),
        "contact": Rate(sum(1 for c in live if c.contacted), len(live)),
        "rectify": Rate(len(rectified), len(live)),
        "rectify_on_time": Rate(
            sum(1 for c in rectified if c.rectified_on and c.rectified_on <= c.rectify_due),
            len(live),
        ),
        "contact_rectify": Rate(sum(1 for c in rectified if c.contacted), len(live)),
        "rectify_satisfaction": Rate(
            sum(1 for c in answered if c.satisfaction in SATISFIED), len(answered)
        ),
    }
    levels = {level: sum(1 for r in counted if r.level == level) for level in (5, 4, 3, 2, 1)}
    return Indicators(
        finished=finished,
        active=len(active),
        defaults=len(ratings) - len(active),
        excluded=len(ratings) - len(counted),
        levels=levels,
        cases=len(live),
        rates=rates,
    )
