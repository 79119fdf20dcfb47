"""What the district received from its remote stations (``jiaohao stats push``).

The figures themselves are kept as the remote hall's facts (``stats_ticket_facts``,
``stats_window_facts``, a clean ``stats_days`` row); this is the receipt of each
hall-day: when it came, from which station device, and its digest (a re-push of the
same figures writes nothing).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, UTCDateTime


class StatsPush(Base):
    __tablename__ = "stats_pushes"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the figures, canonical JSON
    tickets: Mapped[int] = mapped_column(Integer)
    windows: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first received
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # last stored (a change)
    pushes: Mapped[int] = mapped_column(Integer, default=1)  # requests with a change
