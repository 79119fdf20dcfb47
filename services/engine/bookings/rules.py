"""Booking rules (预约规则): slots, release, cutoffs, arrival window, no-show suspension.

Pure: local wall-clock times in the hall's timezone come in, decisions come
out; no I/O, no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from pydantic import Field, field_validator

from services.engine.core.errors import Refusal
from services.engine.halls.opening_hours import Schedule
from services.engine.halls.settings import Strict

# The longest a hall may release its slots ahead (days).
MAX_RELEASE_DAYS = 90
# How far back from today a day's slots or bookings may be asked for (days): a year.
MAX_DAYS_BACK = 366


class BookingSpec(Strict):
    """Appointments (预约) for a hall: slots, release, cutoffs, arrival window, no-shows.

    ``[hall.booking]`` turns booking on for every active service of the hall;
    a service may override the slot fields (or switch booking off) in its own
    ``booking`` table.
    """

    enabled: bool = True
    capacity_per_slot: int = Field(default=5, ge=0, le=10_000)
    slot_minutes: int = Field(default=30, ge=5, le=24 * 60)
    release_days_ahead: int = Field(default=7, ge=0, le=MAX_RELEASE_DAYS)
    release_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    # Booking closes this long before a slot starts.
    book_cutoff_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    one_per_person_per_day: bool = True
    cancel_cutoff_hours: float = Field(default=2.0, ge=0, le=24 * 7)
    arrive_early_minutes: int = Field(default=30, ge=0, le=24 * 60)
    arrive_late_minutes: int = Field(default=15, ge=0, le=24 * 60)
    no_show_limit: int = Field(default=3, ge=1, le=100)
    no_show_period_days: int = Field(default=30, ge=1, le=365)
    suspension_days: int = Field(default=30, ge=0, le=365)
    # The partner's webhook fires when a booked ticket is this many places from the window.
    notify_places_ahead: int = Field(default=3, ge=0, le=100)

    @field_validator("release_time")
    @classmethod
    def _release_time(cls, value: str) -> str:
        hours, minutes = (int(part) for part in value.split(":"))
        if hours > 23 or minutes > 59:
            raise ValueError("release_time must be a time of day, HH:MM")
        return value


class ServiceBookingSpec(Strict):
    """A service's own booking fields; unset ones follow ``[hall.booking]``."""

    enabled: bool = True
    capacity_per_slot: int | None = Field(default=None, ge=0, le=10_000)
    slot_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    release_days_ahead: int | None = Field(default=None, ge=0, le=MAX_RELEASE_DAYS)
    release_time: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    book_cutoff_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    cancel_cutoff_hours: float | None = Field(default=None, ge=0, le=24 * 7)
    arrive_early_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    arrive_late_minutes: int | None = Field(default=None, ge=0, le=24 * 60)

    def over(self, hall: BookingSpec) -> BookingSpec:
        """The hall's booking settings with this service's own laid over them."""
        own = self.model_dump(exclude_none=True)
        return hall.model_copy(update=own)


class DateOutOfRange(Refusal):
    status = 422
    code = "date_out_of_range"
    title = "No hall books or keeps bookings on that date"


class BookingClosed(Refusal):
    code = "booking_closed"
    title = "This slot cannot be booked"


class SlotFull(Refusal):
    code = "slot_full"
    title = "This slot is fully booked (该时段已约满)"


class AlreadyBookedThatDay(Refusal):
    code = "already_booked_that_day"
    title = "One booking per person per day (每人每天限约一次)"


class BookingSuspended(Refusal):
    status = 403
    code = "booking_suspended"
    title = "Booking is suspended after repeated no-shows (多次爽约, 暂停预约)"


class CancelTooLate(Refusal):
    code = "cancel_too_late"
    title = "Too late to cancel this booking"


class CheckInTooEarly(Refusal):
    code = "check_in_too_early"
    title = "Too early to check in (未到签到时间)"


class CheckInTooLate(Refusal):
    code = "check_in_too_late"
    title = "The check-in window has passed (已过签到时间)"


class BookingNotActive(Refusal):
    code = "booking_not_active"
    title = "This booking is no longer active"


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable time slot, in hall-local time."""

    start: datetime
    end: datetime


def _at(day: date, minutes: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minutes)


def slots_on(schedule: Schedule, day: date, slot_minutes: int, tz: tzinfo) -> list[Slot]:
    """The slots of one day: each session cut into whole slots from its start.

    A closed day (holiday, no sessions) has none; the tail of a session too
    short for a whole slot is not offered.
    """
    out: list[Slot] = []
    for session in schedule.sessions_on(day):
        start = session.start
        while start + slot_minutes <= session.end:
            out.append(Slot(_at(day, start, tz), _at(day, start + slot_minutes, tz)))
            start += slot_minutes
    return out


def ensure_day_in_range(day: date, today: date) -> None:
    """Refuse a day no hall could book or still keeps: more than ``MAX_DAYS_BACK`` days
    before ``today`` (hall time) or more than ``MAX_RELEASE_DAYS`` after it. Checked
    before any date arithmetic, which fails at the calendar's ends (0001, 9999)."""
    earliest = today - timedelta(days=MAX_DAYS_BACK)
    latest = today + timedelta(days=MAX_RELEASE_DAYS)
    if not earliest <= day <= latest:
        raise DateOutOfRange(
            f"{day.isoformat()} is not between {earliest.isoformat()} and {latest.isoformat()} "
            f"(a year back, {MAX_RELEASE_DAYS} days ahead, hall time)",
            earliest=earliest.isoformat(),
            latest=latest.isoformat(),
        )


