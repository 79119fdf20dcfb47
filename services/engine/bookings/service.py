"""Use cases for bookings (预约): slots, book, look up, cancel, check in, no-shows, position."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Principal
from services.engine.bookings import repository, rules
from services.engine.bookings.models import Booking
from services.engine.bookings.rules import BookingSpec, ServiceBookingSpec
from services.engine.core import pii
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, ValidationFailed
from services.engine.events import outbox
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.halls.service import hours_of
from services.engine.halls.settings import service_schedule
from services.engine.tickets.service import (
    IssuedTicket,
    IssueRequest,
    issue_ticket_uncommitted,
)
from services.engine.tickets.states import PriorityClass, TicketSource


class BookingStatus:
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXCUSED = "excused"  # a no-show forgiven by the hall manager; it no longer counts


CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 8
QR_PREFIX = "JHB"


class ServiceNotBookable(rules.BookingClosed):
    code = "service_not_bookable"
    title = "This service takes no bookings"


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class BookingSettings:
    hall: BookingSpec | None
    services: dict[str, ServiceBookingSpec]

    def for_service(self, service: Service) -> BookingSpec:
        """The service's effective settings, or a refusal if it takes no bookings."""
        if self.hall is None or not self.hall.enabled:
            raise ServiceNotBookable("this hall takes no bookings")
        own = self.services.get(service.code)
        spec = own.over(self.hall) if own is not None else self.hall
        if not spec.enabled or not service.active:
            raise ServiceNotBookable(f"{service.name} takes no bookings; please come to the hall")
        return spec

    def person_rules(self) -> BookingSpec:
        """One booking per day and no-show rules hold for the whole hall."""
        if self.hall is None or not self.hall.enabled:
            raise ServiceNotBookable("this hall takes no bookings")
        return self.hall


async def settings_of(session: AsyncSession, hall: Hall) -> BookingSettings:
    raw = await repository.get_config(session, hall.id)
    hall_raw = raw.get("hall")
    return BookingSettings(
        hall=BookingSpec.model_validate(hall_raw) if hall_raw else None,
        services={
            code: ServiceBookingSpec.model_validate(value)
            for code, value in (raw.get("services") or {}).items()
        },
    )


async def _service(session: AsyncSession, hall: Hall, code: str) -> Service:
    service = await halls_repo.get_service_by_code(session, hall.id, code)
    if service is None:
        raise NotFound(f"no service {code!r} in this hall")
    return service


# ---------------------------------------------------------------- slots


@dataclass(frozen=True)
class SlotView:
    start: datetime
    end: datetime
    capacity: int
    booked: int
    bookable: bool

    @property
    def left(self) -> int:
        return max(self.capacity - self.booked, 0)


@dataclass(frozen=True)
class BookableService:
    service: Service
    spec: BookingSpec
    dates: list[date]


async def bookable_services(
    *, session: AsyncSession, hall: Hall, now: datetime | None = None
) -> list[BookableService]:
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(hall.timezone))
    settings = await settings_of(session, hall)
    out: list[BookableService] = []
    for service in await halls_repo.services_of(session, hall.id, active_only=True):
        try:
            spec = settings.for_service(service)
        except rules.BookingClosed:
            continue
        out.append(BookableService(service, spec, rules.bookable_dates(local, spec)))
    return out


async def day_slots(
    *, session: AsyncSession, hall: Hall, service_code: str, day: date, now: datetime | None = None
) -> tuple[Service, BookingSpec, list[SlotView]]:
    """A day's slots of a service with places left; ``bookable`` says if one may book now."""
    now = now or utcnow()
    tz = ZoneInfo(hall.timezone)
    local = now.astimezone(tz)
    rules.ensure_day_in_range(day, local.date())
    service = await _service(session, hall, service_code)
    spec = (await settings_of(session, hall)).for_service(service)
    schedule = service_schedule(hours_of(hall), service.hours)
    slots = rules.slots_on(schedule, day, spec.slot_minutes, tz)
    counts: dict[datetime, int] = {}
    if slots:
        counts = await repository.booked_counts(session, service.id, slots[0].start, slots[-1].end)
    views = []
    for slot in slots:
        try:
            rules.ensure_bookable(slot, local, spec)
            open_now = True
        except rules.BookingClosed:
            open_now = False
        booked = counts.get(slot.start, 0)
        views.append(
            SlotView(
                slot.start,
                slot.end,
                spec.capacity_per_slot,
                booked,
                open_now and booked < spec.capacity_per_slot,
            )
        )
    return service, spec, views


