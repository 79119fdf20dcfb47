"""Shared helpers for driver tests: waiting on events without sleeping for timing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from drivers.devices.events import DeviceEvent, EventSubscription

OVERALL = 10.0  # generous upper bound for anything to happen; tests never wait it out


async def next_event(
    sub: EventSubscription,
    predicate: Callable[[DeviceEvent], bool] = lambda e: True,
    limit: float = OVERALL,
) -> DeviceEvent:
    """The next event that matches, skipping others."""

    async def find() -> DeviceEvent:
        async for event in sub:
            if predicate(event):
                return event
        raise AssertionError("event stream closed")

    return await asyncio.wait_for(find(), limit)


async def until(
    condition: Callable[[], bool], limit: float = OVERALL, step: Callable[[], None] | None = None
) -> None:
    """Wait for ``condition`` by yielding to the loop (and calling ``step``, e.g. to move a
    fake clock); fails after ``limit`` seconds of wall time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        if step is not None:
            step()
        await asyncio.sleep(0.01)  # a yield point, not a timing assumption


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
