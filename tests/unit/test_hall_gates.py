"""Per-hall gates and change stamps: one lock per hall and kind in a loop; stamps only for
changes other than ticket issues."""

from __future__ import annotations

import asyncio

from services.engine.core.changes import change_stamp, note_changes
from services.engine.core.gates import hall_gate


async def test_one_gate_per_hall_and_kind() -> None:
    assert hall_gate("commit", 1) is hall_gate("commit", 1)
    assert hall_gate("commit", 1) is not hall_gate("commit", 2)
    assert hall_gate("commit", 1) is not hall_gate("other", 1)


async def test_a_gate_lets_one_writer_of_a_hall_in_at_a_time() -> None:
    inside: list[int] = []
    most = 0

    async def writer(hall_id: int) -> None:
        nonlocal most
        async with hall_gate("commit", hall_id):
            inside.append(hall_id)
            most = max(most, inside.count(hall_id))
            await asyncio.sleep(0)  # yield inside the gate: others must wait
            inside.remove(hall_id)

    await asyncio.gather(*(writer(7) for _ in range(20)), *(writer(8) for _ in range(5)))
    assert most == 1


def test_gates_belong_to_their_event_loop() -> None:
    async def gate() -> asyncio.Lock:
        return hall_gate("commit", 1)

    assert asyncio.run(gate()) is not asyncio.run(gate())


async def test_only_changes_other_than_issues_are_stamped() -> None:
    before = change_stamp(5)
    note_changes([(5, "ticket.issued"), (5, "queue.changed")])
    assert change_stamp(5) == before
    note_changes([(5, "window.called"), (6, "queue.changed")])
    assert change_stamp(5) == before + 1
    assert change_stamp(6) == 0
