"""The region tree (行政区划): city -> district -> town/street -> village/community."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.engine.core.db import Base, BigId, UTCDateTime, utcnow


class Region(Base):
    """One region of the tree (rules.py: codes, levels, paths).

    Halls point at the region they serve (``halls.region_id``); a region admin's account
    at the region it oversees (``users.region_id``).
    """

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # 行政区划代码
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # rules.Level name, lower case
    # No action on delete: the service refuses a region with regions below it; checked at
    # the statement's end, so a whole subtree may go in one statement.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id"), nullable=True, index=True
    )
    # The codes from the root down to this region: "/330100/330106/" (subtree reads).
    path: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
