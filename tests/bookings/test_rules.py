"""Pure booking rules: slots, release, cutoffs, arrival window, no-shows, signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.engine.bookings import rules
from services.engine.bookings.rules import BookingSpec
from services.engine.halls.settings import service_schedule
from services.engine.partners import signing
from services.engine.partners.ratelimit import RateLimited, RateLimiter
from services.engine.setup.hall_file import parse_hall_file

TZ = ZoneInfo("Asia/Shanghai")

HALL = """
[hall]
code = "town"
name = "镇便民服务中心"

[hall.hours]
weekly = { "mon-fri" = ["08:30-12:00", "14:00-17:30"] }
extra = { wed = ["19:00-21:00"] }
closed_dates = [2026-10-01]
working_dates = { 2026-10-10 = "mon" }

[hall.booking]
slot_minutes = 30
capacity_per_slot = 4
release_days_ahead = 7
release_time = "09:00"

[[services]]
code = "estate"
name = "不动产登记"
prefix = "B"
hours = { "mon-fri" = ["09:00-11:00"] }
booking = { slot_minutes = 45, capacity_per_slot = 2 }

[[services]]
code = "business"
name = "企业开办"
prefix = "A"
"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


@pytest.fixture
def hall_file():  # type: ignore[no-untyped-def]
    return parse_hall_file(HALL)


def test_slots_follow_the_sessions_of_a_weekday(hall_file) -> None:  # type: ignore[no-untyped-def]
    schedule = service_schedule(hall_file.hall.hours, None)
    slots = rules.slots_on(schedule, date(2026, 11, 23), 30, TZ)  # a Monday
    starts = [s.start.strftime("%H:%M") for s in slots]
    assert starts[:3] == ["08:30", "09:00", "09:30"]
    assert "12:00" not in starts and "13:30" not in starts  # lunch break
    assert starts[7:] == ["14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"]
    assert len(slots) == 14
    assert slots[-1].end == local(2026, 11, 23, 17, 30)


def test_extra_sessions_weekends_holidays_and_working_weekends(hall_file) -> None:  # type: ignore[no-untyped-def]
    schedule = service_schedule(hall_file.hall.hours, None)
    wednesday = rules.slots_on(schedule, date(2026, 11, 25), 30, TZ)
    assert [s.start.strftime("%H:%M") for s in wednesday][-4:] == [
        "19:00",
        "19:30",
        "20:00",
        "20:30",
    ]
    assert rules.slots_on(schedule, date(2026, 11, 28), 30, TZ) == []  # Saturday
    assert rules.slots_on(schedule, date(2026, 10, 1), 30, TZ) == []  # national holiday, a Thursday
    # 调休: Saturday 10 October is worked with Monday's hours.
    worked = rules.slots_on(schedule, date(2026, 10, 10), 30, TZ)
    assert len(worked) == 14 and worked[0].start == local(2026, 10, 10, 8, 30)


def test_service_hours_and_slot_length_drop_the_short_tail(hall_file) -> None:  # type: ignore[no-untyped-def]
    estate = hall_file.services[0]
    assert estate.booking is not None
    spec = estate.booking.over(hall_file.hall.booking)
    assert (spec.slot_minutes, spec.capacity_per_slot, spec.release_time) == (45, 2, "09:00")
    schedule = service_schedule(hall_file.hall.hours, estate.hours)
    slots = rules.slots_on(schedule, date(2026, 11, 23), spec.slot_minutes, TZ)
    # 09:00-11:00 holds two whole 45-minute slots; the last 30 minutes are not offered.
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in slots] == [
        ("09:00", "09:45"),
        ("09:45", "10:30"),
    ]


def test_release_days_ahead_at_a_time_of_day() -> None:
    spec = BookingSpec(release_days_ahead=7, release_time="09:00")
    before = rules.bookable_dates(local(2026, 11, 23, 8, 59), spec)
    after = rules.bookable_dates(local(2026, 11, 23, 9, 0), spec)
    assert before[0] == date(2026, 11, 23) and before[-1] == date(2026, 11, 29)
    assert after[-1] == date(2026, 11, 30) and len(after) == 8
    slot = rules.Slot(local(2026, 11, 30, 9, 0), local(2026, 11, 30, 9, 30))
    with pytest.raises(rules.BookingClosed) as refused:
        rules.ensure_bookable(slot, local(2026, 11, 23, 8, 59), spec)
    assert "2026-11-23 09:00" in refused.value.detail
    rules.ensure_bookable(slot, local(2026, 11, 23, 9, 0), spec)


def test_booking_closes_at_the_cutoff_before_the_slot() -> None:
    spec = BookingSpec(book_cutoff_minutes=60)
    slot = rules.Slot(local(2026, 11, 23, 10, 0), local(2026, 11, 23, 10, 30))
    rules.ensure_bookable(slot, local(2026, 11, 23, 8, 59, 59), spec)
    with pytest.raises(rules.BookingClosed):
        rules.ensure_bookable(slot, local(2026, 11, 23, 9, 0), spec)
    with pytest.raises(rules.BookingClosed):  # a slot in the past is never bookable
        rules.ensure_bookable(slot, local(2026, 11, 23, 11, 0), BookingSpec())


