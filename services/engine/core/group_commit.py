"""Group commit: changes of one hall queued in this process go to the database together.

Every ticket issued in a hall ends on the same rows (the service's number
counter, the hall row that numbers its events), so issues are serialised by
the database however many requests arrive at once. Instead of one transaction
per request waiting its turn on those rows, the requests that queue up while a
transaction is in flight are written together in the next one: the first in
line (the leader) runs the batch on its own session and commits once, every
request of the batch gets its own outcome, and the first request still waiting
leads the next batch. Nobody is answered before the commit that holds their
change, so a batch is as durable as a single request, and a refusal of one
request in a batch never touches the others. A batch runs to its end even if
its leader's request is cancelled meanwhile, and answers everyone in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.engine.core.errors import BatchAborted, Refusal
from services.engine.core.loop_local import LoopLocal
from services.engine.core.metrics import GROUP_COMMIT_BATCH

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# A batch's run answers each item with its outcome or with the refusal that
# concerns it alone; an exception raised by the run itself fails the whole batch.
BatchRun = Callable[[Sequence[Item]], Awaitable[Sequence["Outcome | Exception"]]]


class _Lead:
    """The answer that tells a waiting request to lead the next batch."""


_LEAD = _Lead()


@dataclass(eq=False)
class _Entry(Generic[Item]):
    item: Item
    answer: asyncio.Future[object]


@dataclass
class _Line:
    waiting: deque[_Entry[object]] = field(default_factory=deque)
    leading: bool = False


_lines: LoopLocal[tuple[str, int], _Line] = LoopLocal()


async def submit(
    kind: str,
    hall_id: int,
    item: Item,
    run: BatchRun[Item, Outcome],
    *,
    max_batch: int = 100,
) -> Outcome:
    """Queue ``item`` for the hall's next batch of ``kind``; its outcome once committed.

    ``run`` is the caller's own (its session, its hall): it is used only if
    this request ends up leading a batch.
    """
    lines = _lines.get()
    line = lines.get((kind, hall_id))
    if line is None:
        line = lines[(kind, hall_id)] = _Line()
    entry: _Entry[object] = _Entry(item, asyncio.get_running_loop().create_future())
    line.waiting.append(entry)
    if line.leading:
        try:
            answer = await entry.answer
        except asyncio.CancelledError:
            _leave(line, entry)
            raise
        if answer is not _LEAD:
            return answer  # type: ignore[return-value]
    line.leading = True
    try:
        batch = _take_batch(line, entry, max_batch)
    except BaseException:
        _pass_lead(line)
        raise
    GROUP_COMMIT_BATCH.labels(kind).observe(len(batch))
    return await _lead(line, batch, run)  # type: ignore[arg-type]


def _take_batch(line: _Line, own: _Entry[Item], max_batch: int) -> list[_Entry[Item]]:
    """The leader's request and those waiting behind it, up to ``max_batch``."""
    assert line.waiting[0] is own, "the leader is the first in line"
    batch: list[_Entry[Item]] = [line.waiting.popleft()]  # type: ignore[list-item]
    while line.waiting and len(batch) < max_batch:
        queued = line.waiting.popleft()
        if not queued.answer.done():  # else cancelled while waiting: never written
            batch.append(queued)  # type: ignore[arg-type]
    return batch


async def _lead(line: _Line, batch: list[_Entry[Item]], run: BatchRun[Item, Outcome]) -> Outcome:
    """Run a batch (the leader's request first) and give the leader its outcome.

    The batch runs in a task of its own, which answers everyone in it and passes
    the lead on: a leader stopped half-way (its request cancelled) neither
    leaves the others without an answer nor tells them "failed" after their
    tickets were committed.
    """
    written = asyncio.get_running_loop().create_task(_write(line, batch, run))
    try:
        mine = await asyncio.shield(written)
    except asyncio.CancelledError:
        # The batch runs on the leader's session: let it end before the request does.
        await _until_done(written)
        raise
    if isinstance(mine, Exception):
        raise mine
    return mine


async def _write(
    line: _Line, batch: list[_Entry[Item]], run: BatchRun[Item, Outcome]
) -> Outcome | Exception:
    """Run the batch, answer its members (all but the leader); the leader's outcome."""
    try:
        outcomes = list(await run([e.item for e in batch]))
        if len(outcomes) != len(batch):
            raise RuntimeError(f"a batch of {len(batch)} got {len(outcomes)} outcomes")
    except BaseException as err:
        for member in batch[1:]:
            _answer(member, _failure_for_member(err))
        raise
    else:
        for member, outcome in zip(batch[1:], outcomes[1:], strict=True):
            _answer(member, outcome)
        return outcomes[0]
    finally:
        _pass_lead(line)


def _answer(member: _Entry[Item], outcome: object) -> None:
    if member.answer.done():  # its request was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        member.answer.set_exception(outcome)
    else:
        member.answer.set_result(outcome)


async def _until_done(task: asyncio.Task[Any]) -> None:
    """Wait for ``task`` to end, whatever it ends with, even if cancelled meanwhile."""
    while not task.done():
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)


def _pass_lead(line: _Line) -> None:
    while line.waiting and line.waiting[0].answer.done():
        line.waiting.popleft()  # cancelled while waiting
    if line.waiting:
        line.waiting[0].answer.set_result(_LEAD)
    else:
        line.leading = False


def _leave(line: _Line, entry: _Entry[object]) -> None:
    """A waiting request was cancelled: out of line, and the lead passed on if it had it."""
    answer = entry.answer
    had_lead = answer.done() and not answer.cancelled() and answer.result() is _LEAD
    if entry in line.waiting:
        line.waiting.remove(entry)
    if had_lead:
        _pass_lead(line)


def _failure_for_member(err: BaseException) -> BaseException:
    """What a member of a batch learns when the batch failed as a whole (its own copy)."""
    if isinstance(err, Refusal):
        return type(err)(err.detail, **err.extra)
    failure = BatchAborted(
        "this request's batch could not be written (the engine is stopping or the "
        "database failed); try again"
    )
    failure.__cause__ = err
    return failure