# ---------------------------------------------------------------- book


def person_hash_of(pii_key: str, id_number: str) -> str:
    return pii.keyed_hash(pii_key, "id", pii.normalise_id_number(id_number))


async def _new_code(session: AsyncSession, hall_id: int) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not await repository.code_taken(session, hall_id, code):
            return code


def qr_payload(hall: Hall, booking: Booking) -> str:
    """What the booking's QR code holds; the kiosk scanner sends it to check in."""
    return f"{QR_PREFIX}:{hall.code}:{booking.code}"


def qr_svg(payload: str) -> str:
    """A QR code of the payload as SVG (no image library needed)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return str(image.to_string(encoding="unicode"))


def code_from_scan(hall: Hall, scanned: str) -> str:
    """A typed booking code or a scanned QR payload -> the booking code."""
    text = scanned.strip()
    if text.upper().startswith(QR_PREFIX + ":"):
        parts = text.split(":")
        if len(parts) != 3 or parts[1] != hall.code:
            raise ValidationFailed("this QR code is for another hall")
        text = parts[2]
    return text.upper().replace("-", "").replace(" ", "")


async def mark_no_shows(
    *,
    session: AsyncSession,
    now: datetime | None = None,
    hall: Hall | None = None,
    person_hash: str | None = None,
) -> list[Booking]:
    """Mark bookings not checked in by the end of their arrival window as no-shows (爽约).

    Does not commit: callers commit (the worker's sweep, or a booking that
    checks the person's record first).
    """
    now = now or utcnow()
    lapsed = await repository.lapsed_bookings(
        session, started_before=now, hall_id=hall.id if hall else None, person_hash=person_hash
    )
    marked: list[Booking] = []
    settings_cache: dict[int, BookingSettings] = {}
    for booking in lapsed:
        booking_hall = hall if hall is not None and hall.id == booking.hall_id else None
        if booking_hall is None:
            booking_hall = await session.get(Hall, booking.hall_id)
            assert booking_hall is not None
        if booking.hall_id not in settings_cache:
            settings_cache[booking.hall_id] = await settings_of(session, booking_hall)
        service = await halls_repo.get_service(session, booking.service_id)
        assert service is not None
        try:
            spec = settings_cache[booking.hall_id].for_service(service)
        except rules.BookingClosed:
            spec = settings_cache[booking.hall_id].hall or BookingSpec()
        if not rules.is_no_show(booking.starts_at, now, spec):
            continue
        booking.status = BookingStatus.NO_SHOW
        booking.no_show_at = now
        booking.person_day_key = None
        marked.append(booking)
        outbox.stage(session, booking.hall_id, "booking.no_show", booking_payload(booking, service))
    await session.flush()
    return marked


async def sweep_no_shows(*, session: AsyncSession, now: datetime | None = None) -> int:
    marked = await mark_no_shows(session=session, now=now)
    await outbox.commit(session)
    return len(marked)


async def suspension_of(
    *, session: AsyncSession, hall: Hall, spec: BookingSpec, person_hash: str, now: datetime
) -> datetime | None:
    since = now - timedelta(days=spec.no_show_period_days + spec.suspension_days)
    times = await repository.no_show_times(session, hall.id, person_hash, since)
    return rules.suspended_until(times, now, spec)


def booking_payload(booking: Booking, service: Service) -> dict[str, Any]:
    """What an event says about a booking: never personal data, never the code."""
    return {
        "booking_id": booking.id,
        "service": service.code,
        "starts_at": booking.starts_at.isoformat(),
        "status": booking.status,
        "ticket_id": booking.ticket_id,
    }


async def book(
    *,
    session: AsyncSession,
    hall: Hall,
    service_code: str,
    start: datetime,
    id_number: str,
    phone: str | None,
    pii_key: str,
    partner_id: int | None,
    now: datetime | None = None,
) -> tuple[Booking, Service]:
    """Book one place of a slot for a citizen."""
    now = now or utcnow()
    if start.tzinfo is None:
        raise ValidationFailed("the slot start needs a UTC offset, e.g. 2026-11-25T09:00:00+08:00")
    tz = ZoneInfo(hall.timezone)
    local = now.astimezone(tz)
    # In its own offset: a start at the calendar's end cannot be moved to the hall's.
    rules.ensure_day_in_range(start.date(), local.date())
    service = await _service(session, hall, service_code)
    settings = await settings_of(session, hall)
    spec = settings.for_service(service)
    person = settings.person_rules()
    start_local = start.astimezone(tz)
    schedule = service_schedule(hours_of(hall), service.hours)
    slot = rules.find_slot(
        rules.slots_on(schedule, start_local.date(), spec.slot_minutes, tz), start_local
    )
    if slot is None:
        raise rules.BookingClosed(
            f"{service.name} has no slot starting at {start_local.strftime('%Y-%m-%d %H:%M')} "
            "(hall time); list the day's slots first",
        )
    rules.ensure_bookable(slot, local, spec)
    person_hash = person_hash_of(pii_key, id_number)

    # The person's record first: lapsed bookings become no-shows before counting.
    await mark_no_shows(session=session, now=now, hall=hall, person_hash=person_hash)
    until = await suspension_of(
        session=session, hall=hall, spec=person, person_hash=person_hash, now=now
    )
    if until is not None:
        raise rules.BookingSuspended(
            f"after {person.no_show_limit} missed bookings within "
            f"{person.no_show_period_days} days, "
            f"booking is suspended until {until.astimezone(tz).strftime('%Y-%m-%d %H:%M')}; "
            "you can still take a ticket at the hall",
            until=until.isoformat(),
        )
    if person.one_per_person_per_day:
        held = await repository.person_holds_day(session, hall.id, slot.start.date(), person_hash)
        if held is not None:
            raise rules.AlreadyBookedThatDay(
                f"this person already has a booking on {slot.start.date().isoformat()} "
                f"(at {held.starts_at.astimezone(tz).strftime('%H:%M')}); "
                "cancel it to book another",
            )
    taken = await repository.take_place(
        session,
        hall_id=hall.id,
        service_id=service.id,
        slot_date=slot.start.date(),
        starts_at=slot.start,
        ends_at=slot.end,
        capacity=spec.capacity_per_slot,
    )
    if not taken:
        raise rules.SlotFull(
            f"the {slot.start.strftime('%H:%M')} slot of {service.name} is fully booked; "
            "please choose another slot",
        )
    phone_digits = pii.normalise_phone(phone) if phone else None
    normalised_id = pii.normalise_id_number(id_number)
    booking = Booking(
        hall_id=hall.id,
        service_id=service.id,
        partner_id=partner_id,
        code=await _new_code(session, hall.id),
        slot_date=slot.start.date(),
        starts_at=slot.start,
        ends_at=slot.end,
        status=BookingStatus.BOOKED,
        person_hash=person_hash,
        person_day_key=person_hash if person.one_per_person_per_day else None,
        id_tail=pii.tail(normalised_id),
        phone_hash=pii.keyed_hash(pii_key, "phone", phone_digits) if phone_digits else None,
        phone_tail=pii.tail(phone_digits) if phone_digits else None,
        created_at=now,
    )
    session.add(booking)
    try:
        await session.flush()
    except IntegrityError as err:
        # A concurrent request of the same person took the day first.
        await session.rollback()
        outbox.discard(session)
        raise rules.AlreadyBookedThatDay(
            f"this person already has a booking on {slot.start.date().isoformat()}"
        ) from err
    outbox.stage(session, hall.id, "booking.created", booking_payload(booking, service))
    try:
        await outbox.commit(session)
    except IntegrityError as err:
        outbox.discard(session)
        raise rules.AlreadyBookedThatDay(
            f"this person already has a booking on {slot.start.date().isoformat()}"
        ) from err
    return booking, service


# ---------------------------------------------------------------- look up, cancel


async def get_booking(
    *, session: AsyncSession, hall: Hall, code: str, partner_id: int | None = None
) -> tuple[Booking, Service]:
    booking = await repository.get_by_code(session, hall.id, code_from_scan(hall, code))
    if booking is None or (partner_id is not None and booking.partner_id not in (None, partner_id)):
        raise NotFound("no booking with this code in this hall")
    service = await halls_repo.get_service(session, booking.service_id)
    assert service is not None
    return booking, service


async def get_booking_by_id(
    *, session: AsyncSession, hall: Hall, booking_id: int
) -> tuple[Booking, Service]:
    booking = await repository.get_by_id(session, hall.id, booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id} in this hall")
    service = await halls_repo.get_service(session, booking.service_id)
    assert service is not None
    return booking, service


async def bookings_of_person(
    *,
    session: AsyncSession,
    hall: Hall,
    id_number: str,
    pii_key: str,
    partner_id: int | None = None,
) -> list[tuple[Booking, Service]]:
    person_hash = person_hash_of(pii_key, id_number)
    out = []
    for booking in await repository.bookings_of_person(session, hall.id, person_hash):
        if partner_id is not None and booking.partner_id not in (None, partner_id):
            continue
        service = await halls_repo.get_service(session, booking.service_id)
        assert service is not None
        out.append((booking, service))
    return out


async def cancel(
    *,
    session: AsyncSession,
    hall: Hall,
    booking_id: int,
    by_citizen: bool,
    reason: str | None = None,
    now: datetime | None = None,
) -> tuple[Booking, Service]:
    """Cancel a booking and give its place back; citizens only until the cutoff (staff any time)."""
    now = now or utcnow()
    booking = await repository.lock_booking(session, booking_id)
    if booking is None or booking.hall_id != hall.id:
        raise NotFound(f"no booking {booking_id} in this hall")
    service = await halls_repo.get_service(session, booking.service_id)
    assert service is not None
    if booking.status != BookingStatus.BOOKED:
        raise rules.BookingNotActive(
            f"this booking is {booking.status}; only a booking not yet checked in can be cancelled",
            booking_status=booking.status,
        )
    if by_citizen:
        settings = await settings_of(session, hall)
        try:
            spec = settings.for_service(service)
        except rules.BookingClosed:
            spec = settings.hall or BookingSpec()
        rules.ensure_can_cancel(booking.starts_at, now, spec)
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    booking.cancel_reason = (reason or ("citizen" if by_citizen else "staff"))[:200]
    booking.person_day_key = None
    await repository.give_back_place(session, booking.service_id, booking.starts_at)
    outbox.stage(session, hall.id, "booking.cancelled", booking_payload(booking, service))
    await outbox.commit(session)
    return booking, service


async def excuse_no_show(
    *, session: AsyncSession, hall: Hall, booking_id: int, now: datetime | None = None
) -> tuple[Booking, Service]:
    """A manager forgives a no-show (e.g. the citizen was ill): it stops counting."""
    booking = await repository.lock_booking(session, booking_id)
    if booking is None or booking.hall_id != hall.id:
        raise NotFound(f"no booking {booking_id} in this hall")
    if booking.status != BookingStatus.NO_SHOW:
        raise rules.BookingNotActive(
            f"this booking is {booking.status}; only a no-show can be excused",
            booking_status=booking.status,
        )
    service = await halls_repo.get_service(session, booking.service_id)
    assert service is not None
    booking.status = BookingStatus.EXCUSED
    outbox.stage(session, hall.id, "booking.excused", booking_payload(booking, service))
    await outbox.commit(session)
    return booking, service


# ---------------------------------------------------------------- check in (签到 / 一键取号)


async def _booking_for_person_now(
    session: AsyncSession, hall: Hall, person_hash: str, now: datetime
) -> Booking:
    """The person's booking to check in now: of today, or starting within a day (a place
    at 00:00 in a hall open around the clock is checked in before midnight); the nearest.
    The arrival window then says whether it is too early or too late."""
    tz = ZoneInfo(hall.timezone)
    today = now.astimezone(tz).date()
    candidates = [
        b
        for b in await repository.bookings_of_person(
            session, hall.id, person_hash, statuses=[BookingStatus.BOOKED]
        )
        if b.starts_at.astimezone(tz).date() == today
        or now <= b.starts_at <= now + timedelta(days=1)
    ]
    if not candidates:
        raise NotFound("no booking for this ID number today in this hall; please take a ticket")
    return min(candidates, key=lambda b: abs((b.starts_at - now).total_seconds()))


@dataclass(frozen=True)
class CheckedIn:
    booking: Booking
    issued: IssuedTicket


async def check_in(
    *,
    session: AsyncSession,
    hall: Hall,
    principal: Principal,
    pii_key: str,
    code: str | None = None,
    id_number: str | None = None,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> CheckedIn:
    """Turn a booking into an appointment-class ticket, in one transaction."""
    now = now or utcnow()
    tz = ZoneInfo(hall.timezone)
    if code:
        found, _service_row = await get_booking(
            session=session, hall=hall, code=code, partner_id=partner_id
        )
    elif id_number:
        found = await _booking_for_person_now(
            session, hall, person_hash_of(pii_key, id_number), now
        )
    else:
        raise ValidationFailed("give a booking code (or its QR payload) or an ID number")
    booking = await repository.lock_booking(session, found.id)
    assert booking is not None
    service = await halls_repo.get_service(session, booking.service_id)
    assert service is not None
    if booking.status == BookingStatus.CHECKED_IN:
        raise rules.BookingNotActive(
            "this booking is already checked in; its ticket is in the queue",
            booking_status=booking.status,
            ticket_id=booking.ticket_id,
        )
    if booking.status != BookingStatus.BOOKED:
        raise rules.BookingNotActive(
            f"this booking is {booking.status}; please take a ticket at the kiosk",
            booking_status=booking.status,
        )
    settings = await settings_of(session, hall)
    try:
        spec = settings.for_service(service)
    except rules.BookingClosed:
        spec = settings.hall or BookingSpec()
    rules.ensure_in_arrival_window(
        rules.arrival_window(booking.starts_at.astimezone(tz), spec), now.astimezone(tz)
    )
    issued = await issue_ticket_uncommitted(
        session=session,
        hall=hall,
        request=IssueRequest(
            service_code=service.code,
            priority=PriorityClass.APPOINTMENT,
            source=TicketSource.BOOKING,
            actor=principal.actor,
            person_hash=booking.person_hash,
            phone_hash=booking.phone_hash,
            phone_tail=booking.phone_tail,
            now=now,
            reserved=True,
            slot=(booking.starts_at, booking.ends_at),
        ),
    )
    booking.status = BookingStatus.CHECKED_IN
    booking.checked_in_at = now
    booking.ticket_id = issued.ticket.id
    outbox.stage(session, hall.id, "booking.checked_in", booking_payload(booking, service))
    await outbox.commit(session)
    return CheckedIn(booking, issued)


# ---------------------------------------------------------------- staff overview


async def day_overview(
    *,
    session: AsyncSession,
    hall: Hall,
    day: date,
    service_code: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> list[tuple[Booking, Service]]:
    today = (now or utcnow()).astimezone(ZoneInfo(hall.timezone)).date()
    rules.ensure_day_in_range(day, today)
    service_id = (await _service(session, hall, service_code)).id if service_code else None
    services = {s.id: s for s in await halls_repo.services_of(session, hall.id)}
    return [
        (b, services[b.service_id])
        for b in await repository.day_bookings(
            session, hall.id, day, service_id=service_id, status=status
        )
    ]


@dataclass(frozen=True)
class BookingTimes:
    check_in_opens: datetime
    check_in_closes: datetime
    cancel_until: datetime


def times_of(settings: BookingSettings, service: Service, booking: Booking) -> BookingTimes:
    """When a booking may be checked in and until when the citizen may cancel it."""
    try:
        spec = settings.for_service(service)
    except rules.BookingClosed:
        spec = settings.hall or BookingSpec()
    window = rules.arrival_window(booking.starts_at, spec)
    return BookingTimes(
        window.opens, window.closes, booking.starts_at - timedelta(hours=spec.cancel_cutoff_hours)
    )
