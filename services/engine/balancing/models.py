"""Tidal window tables: the state per hall x service, and the log of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class TidalServiceState(Base):
    """Whether a service has (or was recommended) a tidal window, for the hysteresis."""

    __tablename__ = "tidal_states"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    # Since when the service has been at or below its low marks (None: not calm).
    calm_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TidalChange(Base):
    """Every tidal decision that changed something (or recommended it), with its reason."""

    __tablename__ = "tidal_changes"
    __table_args__ = (Index("ix_tidal_changes_hall_at", "hall_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mode: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    # Window numbers changed (auto) or proposed (recommend).
    windows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    waiting: Mapped[int] = mapped_column(Integer)
    wait_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
