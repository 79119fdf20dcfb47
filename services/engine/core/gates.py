"""Per-hall gates: at most one writer of a kind per hall at a time in this process.

Every change to a hall ends on the same row lock in the database: the hall row
that numbers its events (events/outbox.py, kind "commit"). When dozens of
requests pile onto one locked row, PostgreSQL wakes them all at each commit and
throughput collapses; queueing them here first keeps the database to one
waiter per engine process. Correctness never depends on a gate: the row locks
still order writers across processes. (Ticket issues do not queue here: they are
written together, core/group_commit.py.)
"""

from __future__ import annotations

import asyncio

from services.engine.core.loop_local import LoopLocal

_gates: LoopLocal[tuple[str, int], asyncio.Lock] = LoopLocal()


def hall_gate(kind: str, hall_id: int) -> asyncio.Lock:
    """The lock for writers of ``kind`` (e.g. "commit") in a hall."""
    by_key = _gates.get()
    key = (kind, hall_id)
    gate = by_key.get(key)
    if gate is None:
        gate = by_key[key] = asyncio.Lock()
    return gate
