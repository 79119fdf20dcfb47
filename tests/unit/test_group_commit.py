"""Group commit: who leads, who is in which batch, what each request learns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from services.engine.core import group_commit
from services.engine.core.errors import BatchAborted, QuotaExhausted


class Writer:
    """A batch run that holds each batch until the test finishes it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gates: list[asyncio.Event] = []
        self.fail_with: BaseException | None = None
        self.on_finish: Callable[[], None] | None = None
        self.begun = asyncio.Event()

    async def __call__(self, items: Sequence[str]) -> list[str | Exception]:
        gate = asyncio.Event()
        self.batches.append(list(items))
        self.gates.append(gate)
        self.begun.set()
        await gate.wait()
        if self.on_finish is not None:
            self.on_finish()
        if self.fail_with is not None:
            raise self.fail_with
        return [
            QuotaExhausted(f"{item} refused") if item.startswith("refuse") else f"done:{item}"
            for item in items
        ]

    async def running(self, count: int) -> None:
        """Until ``count`` batches have begun (a line that stalls fails the test)."""
        async with asyncio.timeout(10):
            while len(self.batches) < count:
                self.begun.clear()
                await self.begun.wait()

    def finish(self, batch: int) -> None:
        self.gates[batch].set()


def submit(writer: Writer, item: str, hall: int = 1, kind: str = "t", **kw: int) -> asyncio.Task:
    return asyncio.create_task(group_commit.submit(kind, hall, item, writer, **kw))


async def first_batch_in_flight(writer: Writer) -> asyncio.Task:
    """Request "a" leading a batch that has begun: what comes next waits behind it."""
    first = submit(writer, "a")
    await writer.running(1)
    return first


async def settle() -> None:
    """Let every ready task run until all of them wait on something."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_requests_arriving_during_a_batch_go_together_in_the_next() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    rest = [submit(writer, x) for x in "bcde"]
    await settle()
    assert writer.batches == [["a"]], "the others wait while the first batch is in flight"
    writer.finish(0)
    assert await first == "done:a"
    await writer.running(2)
    writer.finish(1)
    assert [await t for t in rest] == ["done:b", "done:c", "done:d", "done:e"]
    assert writer.batches == [["a"], ["b", "c", "d", "e"]]


async def test_halls_and_kinds_have_their_own_lines() -> None:
    writer = Writer()
    tasks = [
        submit(writer, f"{kind}{hall}", hall, kind) for kind, hall in (("t", 1), ("t", 2), ("u", 1))
    ]
    await writer.running(3)
    for batch in range(3):
        writer.finish(batch)
    assert [await t for t in tasks] == ["done:t1", "done:t2", "done:u1"]


async def test_a_refusal_reaches_only_its_own_request() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    ok, refused = submit(writer, "b"), submit(writer, "refuse-c")
    writer.finish(0)
    await writer.running(2)
    writer.finish(1)
    assert await first == "done:a"
    assert await ok == "done:b"
    with pytest.raises(QuotaExhausted, match="refuse-c refused"):
        await refused
    assert writer.batches == [["a"], ["b", "refuse-c"]]


async def test_a_failed_batch_fails_all_its_requests_and_the_next_one_still_runs() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    leader, member = submit(writer, "b"), submit(writer, "c")
    writer.finish(0)
    await writer.running(2)
    writer.fail_with = ConnectionError("database went away")
    later = submit(writer, "d")
    writer.finish(1)
    with pytest.raises(ConnectionError):
        await leader
    # The others in the batch get a refusal of their own (503 problem+json), not the
    # leader's exception.
    with pytest.raises(BatchAborted) as aborted:
        await member
    assert isinstance(aborted.value.__cause__, ConnectionError)
    writer.fail_with = None
    await writer.running(3)
    writer.finish(2)
    assert await first == "done:a"
    assert await later == "done:d"
    assert writer.batches == [["a"], ["b", "c"], ["d"]]


async def test_a_request_cancelled_while_waiting_is_never_written() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    gone, kept = submit(writer, "gone"), submit(writer, "kept")
    await settle()
    gone.cancel()
    await settle()
    writer.finish(0)
    await writer.running(2)
    writer.finish(1)
    assert await first == "done:a"
    assert await kept == "done:kept"
    assert gone.cancelled()
    assert writer.batches == [["a"], ["kept"]]


@pytest.mark.parametrize(
    "when",
    [
        # After the lead is handed to it, before it runs again: it passes the lead on.
        pytest.param(
            lambda heir: lambda: asyncio.get_running_loop().call_soon(heir.cancel), id="after"
        ),
        # Its answer cancelled before the lead is passed: the lead skips it.
        pytest.param(lambda heir: heir.cancel, id="before"),
    ],
)
async def test_a_request_cancelled_as_the_lead_comes_to_it_never_stalls_the_line(when) -> None:  # type: ignore[no-untyped-def]
    writer = Writer()
    first = await first_batch_in_flight(writer)
    heir, after = submit(writer, "heir"), submit(writer, "after")
    await settle()
    writer.on_finish = when(heir)
    writer.finish(0)
    assert await first == "done:a"
    writer.on_finish = None
    await writer.running(2)
    writer.finish(1)
    assert await after == "done:after"
    assert heir.cancelled()
    assert writer.batches == [["a"], ["after"]]


async def test_a_cancelled_leader_lets_its_batch_finish_and_answer_the_others() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    leader, member = submit(writer, "b"), submit(writer, "c")
    writer.finish(0)
    await writer.running(2)
    assert writer.batches[1] == ["b", "c"]
    later = submit(writer, "d")
    leader.cancel()
    await settle()
    assert not leader.done(), "the leader waits for its batch (it runs on its session)"
    writer.finish(1)
    assert await member == "done:c"
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await first == "done:a"
    await writer.running(3)
    writer.finish(2)
    assert await later == "done:d"


async def test_a_batch_stopped_as_a_whole_tells_its_members_so() -> None:
    writer = Writer()
    first = await first_batch_in_flight(writer)
    leader, member = submit(writer, "b"), submit(writer, "c")
    writer.finish(0)
    await writer.running(2)
    writer.fail_with = asyncio.CancelledError()  # the engine stopping mid-batch
    writer.finish(1)
    with pytest.raises(BatchAborted):
        await member
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await first == "done:a"


async def test_batches_are_capped() -> None:
    writer = Writer()
    first = submit(writer, "a", max_batch=2)
    await writer.running(1)
    rest = [submit(writer, x, max_batch=2) for x in "bcde"]
    await settle()
    writer.finish(0)
    await writer.running(2)
    writer.finish(1)
    await writer.running(3)
    writer.finish(2)
    await first
    assert [await t for t in rest] == ["done:b", "done:c", "done:d", "done:e"]
    assert writer.batches == [["a"], ["b", "c"], ["d", "e"]]
