"""What the engine takes in at its edge: the ranges of numbers and times, text without NUL.

Numbers past a column's type, times that cannot be stored and NUL characters (which
PostgreSQL refuses in text) are refused where they enter, as a 422, never passed on
to fail in the database (deps.py, the schemas, the bus socket).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime

INT64_MAX = 2**63 - 1  # PostgreSQL bigint, SQLite integer: every row id
# Ids are below this (stated as an exclusive bound: the OpenAPI's numbers are floats, and
# 2**63 is one exactly, while 2**63 - 1 would be rounded up to it).
ROW_ID_END = 2**63
# A hall's window numbers (the hall file's range; the column is a 32-bit integer).
WINDOW_NUMBER_MAX = 9999


def _storable(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)  # how it is stored; fails at the calendar's ends
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None
    return value


# A moment with its UTC offset that can be stored (not 0001-01-01 east of UTC, nor
# 9999-12-31 west of it).
StorableTime = Annotated[AwareDatetime, AfterValidator(_storable)]


def ascii_digits(text: str, max_digits: int) -> int | None:
    """``text`` as a whole number >= 0 if it is 1..``max_digits`` ASCII digits, else None.

    ``str.isdigit`` alone takes '²' and '٣', which ``int`` refuses; the length bound
    keeps ``int`` from working on (or refusing) thousands of digits.
    """
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


def nul_at(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first text holding a NUL (U+0000) is in a parsed value (JSON, a form),
    keys included; None if there is none. Iterative: a deep value cannot exhaust the stack."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [(loc, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return (*where, key)
                pending.append(((*where, key), inner))
        elif isinstance(item, list | tuple):
            pending.extend(((*where, i), inner) for i, inner in enumerate(item))
    return None


def nul_in_pairs(pairs: Iterable[tuple[str, Any]]) -> str | None:
    """The name of the first (name, value) pair whose name or text holds a NUL."""
    for name, value in pairs:
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            return name
    return None
