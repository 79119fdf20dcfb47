"""Bad-review cases (差评工单), their steps, and a hall's 好差评 settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class ReviewSettingsRow(Base):
    """A hall's 好差评 configuration (:class:`.settings.ReviewSettings` as JSON)."""

    __tablename__ = "review_settings"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewCase(Base):
    """One bad review worked through 回访-核实-整改-反馈 (one per level 1-2 rating)."""

    __tablename__ = "review_cases"
    __table_args__ = (
        Index("ix_review_cases_hall_state", "hall_id", "state"),
        Index("ix_review_cases_hall_opened", "hall_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    service_id: Mapped[int] = mapped_column(BigInteger)
    window_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    staff_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deadlines in the hall's working days from the rating (see .calendar).
    contact_due: Mapped[date] = mapped_column(Date)
    rectify_due: Mapped[date] = mapped_column(Date)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # 核实: True valid, False invalid (then 申诉复核 decides), None not yet verified.
    valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # 申诉复核: None, "filed", "upheld" (the review is excluded), "rejected".
    appeal: Mapped[str | None] = mapped_column(String(16), nullable=True)
    measure: Mapped[str | None] = mapped_column(Text, nullable=True)
    responsible: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The citizen's comment is published only once a manager approved it.
    publish_comment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 回访满意度: the citizen's satisfaction with the rectification.
    satisfaction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the case was first found past its deadline (the event is raised once).
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The callback phone, encrypted (core.pii.seal); None once erased or never given.
    callback_phone: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewStep(Base):
    """A step of a case with who and when; never changed or deleted (the timeline)."""

    __tablename__ = "review_steps"
    __table_args__ = (Index("ix_review_steps_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"))
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    step: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
