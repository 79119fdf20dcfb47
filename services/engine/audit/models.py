"""The audit log: every change made from the manager's and admin pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class AuditEntry(Base):
    """Who changed what, with the value before and after (kept for good)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_hall_at", "hall_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int | None] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    # e.g. window.services, hall.notice, alert.acknowledge, tidal.accept, tidal.dismiss
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(100))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
