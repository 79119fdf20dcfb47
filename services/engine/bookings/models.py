"""Booking tables: per-hall booking settings, slot capacity counters, bookings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class BookingConfig(Base):
    """The booking sections of a hall file, as last applied (``{"hall": ..., "services": ...}``)."""

    __tablename__ = "booking_configs"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BookingSlot(Base):
    """How many places of one slot are taken; the guarded update on it prevents overselling."""

    __tablename__ = "booking_slots"
    __table_args__ = (UniqueConstraint("service_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    slot_date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    """An appointment (预约) of one citizen for one slot.

    The citizen's ID and phone numbers are kept only as keyed hashes plus the
    last digits for display. ``person_day_key`` is the person hash while the
    booking holds its day (booked or checked in) and NULL otherwise, so a
    unique index enforces one booking per person per day per hall even under
    concurrent requests (NULL when the hall allows several).
    """

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("hall_id", "code", name="uq_bookings_code"),
        UniqueConstraint("hall_id", "slot_date", "person_day_key", name="uq_bookings_person_day"),
        Index("ix_bookings_day", "hall_id", "slot_date", "status"),
        Index("ix_bookings_person", "hall_id", "person_hash", "status"),
        Index("ix_bookings_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"), nullable=True
    )
    code: Mapped[str] = mapped_column(String(16))
    slot_date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # booked -> checked_in | cancelled | no_show; a forgiven no-show becomes excused.
    status: Mapped[str] = mapped_column(String(16), default="booked")
    person_hash: Mapped[str] = mapped_column(String(64))
    person_day_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_tail: Mapped[str] = mapped_column(String(4))
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_tail: Mapped[str | None] = mapped_column(String(4), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    no_show_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