def _hhmm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def release_at(day: date, spec: BookingSpec, tz: tzinfo) -> datetime:
    """When a day's slots open: ``release_days_ahead`` days before, at ``release_time``."""
    return _at(day - timedelta(days=spec.release_days_ahead), _hhmm(spec.release_time), tz)


def bookable_dates(now_local: datetime, spec: BookingSpec) -> list[date]:
    """The days whose slots are released at ``now_local``, today first."""
    tz = now_local.tzinfo
    assert tz is not None
    today = now_local.date()
    days = [today + timedelta(days=i) for i in range(spec.release_days_ahead + 1)]
    return [d for d in days if release_at(d, spec, tz) <= now_local]


def ensure_bookable(slot: Slot, now_local: datetime, spec: BookingSpec) -> None:
    """Refuse a slot that is not released yet, or too close to (or past) its start."""
    assert now_local.tzinfo is not None
    opens = release_at(slot.start.date(), spec, now_local.tzinfo)
    if now_local < opens:
        raise BookingClosed(
            f"slots for {slot.start.date().isoformat()} open for booking at "
            f"{opens.strftime('%Y-%m-%d %H:%M')} (hall time)",
            opens_at=opens.isoformat(),
        )
    closes = slot.start - timedelta(minutes=spec.book_cutoff_minutes)
    if now_local >= closes:
        raise BookingClosed(
            f"booking for the {slot.start.strftime('%H:%M')} slot closed at "
            f"{closes.strftime('%Y-%m-%d %H:%M')}; please choose a later slot",
            closed_at=closes.isoformat(),
        )


def find_slot(slots: Iterable[Slot], start_local: datetime) -> Slot | None:
    for slot in slots:
        if slot.start == start_local:
            return slot
    return None


def ensure_can_cancel(slot_start: datetime, now: datetime, spec: BookingSpec) -> None:
    """Citizens may cancel until ``cancel_cutoff_hours`` before the slot (default 2 h)."""
    cutoff = slot_start - timedelta(hours=spec.cancel_cutoff_hours)
    if now >= cutoff:
        raise CancelTooLate(
            f"bookings can be cancelled until {spec.cancel_cutoff_hours:g} hours before the slot "
            f"(until {cutoff.isoformat()}); please ask the hall staff",
            cutoff=cutoff.isoformat(),
        )


@dataclass(frozen=True)
class ArrivalWindow:
    """When a booking may be checked in (签到时段)."""

    opens: datetime
    closes: datetime


def arrival_window(slot_start: datetime, spec: BookingSpec) -> ArrivalWindow:
    return ArrivalWindow(
        slot_start - timedelta(minutes=spec.arrive_early_minutes),
        slot_start + timedelta(minutes=spec.arrive_late_minutes),
    )


def ensure_in_arrival_window(window: ArrivalWindow, now_local: datetime) -> None:
    """Check-in is allowed from ``opens`` up to and including ``closes``."""
    if now_local < window.opens:
        raise CheckInTooEarly(
            f"check-in opens at {window.opens.strftime('%H:%M')}; please come back then "
            f"(请于{window.opens.strftime('%H:%M')}后签到)",
            opens_at=window.opens.isoformat(),
        )
    if now_local > window.closes:
        raise CheckInTooLate(
            f"check-in closed at {window.closes.strftime('%H:%M')}; the booking has lapsed, "
            "please take a normal ticket at the kiosk (请到自助取号机重新取号)",
            closed_at=window.closes.isoformat(),
        )


def is_no_show(slot_start: datetime, now: datetime, spec: BookingSpec) -> bool:
    """A booking not checked in by the end of its arrival window is a no-show (爽约)."""
    return now > arrival_window(slot_start, spec).closes


def suspended_until(
    no_shows: Iterable[datetime], now: datetime, spec: BookingSpec
) -> datetime | None:
    """Until when a person may not book, given when their no-shows happened.

    Each time ``no_show_limit`` no-shows fall within ``no_show_period_days``
    (ending at the latest of them), booking is suspended for
    ``suspension_days`` from that no-show.
    """
    times = sorted(no_shows)
    period = timedelta(days=spec.no_show_period_days)
    until: datetime | None = None
    for i, t in enumerate(times):
        within = [x for x in times[: i + 1] if x > t - period]
        if len(within) >= spec.no_show_limit:
            end = t + timedelta(days=spec.suspension_days)
            until = end if until is None or end > until else until
    return until if until is not None and until > now else None
