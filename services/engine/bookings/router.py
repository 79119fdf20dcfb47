"""Booking endpoints: the partner API (signed) and the hall's own (staff, kiosk)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.permissions import Capability, Principal
from services.engine.bookings import service
from services.engine.bookings.models import Booking
from services.engine.bookings.rules import MAX_RELEASE_DAYS
from services.engine.bookings.schemas import (
    BookableServiceOut,
    BookableServicesOut,
    BookIn,
    BookingOut,
    BookingsOut,
    CancelBookingIn,
    CheckInIn,
    CheckInOut,
    DayBookingsOut,
    PersonIn,
    PositionOut,
    SlotOut,
    SlotsOut,
)
from services.engine.config import Settings
from services.engine.core.errors import Forbidden
from services.engine.deps import (
    HallAccess,
    IssueAccess,
    PublicBase,
    RowId,
    SessionDep,
    SettingsDep,
    hall_access,
)
from services.engine.flows import tickets as tickets_flow
from services.engine.halls.models import Hall, Service
from services.engine.partners.deps import LimiterDep, PartnerAccess, PartnerCaller
from services.engine.partners.ratelimit import RateLimiter
from services.engine.tickets.router import status_url
from services.engine.tickets.router import to_out as ticket_out

DAY_DESCRIPTION = (
    f"hall-local date, YYYY-MM-DD; from a year back to {MAX_RELEASE_DAYS} days ahead "
    "(else 422 date_out_of_range)"
)
# Requests a minute one citizen (by ID number) may cause through any partner.
CITIZEN_PER_MINUTE = 10

partner_router = APIRouter(prefix="/api/v1/partner/halls/{hall}", tags=["partner booking API"])
staff_router = APIRouter(prefix="/api/v1/halls/{hall}/bookings", tags=["bookings"])


async def _out(session: AsyncSession, hall: Hall, booking: Booking, svc: Service) -> BookingOut:
    times = service.times_of(await service.settings_of(session, hall), svc, booking)
    return BookingOut(
        id=booking.id,
        code=booking.code,
        qr_payload=service.qr_payload(hall, booking),
        hall=hall.code,
        service=svc.code,
        service_name=svc.name,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=booking.status,
        id_tail=booking.id_tail,
        phone_tail=booking.phone_tail,
        ticket_id=booking.ticket_id,
        created_at=booking.created_at,
        checked_in_at=booking.checked_in_at,
        cancelled_at=booking.cancelled_at,
        no_show_at=booking.no_show_at,
        check_in_opens_at=times.check_in_opens,
        check_in_closes_at=times.check_in_closes,
        cancel_until=times.cancel_until,
    )


def _citizen_limit(limiter: RateLimiter, pii_key: str, id_number: str) -> None:
    limiter.take(
        f"citizen:{service.person_hash_of(pii_key, id_number)}",
        CITIZEN_PER_MINUTE,
        what="this citizen",
    )


def _partner_principal(caller: PartnerCaller) -> Principal:
    return Principal(
        kind="partner",
        id=caller.partner.id,
        role="partner",
        hall_id=caller.hall.id,
        name=caller.partner.name,
    )


async def _check_in_out(
    session: AsyncSession, hall: Hall, done: service.CheckedIn, settings: Settings, base: str
) -> CheckInOut:
    issued = done.issued
    booking = await _out(session, hall, done.booking, issued.service)
    booking.ticket_number = issued.ticket.number
    # The ticket as its own view shows it: the same place and wait estimate as the
    # kiosk's tickets and the status page.
    view = await tickets_flow.get_ticket(session=session, hall=hall, ticket_id=issued.ticket.id)
    return CheckInOut(
        booking=booking,
        ticket=ticket_out(view, status_url(settings, base, hall, issued.ticket.id)),
    )


def _position_out(p: tickets_flow.Position) -> PositionOut:
    return PositionOut(
        ticket_id=p.ticket_id,
        number=p.number,
        service=p.service.code,
        status=p.status,
        position=p.waiting_ahead + 1 if p.waiting_ahead is not None else None,
        waiting_ahead=p.waiting_ahead,
        estimated_wait_minutes=p.estimated_wait_minutes,
        window=p.window,
        message=p.message,
    )


# ------------------------------------------------------------------ partner API


@partner_router.get("/services", response_model=BookableServicesOut)
async def partner_services(caller: PartnerAccess, session: SessionDep) -> BookableServicesOut:
    """Services that take bookings, and the days whose slots are released now."""
    found = await service.bookable_services(session=session, hall=caller.hall)
    return BookableServicesOut(
        hall=caller.hall.code,
        services=[
            BookableServiceOut(
                service=b.service.code,
                name=b.service.name,
                slot_minutes=b.spec.slot_minutes,
                capacity_per_slot=b.spec.capacity_per_slot,
                bookable_dates=b.dates,
                release_days_ahead=b.spec.release_days_ahead,
                release_time=b.spec.release_time,
            )
            for b in found
        ],
    )


@partner_router.get("/services/{service_code}/slots", response_model=SlotsOut)
async def partner_slots(
    service_code: str,
    caller: PartnerAccess,
    session: SessionDep,
    day: Annotated[date, Query(alias="date", description=DAY_DESCRIPTION)],
) -> SlotsOut:
    """A day's slots with places left (empty on closed days)."""
    svc, _spec, slots = await service.day_slots(
        session=session, hall=caller.hall, service_code=service_code, day=day
    )
    return SlotsOut(
        hall=caller.hall.code,
        service=svc.code,
        date=day,
        slots=[
            SlotOut(
                start=s.start,
                end=s.end,
                capacity=s.capacity,
                booked=s.booked,
                left=s.left,
                bookable=s.bookable,
            )
            for s in slots
        ],
    )


