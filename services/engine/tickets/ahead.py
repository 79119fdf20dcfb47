"""前方还有N人: the one "ahead" number every surface shows. Pure.

A waiting ticket's "ahead" is the count of waiting tickets of its service that
will be called before it: every ticket of a class called first (green before
everyone; priority and appointment tickets before normal ones), and the
tickets of its own class queued earlier. Classes are the ones tickets compete
in now (``effective_class``): an appointment outside its slot waits as normal.
The kiosk slip, the phone, the status page, the partner API and its webhooks
all show this number (``tickets.service.ahead`` counts it for one ticket).
The favoured:normal interleave (2:1) is not counted: a normal ticket is told
that every favoured ticket goes first (never fewer than the truth), and a
favoured ticket is not told of the normal ones a window takes in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.engine.tickets.states import FAVOURED, PriorityClass


def effective_class(
    priority: PriorityClass,
    queued_at: datetime,
    slot_start: datetime | None,
    slot_end: datetime | None,
    now: datetime,
) -> PriorityClass:
    """The class a ticket competes in now (the calling policy and "ahead" agree on it).

    An appointment is favoured when checked in within its slot (from the slot's
    start); checked in after the slot ended it waits as a normal ticket, and
    one checked in early waits as normal until its slot starts.
    """
    if priority is not PriorityClass.APPOINTMENT:
        return priority
    if slot_end is not None and queued_at > slot_end:
        return PriorityClass.NORMAL
    if slot_start is not None and now < slot_start:
        return PriorityClass.NORMAL
    return PriorityClass.APPOINTMENT


def classes_before(
    priority: PriorityClass,
) -> tuple[frozenset[PriorityClass], frozenset[PriorityClass]]:
    """Which waiting tickets of the service are called before a ticket of this class.

    Returns (classes called before it whatever their queue time, classes that
    go before it only if queued earlier): green goes before everyone; favoured
    tickets (priority, appointment) before normal ones.
    """
    green = frozenset({PriorityClass.GREEN})
    if priority is PriorityClass.GREEN:
        return frozenset(), green
    if priority in FAVOURED:
        return green, FAVOURED
    return green | FAVOURED, frozenset({PriorityClass.NORMAL})


def ahead_of(
    priority: PriorityClass,
    waiting: Mapping[PriorityClass, int],
    earlier: Mapping[PriorityClass, int],
) -> int:
    """前方还有N人: how many waiting tickets of its service are called before this one.

    ``waiting``: tickets of the service waiting now per class; ``earlier``: of
    those, the ones queued before this ticket.
    """
    before, same = classes_before(priority)
    return sum(waiting.get(c, 0) for c in before) + sum(earlier.get(c, 0) for c in same)


def classes(counts: Mapping[str, int]) -> dict[PriorityClass, int]:
    """Counts per class as read from the database (unknown classes dropped)."""
    return {PriorityClass(k): v for k, v in counts.items() if k in PriorityClass._value2member_map_}
