"""The housekeeping loop's schedule: at start, then every interval; 0 turns it off."""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.engine.flows.housekeeping import Housekeeper, HousekeepingStats


class _Counting(Housekeeper):
    def __init__(self, interval: float, rounds: int) -> None:
        super().__init__(None, interval=interval)  # type: ignore[arg-type]
        self.calls = 0
        self.done = asyncio.Event()
        self._rounds = rounds

    async def run_once(self, now: datetime | None = None) -> HousekeepingStats:
        self.calls += 1
        if self.calls >= self._rounds:
            self.done.set()
        return HousekeepingStats()


async def test_the_loop_runs_at_start_and_again_after_its_interval() -> None:
    keeper = _Counting(interval=0.01, rounds=3)
    keeper.start()
    try:
        await asyncio.wait_for(keeper.done.wait(), timeout=30)
    finally:
        await keeper.stop()
    assert keeper.calls >= 3


async def test_an_interval_of_zero_never_runs_on_its_own() -> None:
    keeper = _Counting(interval=0, rounds=1)
    keeper.start()
    # Give any task that was (wrongly) created every chance to run.
    for _ in range(20):
        await asyncio.sleep(0)
    await keeper.stop()
    assert keeper.calls == 0
