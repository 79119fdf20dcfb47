"""Booking rules (预约规则): slots, release, cutoffs, arrival window, no-show suspension.

Pure: local wall-clock times in the hall's timezone come in, decisions come
out; no I/O, no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from services.engine.core.errors import Refusal
from services.engine.halls.config import BookingSpec, HallFile
from services.engine.halls.opening_hours import Schedule


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


def booking_config_of(spec: HallFile) -> dict[str, Any]:
    """The booking sections of a hall file, as stored (``{"hall": ..., "services": ...}``)."""
    return {
        "hall": spec.hall.booking.model_dump(mode="json") if spec.hall.booking else None,
        "services": {
            s.code: s.booking.model_dump(mode="json", exclude_none=True)
            for s in spec.services
            if s.booking is not None
        },
    }
