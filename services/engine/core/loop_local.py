"""Process state kept per running event loop.

Locks and caches of the engine belong to the loop that made them; tests and
tools run several loops in turn, and a loop's state goes with the loop.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

K = TypeVar("K")
V = TypeVar("V")


class LoopLocal(Generic[K, V]):
    """A dict per running event loop."""

    def __init__(self) -> None:
        self._by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[K, V]] = (
            WeakKeyDictionary()
        )

    def get(self) -> dict[K, V]:
        """This loop's dict (made on first use)."""
        return self._by_loop.setdefault(asyncio.get_running_loop(), {})
