"""Ticket tables: counters, tickets and the append-only ticket event log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow
from services.engine.tickets.states import TicketStatus


class TicketCounter(Base):
    """Last sequence handed out per hall x service x business day."""

    __tablename__ = "ticket_counters"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    """A queue ticket (排队号)."""

    __tablename__ = "tickets"
    __table_args__ = (
        # One number per service and day; a transferred ticket keeps its number.
        Index(
            "uq_tickets_number",
            "hall_id",
            "origin_service_id",
            "business_date",
            "sequence",
            unique=True,
            postgresql_where=text("transferred_from_id IS NULL"),
            sqlite_where=text("transferred_from_id IS NULL"),
        ),
        # Counts per class read from the index alone; call-next reads the first
        # few of each service and class in order.
        Index("ix_tickets_queue", "hall_id", "status", "service_id", "priority", "queued_at", "id"),
        # Tickets sent to one window (few at any time).
        Index(
            "ix_tickets_targeted",
            "target_window_id",
            "status",
            postgresql_where=text("target_window_id IS NOT NULL"),
            sqlite_where=text("target_window_id IS NOT NULL"),
        ),
        Index("ix_tickets_person", "hall_id", "service_id", "person_hash"),
        # A hall's tickets of some business days (statistics: today's figures, rollups).
        Index("ix_tickets_hall_day", "hall_id", "business_date"),
        # A window's held tickets (挂起; few at any time).
        Index(
            "ix_tickets_held",
            "window_id",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    origin_service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    business_date: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    source: Mapped[str] = mapped_column(String(16), default="kiosk")
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.WAITING.value)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    requeue_count: Mapped[int] = mapped_column(Integer, default=0)
    # Queue order; equals issued_at unless re-queued or carried over by a transfer.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An appointment's booked slot (预约时段): it is favoured only within it.
    slot_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    slot_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_id: Mapped[int | None] = mapped_column(
        ForeignKey("windows.id", ondelete="SET NULL"), nullable=True
    )
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    target_window_id: Mapped[int | None] = mapped_column(
        ForeignKey("windows.id", ondelete="SET NULL"), nullable=True
    )
    transferred_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    transferred_to_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # 挂起: since when, why (kind and the clerk's words); time on hold is not handling.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hold_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    hold_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    held_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 办理结果 of a finished case (done, accepted, told_missing, consulted, referred).
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Keyed hashes only (never the numbers themselves) and a display tail.
    person_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_tail: Mapped[str | None] = mapped_column(String(4), nullable=True)


class TicketEvent(Base):
    """Append-only log of every change to a ticket: who, what, when, from which state."""

    __tablename__ = "ticket_events"
    # A window's steps over a day (the console's counts; statistics by window).
    __table_args__ = (Index("ix_ticket_events_window_at", "window_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The clerk signed in at the window when the step was taken.
    staff_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
