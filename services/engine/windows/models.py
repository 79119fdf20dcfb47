"""Window tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class Window(Base):
    """A service window (窗口) in a hall."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="general")
    state: Mapped[str] = mapped_column(String(16), default="closed")
    pause_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    current_ticket_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Progress through the favoured:normal interleave cycle.
    favoured_run: Mapped[int] = mapped_column(Integer, default=0)
    normal_run: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the clerk in staff_user_id signed in here (签到).
    staff_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Its services were changed on the spot (a manager's page) at this moment, and what
    # it served before that ({code: [weight, role]}, the hall file's plan): ``hall apply``
    # tells them apart (docs/manage.md).
    services_adjusted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    planned_services: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class WindowService(Base):
    """A service a window serves, with its weight and role (primary, secondary, tidal)."""

    __tablename__ = "window_services"

    window_id: Mapped[int] = mapped_column(
        ForeignKey("windows.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    role: Mapped[str] = mapped_column(String(16), default="primary", server_default="primary")


class WindowLogEntry(Base):
    """The window log (窗口日志): sign-in, sign-out, open, close, pause, resume.

    Durable (statistics read months of it), unlike the hall event outbox.
    """

    __tablename__ = "window_log"
    __table_args__ = (
        Index("ix_window_log_hall_at", "hall_id", "at"),
        Index("ix_window_log_window_at", "window_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    # The clerk the entry is about (who signed in or out; who worked the window).
    staff_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