@partner_router.post("/bookings", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def partner_book(
    body: BookIn,
    caller: PartnerAccess,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> BookingOut:
    """预约: book one place of a slot for a citizen."""
    _citizen_limit(limiter, settings.pii_key, body.id_number)
    booking, svc = await service.book(
        session=session,
        hall=caller.hall,
        service_code=body.service,
        start=body.start,
        id_number=body.id_number,
        phone=body.phone,
        pii_key=settings.pii_key,
        partner_id=caller.partner.id,
    )
    return await _out(session, caller.hall, booking, svc)


@partner_router.post("/bookings/lookup", response_model=BookingsOut)
async def partner_lookup(
    body: PersonIn,
    caller: PartnerAccess,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> BookingsOut:
    """A citizen's bookings in this hall (by ID number, sent in the body, never in the URL)."""
    _citizen_limit(limiter, settings.pii_key, body.id_number)
    found = await service.bookings_of_person(
        session=session,
        hall=caller.hall,
        id_number=body.id_number,
        pii_key=settings.pii_key,
        partner_id=caller.partner.id,
    )
    return BookingsOut(bookings=[await _out(session, caller.hall, b, s) for b, s in found])


@partner_router.get("/bookings/{code}", response_model=BookingOut)
async def partner_get_booking(code: str, caller: PartnerAccess, session: SessionDep) -> BookingOut:
    booking, svc = await service.get_booking(
        session=session, hall=caller.hall, code=code, partner_id=caller.partner.id
    )
    return await _out(session, caller.hall, booking, svc)


@partner_router.get(
    "/bookings/{code}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def partner_booking_qr(code: str, caller: PartnerAccess, session: SessionDep) -> Response:
    """The booking's QR code (SVG) for the citizen's phone; the kiosk scanner reads it."""
    booking, _svc = await service.get_booking(
        session=session, hall=caller.hall, code=code, partner_id=caller.partner.id
    )
    return Response(
        service.qr_svg(service.qr_payload(caller.hall, booking)), media_type="image/svg+xml"
    )


@partner_router.post("/bookings/{code}/cancel", response_model=BookingOut)
async def partner_cancel(
    code: str, caller: PartnerAccess, session: SessionDep, body: CancelBookingIn | None = None
) -> BookingOut:
    """Cancel until the cutoff before the slot (default 2 hours)."""
    booking, _svc = await service.get_booking(
        session=session, hall=caller.hall, code=code, partner_id=caller.partner.id
    )
    booking, svc = await service.cancel(
        session=session,
        hall=caller.hall,
        booking_id=booking.id,
        by_citizen=True,
        reason=body.reason if body else None,
    )
    return await _out(session, caller.hall, booking, svc)


@partner_router.post(
    "/bookings/{code}/check-in", status_code=status.HTTP_201_CREATED, response_model=CheckInOut
)
async def partner_check_in(
    code: str, caller: PartnerAccess, session: SessionDep, settings: SettingsDep, base: PublicBase
) -> CheckInOut:
    """一键取号: check in from the phone inside the arrival window; returns the ticket."""
    done = await service.check_in(
        session=session,
        hall=caller.hall,
        principal=_partner_principal(caller),
        pii_key=settings.pii_key,
        code=code,
        partner_id=caller.partner.id,
    )
    return await _check_in_out(session, caller.hall, done, settings, base)


@partner_router.get("/tickets/{ticket_id}", response_model=PositionOut)
async def partner_position(
    ticket_id: RowId, caller: PartnerAccess, session: SessionDep
) -> PositionOut:
    """Live position: 前方还有N人, estimated wait, the window once called."""
    return _position_out(
        await tickets_flow.partner_ticket_position(
            session=session, hall=caller.hall, ticket_id=ticket_id, partner_id=caller.partner.id
        )
    )


# ------------------------------------------------------------------ hall staff and kiosk


def staff_access(capability: Capability) -> Callable[..., Awaitable[HallAccess]]:
    """Hall access for staff accounts (JWT) only: devices do not manage bookings."""
    inner = hall_access(capability)

    async def dependency(access: HallAccess = Depends(inner)) -> HallAccess:
        if access.principal.kind != "user":
            raise Forbidden("bookings are managed by staff accounts")
        return access

    return dependency


StaffRead = Annotated[HallAccess, Depends(staff_access(Capability.READ))]
StaffCancel = Annotated[HallAccess, Depends(staff_access(Capability.CANCEL))]
StaffManage = Annotated[HallAccess, Depends(staff_access(Capability.MANAGE))]


@staff_router.get("", response_model=DayBookingsOut)
async def day_bookings(
    access: StaffRead,
    session: SessionDep,
    day: Annotated[date, Query(alias="date", description=DAY_DESCRIPTION)],
    service_code: Annotated[str | None, Query(alias="service")] = None,
    status_filter: Annotated[str | None, Query(alias="status")] = None,
) -> DayBookingsOut:
    """A day's bookings (staff): who is expected when, who checked in, who did not come."""
    found = await service.day_overview(
        session=session, hall=access.hall, day=day, service_code=service_code, status=status_filter
    )
    return DayBookingsOut(
        hall=access.hall.code,
        date=day,
        counts=dict(Counter(b.status for b, _ in found)),
        bookings=[await _out(session, access.hall, b, s) for b, s in found],
    )


@staff_router.get("/slots", response_model=SlotsOut)
async def staff_slots(
    access: StaffRead,
    session: SessionDep,
    day: Annotated[date, Query(alias="date", description=DAY_DESCRIPTION)],
    service_code: Annotated[str, Query(alias="service")],
) -> SlotsOut:
    svc, _spec, slots = await service.day_slots(
        session=session, hall=access.hall, service_code=service_code, day=day
    )
    return SlotsOut(
        hall=access.hall.code,
        service=svc.code,
        date=day,
        slots=[
            SlotOut(
                start=s.start,
                end=s.end,
                capacity=s.capacity,
                booked=s.booked,
                left=s.left,
                bookable=s.bookable,
            )
            for s in slots
        ],
    )


@staff_router.post("/check-in", status_code=status.HTTP_201_CREATED, response_model=CheckInOut)
async def kiosk_check_in(
    body: CheckInIn,
    access: IssueAccess,
    session: SessionDep,
    settings: SettingsDep,
    base: PublicBase,
) -> CheckInOut:
    """签到 at the kiosk or a window: booking code / scanned QR payload, or the ID card."""
    done = await service.check_in(
        session=session,
        hall=access.hall,
        principal=access.principal,
        pii_key=settings.pii_key,
        code=body.code,
        id_number=body.id_number,
    )
    return await _check_in_out(session, access.hall, done, settings, base)


@staff_router.post("/{booking_id}/cancel", response_model=BookingOut)
async def staff_cancel(
    booking_id: RowId, access: StaffCancel, session: SessionDep, body: CancelBookingIn | None = None
) -> BookingOut:
    """Staff may cancel a booking at any time (no cutoff)."""
    booking, svc = await service.cancel(
        session=session,
        hall=access.hall,
        booking_id=booking_id,
        by_citizen=False,
        reason=(body.reason if body and body.reason else f"staff:{access.principal.name}"),
    )
    return await _out(session, access.hall, booking, svc)


@staff_router.post("/{booking_id}/excuse", response_model=BookingOut)
async def excuse(booking_id: RowId, access: StaffManage, session: SessionDep) -> BookingOut:
    """A manager forgives a no-show so it no longer counts towards a suspension."""
    booking, svc = await service.excuse_no_show(
        session=session, hall=access.hall, booking_id=booking_id
    )
    return await _out(session, access.hall, booking, svc)
