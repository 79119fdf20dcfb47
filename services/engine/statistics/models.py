"""Statistics facts (统计事实表): one row per ticket and per window-day of a closed day,
and the days they were computed for (docs/statistics.md, "Rollups").

Kept by the engine: database triggers (migration 0013) bump ``StatsDay.version`` on any
change to a rolled-up day's tickets, ticket steps, ratings or window log; the
housekeeping recomputes every day whose ``rolled_version`` is behind, from the raw rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime


class StatsDay(Base):
    """A hall's business day whose facts are kept (or about to be)."""

    __tablename__ = "stats_days"
    __table_args__ = (Index("ix_stats_days_hall_ends", "hall_id", "ends_at"),)

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True
    )
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # The day's end (the hall's next midnight, UTC): a window log entry before it may
    # change the day (the window's state carries over).
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Bumped by the triggers on every change to the day's raw rows.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The version the facts were computed from; -1: never. Clean when equal.
    rolled_version: Mapped[int] = mapped_column(BigInteger, default=-1, server_default="-1")
    rolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StatsTicketFact(Base):
    """One ticket of a rolled-up day, with its measures worked out (docs/statistics.md).

    No personal data: the clerk is an account number, the citizen is not here at all.
    """

    __tablename__ = "stats_ticket_facts"
    __table_args__ = (Index("ix_stats_ticket_facts_hall_day", "hall_id", "business_date"),)

    ticket_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    business_date: Mapped[date] = mapped_column(Date)
    # The hall's local date, hour and weekday (0 = Monday) of issue, its ISO week's
    # Monday and its month (yyyymm): the reports' groupings.
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    week: Mapped[date] = mapped_column(Date)
    month: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(64))
    window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staff: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    continuation: Mapped[bool] = mapped_column(Boolean)  # a transfer's continuation
    ever_held: Mapped[bool] = mapped_column(Boolean)
    # Seconds, and their 15-second bucket: ceil(seconds / 15).
    wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    wait_b: Mapped[int | None] = mapped_column(Integer, nullable=True)
    handling_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    handling_b: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # 好差评 level


class StatsWindowFact(Base):
    """A window's day: open seconds, paused seconds by reason, signed-in seconds per clerk."""

    __tablename__ = "stats_window_facts"
    __table_args__ = (Index("ix_stats_window_facts_hall_day", "hall_id", "business_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    business_date: Mapped[date] = mapped_column(Date)
    window: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # open, paused, signed
    reason: Mapped[str] = mapped_column(String(200), default="")  # paused: the reason
    staff: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # signed: who
    seconds: Mapped[float] = mapped_column(Float)


# --- monthly rollups of the facts (a district's year reads these) ------------------------
# Rebuilt from the facts of a hall's business month whenever one of its days is rolled
# up (statistics/rollup.py), in the same transaction: never ahead of or behind the facts.
# ``bmonth`` is the business days' month (yyyymm), ``month`` the month of issue (the
# report's grouping; the same but for a ticket issued across midnight).


class StatsMonthVolume(Base):
    __tablename__ = "stats_month_volumes"
    __table_args__ = (Index("ix_stats_month_volumes_hall_month", "hall_id", "bmonth"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    bmonth: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    continuation: Mapped[bool] = mapped_column(Boolean)
    ever_held: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)


class StatsMonthHist(Base):
    """Waits (by service) and handling (by service, window, clerk) in coarse buckets
    (``facts.coarse``): how many, their sum, their largest."""

    __tablename__ = "stats_month_hist"
    # Each report reads one measure and dimension of many halls and months.
    __table_args__ = (
        Index("ix_stats_month_hist_hall_month", "measure", "dim", "hall_id", "bmonth"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    bmonth: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(8))  # wait, handling
    dim: Mapped[str] = mapped_column(String(8))  # service, window, staff
    name: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    largest: Mapped[float] = mapped_column(Float)


class StatsMonthHeat(Base):
    """Waits by service, weekday and hour of issue (the heatmap)."""

    __tablename__ = "stats_month_heat"
    __table_args__ = (Index("ix_stats_month_heat_hall_month", "hall_id", "bmonth"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    bmonth: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(64))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    hour: Mapped[int] = mapped_column(SmallInteger)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)


class StatsMonthWindow(Base):
    """Per window: finished cases and handling per clerk (kind ``cases``), open, paused by
    reason and signed-in per clerk seconds (from the window facts)."""

    __tablename__ = "stats_month_windows"
    __table_args__ = (Index("ix_stats_month_windows_hall_month", "hall_id", "bmonth"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    bmonth: Mapped[int] = mapped_column(Integer)
    window: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # cases, open, paused, signed
    reason: Mapped[str] = mapped_column(String(200))
    staff: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    n: Mapped[int] = mapped_column(Integer)  # cases (0 for the times)
    seconds: Mapped[float] = mapped_column(Float)  # handling of the cases, or the time