def test_cancel_cutoff_edges() -> None:
    spec = BookingSpec(cancel_cutoff_hours=2)
    start = local(2026, 11, 23, 10, 0)
    rules.ensure_can_cancel(start, local(2026, 11, 23, 7, 59, 59), spec)
    with pytest.raises(rules.CancelTooLate) as refused:
        rules.ensure_can_cancel(start, local(2026, 11, 23, 8, 0), spec)
    assert refused.value.code == "cancel_too_late"


def test_arrival_window_edges() -> None:
    spec = BookingSpec(arrive_early_minutes=30, arrive_late_minutes=15)
    window = rules.arrival_window(local(2026, 11, 23, 10, 0), spec)
    assert (window.opens, window.closes) == (
        local(2026, 11, 23, 9, 30),
        local(2026, 11, 23, 10, 15),
    )
    with pytest.raises(rules.CheckInTooEarly) as early:
        rules.ensure_in_arrival_window(window, local(2026, 11, 23, 9, 29, 59))
    assert "09:30" in early.value.detail
    rules.ensure_in_arrival_window(window, local(2026, 11, 23, 9, 30))
    rules.ensure_in_arrival_window(window, local(2026, 11, 23, 10, 15))
    with pytest.raises(rules.CheckInTooLate) as late:
        rules.ensure_in_arrival_window(window, local(2026, 11, 23, 10, 15, 1))
    assert "重新取号" in late.value.detail
    assert not rules.is_no_show(local(2026, 11, 23, 10, 0), local(2026, 11, 23, 10, 15), spec)
    assert rules.is_no_show(local(2026, 11, 23, 10, 0), local(2026, 11, 23, 10, 15, 1), spec)


def test_no_show_suspension() -> None:
    spec = BookingSpec(no_show_limit=3, no_show_period_days=30, suspension_days=30)
    day = local(2026, 11, 1, 9, 0)
    two = [day, day + timedelta(days=5)]
    assert rules.suspended_until(two, day + timedelta(days=6), spec) is None
    three = [*two, day + timedelta(days=20)]
    until = rules.suspended_until(three, day + timedelta(days=21), spec)
    assert until == day + timedelta(days=50)
    # Spread over more than the period: no suspension.
    spread = [day, day + timedelta(days=20), day + timedelta(days=40)]
    assert rules.suspended_until(spread, day + timedelta(days=41), spec) is None
    # Served: the suspension is over.
    assert rules.suspended_until(three, day + timedelta(days=50, seconds=1), spec) is None


def test_signature_is_hmac_sha256_over_the_documented_string() -> None:
    body = b'{"service":"business"}'
    text = "\n".join(
        [
            "POST",
            "/api/v1/partner/halls/h/bookings",
            "1763800000",
            "abcdefgh12",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    expected = hmac.new(b"jhs_secret", text.encode(), hashlib.sha256).hexdigest()
    assert (
        signing.sign(
            "jhs_secret",
            "post",
            "/api/v1/partner/halls/h/bookings",
            "1763800000",
            "abcdefgh12",
            body,
        )
        == expected
    )
    assert signing.signature_matches(expected, expected.upper())
    assert not signing.signature_matches(expected, "0" * 64)


def test_partner_secret_is_derived_not_stored() -> None:
    a = signing.derive_secret("engine-secret-key-0123", "jhp_1", "salt")
    assert a == signing.derive_secret("engine-secret-key-0123", "jhp_1", "salt")
    assert a != signing.derive_secret("engine-secret-key-0123", "jhp_1", "salt2")
    assert a != signing.derive_secret("another-secret-key-456", "jhp_1", "salt")
    assert a.startswith("jhs_") and "salt" not in a


def test_token_bucket_refuses_then_refills() -> None:
    clock = [100.0]
    limiter = RateLimiter(clock=lambda: clock[0])
    for _ in range(3):
        limiter.take("partner:1", 3, what="partner")
    with pytest.raises(RateLimited) as refused:
        limiter.take("partner:1", 3, what="partner")
    assert refused.value.status == 429 and refused.value.extra["retry_after_seconds"] == 20.0
    limiter.take("partner:2", 3, what="partner")  # another caller has its own bucket
    clock[0] += 20.0
    limiter.take("partner:1", 3, what="partner")
    with pytest.raises(RateLimited):
        limiter.take("partner:1", 3, what="partner")


def test_the_worked_example_of_the_docs() -> None:
    """docs/booking-api.md shows these exact numbers; they must stay true."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "booking-api.md").read_text(
        encoding="utf-8"
    )
    body = (
        b'{"service":"business","start":"2026-11-25T09:00:00+08:00",'
        b'"id_number":"11010519491231002X","phone":"13912345678"}'
    )
    assert body.decode() in doc
    digest = signing.body_hash(body)
    signature = signing.sign(
        "jhs_3q2-7wEXAMPLEonlyK9vXk1fJ0uQeZr5bT8nLmD4aPo",
        "POST",
        "/api/v1/partner/halls/demo/bookings",
        "1795000000",
        "n0nce-8f2b1c7d",
        body,
    )
    assert f"SHA256 of the body: `{digest}`" in doc
    assert f"Signature: `{signature}`" in doc
