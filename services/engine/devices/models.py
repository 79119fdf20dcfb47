"""Device health as the hall's kiosks and gateways last reported it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class DeviceHealthRecord(Base):
    """One device (an LED board, a keypad, a printer, a serial bus...) behind one reporter.

    The reporter is the kiosk or gateway (a row of ``devices``) that owns the device;
    the key ("led:3", "printer", "bus:hall") is unique per reporter.
    """

    __tablename__ = "device_health"
    __table_args__ = (UniqueConstraint("hall_id", "reporter_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # When the device itself last answered (from the reporter), and when the status last
    # changed / was last reported (engine time).
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HardwareAssignment(Base):
    """Which window a keypad or evaluation pad behind a gateway serves (设备归属窗口).

    The gateway's own file says it first (``keypad:3`` is the keypad it drives for window
    3); an assignment made on the manager's page overrides that: the gateway fetches the
    assignments when it starts and again on each ``device.assigned`` event (docs/gateway.md).
    No row: the gateway's file holds.
    """

    __tablename__ = "device_assignments"
    __table_args__ = (UniqueConstraint("gateway_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    # The device as the gateway's health report names it: "keypad:3", "evaluator:3".
    key: Mapped[str] = mapped_column(String(64))
    window: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by: Mapped[str] = mapped_column(String(64))
