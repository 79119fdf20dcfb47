"""The transactional outbox of hall events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint, column, table
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class HallEvent(Base):
    """An event written in the same transaction as the change it reports."""

    __tablename__ = "hall_events"
    __table_args__ = (UniqueConstraint("hall_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# The hall's event counter: the outbox numbers a hall's events from its row's
# ``event_seq`` (the row lock orders commits). Named here as a plain table so the
# event layer needs nothing of the halls domain.
HALL_SEQUENCE = table("halls", column("id", BigInteger), column("event_seq", BigInteger))
