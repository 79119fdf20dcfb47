"""Partner tables: partners and their keys, seen nonces, webhook cursors and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class Partner(Base):
    """A partner server (the mini-program's backend) allowed to book in one hall.

    The signing secret is never stored: it is derived from ``settings.secret_key``
    and the random ``secret_salt`` (see ``partners/keys.py``), so the database
    alone does not reveal it.
    """

    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("hall_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_salt: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerNonce(Base):
    """A nonce seen in a signed request: the primary key refuses a replay."""

    __tablename__ = "partner_nonces"

    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookCursor(Base):
    """How far the webhook worker has read a hall's event outbox."""

    __tablename__ = "webhook_cursors"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookDelivery(Base):
    """One notification to a partner, retried with backoff until delivered or given up.

    ``dedupe_key`` (unique per partner) makes deriving the same notification
    twice, from two engine processes, harmless.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("partner_id", "dedupe_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> delivered | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
