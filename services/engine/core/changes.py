"""Per-hall change stamps in this process: has anything but new tickets happened?

Issuing a ticket reads the whole hall for its wait estimate (windows, what they
hold, queues per class, handle times). At a busy kiosk bank that read cost more
than the issue itself, so the estimate reuses a reading of the hall for up to a
second -- but only while nothing else changed in the hall: a window calling,
pausing or closing, a transfer, a new hall file, a tidal change. Committers in
this process stamp those changes here, and so does the event hub for changes
other engine processes commit, as they reach it (while screens of the hall are
connected); otherwise the one-second limit covers them.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.engine.core.loop_local import LoopLocal

# Events a ticket issue writes: they leave a hall reading good for the estimate.
ISSUE_EVENTS = frozenset({"ticket.issued", "queue.changed"})

_stamps: LoopLocal[int, int] = LoopLocal()


def note_changes(hall_events: Iterable[tuple[int, str]]) -> None:
    """Stamp halls with a committed event other than a ticket issue."""
    stamps = _stamps.get()
    for hall_id, event_type in hall_events:
        if event_type not in ISSUE_EVENTS:
            stamps[hall_id] = stamps.get(hall_id, 0) + 1


def change_stamp(hall_id: int) -> int:
    return _stamps.get().get(hall_id, 0)
