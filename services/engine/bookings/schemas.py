"""Request and response bodies for bookings, slots and live positions."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.engine.tickets.schemas import TicketOut


class BookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64)
    start: datetime = Field(description="the slot's start with its UTC offset, as listed")
    id_number: str = Field(
        min_length=6,
        max_length=32,
        description="身份证号; only a keyed hash and the last 4 characters are kept",
    )
    phone: str | None = Field(
        default=None,
        min_length=5,
        max_length=20,
        description="only a keyed hash and the last 4 digits are kept",
    )


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=6, max_length=32)


class CancelBookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)


class CheckInIn(BaseModel):
    """签到: a booking code (typed or the scanned QR payload) or an ID number (刷身份证)."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(default=None, min_length=4, max_length=80)
    id_number: str | None = Field(default=None, min_length=6, max_length=32)


class BookingOut(BaseModel):
    id: int
    code: str = Field(description="booking code (预约码); show it as text or as the QR code below")
    qr_payload: str = Field(description="what the booking's QR code should hold")
    hall: str
    service: str
    service_name: str
    starts_at: datetime
    ends_at: datetime
    status: str
    id_tail: str = Field(description="last 4 characters of the ID number (尾号)")
    phone_tail: str | None
    ticket_id: int | None
    ticket_number: str | None = None
    created_at: datetime
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    no_show_at: datetime | None
    check_in_opens_at: datetime
    check_in_closes_at: datetime
    cancel_until: datetime


class BookingsOut(BaseModel):
    bookings: list[BookingOut]


class DayBookingsOut(BaseModel):
    hall: str
    date: date
    counts: dict[str, int] = Field(description="bookings per status")
    bookings: list[BookingOut]


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    capacity: int
    booked: int
    left: int
    bookable: bool


class SlotsOut(BaseModel):
    hall: str
    service: str
    date: date
    slots: list[SlotOut]


class BookableServiceOut(BaseModel):
    service: str
    name: str
    slot_minutes: int
    capacity_per_slot: int
    bookable_dates: list[date]
    release_days_ahead: int
    release_time: str


class BookableServicesOut(BaseModel):
    hall: str
    services: list[BookableServiceOut]


class CheckInOut(BaseModel):
    booking: BookingOut
    ticket: TicketOut


class PositionOut(BaseModel):
    """Live position of a ticket, for the citizen's phone."""

    ticket_id: int
    number: str
    service: str
    status: str
    position: int | None = Field(description="1 = next; waiting tickets only")
    waiting_ahead: int | None = Field(description="前方还有N人")
    estimated_wait_minutes: int | None
    window: int | None = Field(description="the window that called it (请到N号窗口)")
    message: str
