"""Waiting for something to happen: a condition polled until a deadline, never a fixed sleep.

The polling interval is only how often the condition is looked at; the deadline is a
generous upper bound that a passing test never waits out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from drivers.devices.events import DeviceEvent, EventSubscription

OVERALL = 10.0  # generous upper bound for anything to happen in-process
POLL = 0.05  # how often a blocking wait looks again (processes, sockets)

T = TypeVar("T")


async def until(
    condition: Callable[[], object],
    limit: float = OVERALL,
    step: Callable[[], None] | None = None,
    *,
    what: str = "condition",
) -> None:
    """Wait for ``condition()`` by yielding to the loop (and calling ``step``, e.g. to move a
    fake clock); fails after ``limit`` seconds of wall time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met in {limit}s")
        if step is not None:
            step()
        await asyncio.sleep(0.01)  # a yield point, not a timing assumption


async def next_event(
    sub: EventSubscription,
    predicate: Callable[[DeviceEvent], bool] = lambda e: True,
    limit: float = OVERALL,
) -> DeviceEvent:
    """The next device event that matches, skipping others; fails after ``limit`` seconds."""

    async def find() -> DeviceEvent:
        async for event in sub:
            if predicate(event):
                return event
        raise AssertionError("event stream closed")

    return await asyncio.wait_for(find(), limit)


def wait_until(
    check: Callable[[], T | None],
    within: float = 30.0,
    what: str = "the condition",
    *,
    log: Callable[[], str] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``check()`` (blocking) until it returns something truthy, and return that.

    An exception of a type in ``ignore`` counts as "not yet" (a server still starting);
    after ``within`` seconds the wait fails, with ``log()`` (a process's output) if given.
    """
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            value = check()
        except ignore as err:
            value, last = None, err
        else:
            last = value
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {within}s waiting for {what} (last: {last!r})"
            raise AssertionError(message + (f"\n{log()}" if log else ""))
        time.sleep(POLL)
