"""The pure rules of the 好差评 loop: working-day deadlines, the case states, the
indicators on a hand-built data set, the code presets and the export layout."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from services.engine.core import pii
from services.engine.core.errors import AppealRefused, CaseStepRefused
from services.engine.reviews import export
from services.engine.reviews.calendar import WorkCalendar, national_years, provisional
from services.engine.reviews.codes import PRESETS
from services.engine.reviews.indicators import CaseFact, RatingFact, compute
from services.engine.reviews.states import CaseState, Step, next_state

NATIONAL = WorkCalendar()


def test_national_day_with_its_adjusted_saturday() -> None:
    # 2026: 1-7 October off; Saturday 10 October worked (调休), per chinese-calendar.
    rated = date(2026, 9, 30)  # the day before the holiday
    assert NATIONAL.add_working_days(rated, 1) == date(2026, 10, 8)
    # 8, 9, 10 (Sat, worked), 12, 13, 14, 15, 16, 19, 20 October.
    assert NATIONAL.add_working_days(rated, 10) == date(2026, 10, 20)
    assert NATIONAL.is_working_day(date(2026, 10, 10))
    assert not NATIONAL.is_working_day(date(2026, 10, 5))


def test_spring_festival_with_its_adjusted_saturdays() -> None:
    # 2026 Spring Festival: 15-23 February off; Saturdays 14 and 28 February worked.
    assert NATIONAL.is_working_day(date(2026, 2, 14))
    assert NATIONAL.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert NATIONAL.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    # 24, 25, 26, 27, 28 (Sat, worked) February, 2, 3, 4, 5 March.
    assert NATIONAL.add_working_days(date(2026, 2, 14), 5) == date(2026, 2, 28)
    assert NATIONAL.add_working_days(date(2026, 2, 14), 10) == date(2026, 3, 6)


def test_a_halls_own_closed_and_working_dates() -> None:
    # Nationally: 8, 9, 10 (Sat, worked), 12 October.
    assert NATIONAL.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)
    closed = WorkCalendar.of(closed=[date(2026, 10, 9)])
    # 8, (9 closed by the hall), 10, 12, 13.
    assert closed.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 13)
    extra = WorkCalendar.of(closed=[date(2026, 10, 9)], extra=[date(2026, 10, 11)])
    # 8, 10, 11 (the hall's own working Sunday), 12.
    assert extra.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)


def test_a_year_the_package_lacks_counts_monday_to_friday_and_says_so() -> None:
    """A bad review in late December still gets its deadline when next year's holidays
    are not published yet (refusing it would lose the citizen's rating)."""
    _, last = national_years()
    year = last + 1
    # 10 working days from 1 March of a year not published yet, counted Monday-Friday.
    start = date(year, 3, 1)
    due = NATIONAL.add_working_days(start, 10)
    weekdays = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert sum(1 for d in weekdays if d.weekday() < 5) == 10 and due.weekday() < 5
    assert provisional(start, due)
    # Known years are exact, not provisional; the hall's own dates still count.
    assert not provisional(date(2026, 9, 30), date(2026, 10, 20))
    closed = WorkCalendar.of(closed=[due])
    assert closed.add_working_days(start, 10) > due


def test_working_days_left() -> None:
    assert NATIONAL.working_days_left(date(2026, 10, 8), date(2026, 10, 20)) == 9
    assert NATIONAL.working_days_left(date(2026, 10, 20), date(2026, 10, 20)) == 0
    assert NATIONAL.working_days_left(date(2026, 10, 21), date(2026, 10, 20)) == -1


def test_the_case_walks_its_steps_in_order() -> None:
    state = CaseState.PENDING_CONTACT
    for step, target in (
        (Step.CONTACT, CaseState.CONTACTED),
        (Step.VERIFY, CaseState.VERIFIED),
        (Step.PLAN, CaseState.RECTIFYING),
        (Step.RECTIFIED, CaseState.RECTIFIED),
        (Step.REPLY, CaseState.REPLIED),
        (Step.SATISFACTION, CaseState.SURVEYED),
        (Step.CLOSE, CaseState.CLOSED),
    ):
        state = next_state(state, step, valid=True)
        assert state is target
    with pytest.raises(CaseStepRefused):
        next_state(CaseState.PENDING_CONTACT, Step.REPLY)
    with pytest.raises(CaseStepRefused):
        next_state(CaseState.CLOSED, Step.CONTACT)


def test_invalid_goes_to_appeal_and_the_decision_routes_it() -> None:
    assert next_state(CaseState.CONTACTED, Step.VERIFY, valid=False) is CaseState.APPEALING
    assert next_state(CaseState.APPEALING, Step.DECIDE, upheld=True) is CaseState.CLOSED
    assert next_state(CaseState.APPEALING, Step.DECIDE, upheld=False) is CaseState.VERIFIED
    assert next_state(CaseState.PENDING_CONTACT, Step.APPEAL) is CaseState.APPEALING
    with pytest.raises(AppealRefused):
        next_state(CaseState.VERIFIED, Step.APPEAL, appealed_before=True)
    with pytest.raises(AppealRefused):
        next_state(CaseState.RECTIFIED, Step.APPEAL)


def test_indicators_on_a_hand_built_month() -> None:
    # 20 finished tickets; 12 active ratings + 3 system defaults.
    ratings = (
        [RatingFact(5, "gateway")] * 6
        + [RatingFact(4, "qr")] * 2
        + [RatingFact(3, "kiosk")]
        + [RatingFact(2, "qr"), RatingFact(1, "gateway")]
        + [RatingFact(1, "qr", excluded=True)]  # invalid after 申诉复核
        + [RatingFact(5, "system_default")] * 3
    )
    due = date(2026, 10, 20)
    cases = [
        # contacted, rectified on time, replied, satisfied
        CaseFact(
            due,
            contacted=True,
            rectified_on=date(2026, 10, 19),
            replied=True,
            satisfaction="satisfied",
        ),
        # contacted, rectified late, replied, unsatisfied
        CaseFact(
            due,
            contacted=True,
            rectified_on=date(2026, 10, 21),
            replied=True,
            satisfaction="unsatisfied",
        ),
        CaseFact(due, excluded=True, contacted=True),
    ]
    got = compute(20, ratings, cases)
    assert (got.finished, got.active, got.defaults, got.excluded, got.cases) == (20, 12, 3, 1, 2)
    assert got.levels == {5: 9, 4: 2, 3: 1, 2: 1, 1: 1}

    def pct(key: str) -> tuple[int, int, Decimal | None]:
        rate = got.rates[key]
        return rate.numerator, rate.denominator, rate.percent

    assert pct("participation") == (12, 20, Decimal("60.00"))  # active / finished
    assert pct("unrated") == (8, 20, Decimal("40.00"))  # defaults count as unrated
    # 好评: levels 3-5 of the counted ratings (14 = 15 minus the excluded one): 12 / 14.
    assert pct("good") == (12, 14, Decimal("85.71"))
    # 主动评价好评率: active, counted: 11 ratings, 9 good.
    assert pct("active_good") == (9, 11, Decimal("81.82"))
    assert pct("bad") == (2, 14, Decimal("14.29"))
    assert pct("reply") == (2, 2, Decimal("100.00"))
    assert pct("contact") == (2, 2, Decimal("100.00"))
    assert pct("rectify") == (2, 2, Decimal("100.00"))
    assert pct("rectify_on_time") == (1, 2, Decimal("50.00"))
    assert pct("contact_rectify") == (2, 2, Decimal("100.00"))
    assert pct("rectify_satisfaction") == (1, 2, Decimal("50.00"))


def test_an_empty_period_has_no_rates_not_zero() -> None:
    got = compute(0, [], [])
    assert all(rate.percent is None for rate in got.rates.values())


def test_rates_round_half_up() -> None:
    got = compute(8, [RatingFact(5, "qr")] * 1, [])
    assert got.rates["participation"].percent == Decimal("12.50")
    got = compute(3, [RatingFact(5, "qr")] * 2, [])
    assert got.rates["participation"].percent == Decimal("66.67")


def test_presets_map_levels_both_ways() -> None:
    national, provincial = PRESETS["national"], PRESETS["provincial_reverse"]
    assert national.satisfaction[5] == "1" and national.satisfaction[1] == "5"
    assert provincial.satisfaction[5] == "5" and provincial.satisfaction[1] == "1"
    assert "system_default" not in national.channels
    assert provincial.channels["system_default"] == "9"


def test_export_layout_and_skipped_defaults() -> None:
    at = datetime(2026, 9, 30, 17, 5, 0)
    records = [
        export.RatingRecord("h-20260930-A001", "qr", at, 1, ("服务态度差",), "等了很久"),
        export.RatingRecord("h-20260930-A002", "system_default", at, 5, (), None),
    ]
    national = export.build(PRESETS["national"], "330106", records, [])
    assert national.skipped == 1
    assert national.ratings == [
        {
            "办件编号": "h-20260930-A001",
            "评价渠道": "3",
            "评价人": "匿名",
            "评价时间": "20260930T170500",
            "评价次数": "1",
            "满意度代码": "5",
            "文字评价": "服务态度差；等了很久",
            "行政区划": "330106",
        }
    ]
    provincial = export.build(PRESETS["provincial_reverse"], "330106", records, [])
    assert provincial.skipped == 0
    assert [r["满意度代码"] for r in provincial.ratings] == ["1", "5"]
    assert provincial.ratings[1]["评价渠道"] == "9"
    text = export.to_csv(national.ratings, export.RATING_FIELDS).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(export.RATING_FIELDS) and rows[1][3] == "20260930T170500"


def test_the_callback_phone_seal_opens_only_with_its_key_and_row() -> None:
    token = pii.seal("k" * 32, "row:1", "13800138000")
    assert "13800138000" not in token and token.startswith("v1.")
    assert pii.unseal("k" * 32, "row:1", token) == "13800138000"
    with pytest.raises(ValueError):
        pii.unseal("k" * 32, "row:2", token)
    with pytest.raises(ValueError):
        pii.unseal("x" * 32, "row:1", token)
