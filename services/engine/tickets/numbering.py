"""Ticket numbering (编号): business dates and number formatting. Pure rules."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo


def business_date(at: datetime, timezone: str) -> date:
    """The hall's business date for an instant: the date on the hall's wall clock."""
    if at.tzinfo is None:
        raise ValueError("business_date needs an aware datetime")
    return at.astimezone(ZoneInfo(timezone)).date()


def format_number(prefix: str, sequence: int, width: int = 3) -> str:
    """``("A", 23, 3)`` -> ``"A023"``; a number past the width keeps all its digits."""
    if sequence < 1:
        raise ValueError("sequences start at 1")
    return f"{prefix}{sequence:0{width}d}"


_NUMBER = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d{1,9})\s*$")


def parse_number(text: str) -> tuple[str, int] | None:
    """``"A023"``, ``"a23"``, ``" A 023 "`` -> ``("A", 23)``; None if it is not a number."""
    match = _NUMBER.match(text)
    if match is None or int(match.group(2)) < 1:
        return None
    return match.group(1).upper(), int(match.group(2))


def daily_quota_left(limit: int | None, issued: int) -> int | None:
    """Tickets still available today (None: unlimited)."""
    if limit is None:
        return None
    return max(limit - issued, 0)
