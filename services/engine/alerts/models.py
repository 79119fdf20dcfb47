"""Alerts (告警) of a hall: what needs a manager's eye, acknowledged with who and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class Alert(Base):
    """One alert from the moment its condition began until it cleared (kept for good)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_hall_key", "hall_id", "key"),
        Index("ix_alerts_hall_opened", "hall_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # What the alert is about, e.g. "queue:business", "pause:3", "tidal:17".
    key: Mapped[str] = mapped_column(String(160))
    severity: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its condition ended (or a tidal recommendation was resolved).
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # cleared, accepted, dismissed, superseded
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
