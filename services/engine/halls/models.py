"""Hall and service tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class Hall(Base):
    """A service hall (政务服务中心 / 便民服务中心 / 服务站)."""

    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Opening sessions and calendar, as in the hall file (validated on apply).
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Calling rules: recalls, no-show handling, interleave ratio.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Tidal window rules (潮汐窗口), as in the hall file's [hall.tidal].
    tidal: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notice: Mapped[str] = mapped_column(Text, default="")
    # The hall file's ``keep_adjustments``: on-the-spot window changes survive ``hall apply``.
    keep_adjustments: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The region the hall serves (行政区划, regions/); None: in no region yet.
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    # A remote station (村级服务站 on its own engine): registered under its region here so
    # the district's reports can take its daily figures; nothing runs for it on this engine.
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    # Last event sequence number handed out (outbox); only grows.
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Service(Base):
    """A service (业务类别) with its ticket prefix and quotas."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(2))
    number_width: Mapped[int] = mapped_column(Integer, default=3)
    daily_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    period_quotas: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Own hours inside the hall's sessions; None means the hall's hours.
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    target_wait_minutes: Mapped[int] = mapped_column(Integer, default=20)
    average_handle_minutes: Mapped[float] = mapped_column(default=8.0)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
