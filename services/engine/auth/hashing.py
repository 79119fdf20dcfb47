"""Argon2 off the event loop, on a few threads of the engine's own.

A password check costs ~0.1 s of CPU and 64 MiB on purpose. On the event loop,
twenty logins at once held every other request of the process for two seconds.
Here each check runs on a worker thread (argon2-cffi releases the GIL while it
hashes), and at most ``threads`` checks run at a time: a burst of logins waits for
them, and costs no more memory than ``threads`` hashes, while tickets, calls and
screens go on. The pool is the app's own (not the loop's default executor), so
logins never take the threads anything else needs.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from services.engine.auth import security


class PasswordChecker:
    def __init__(self, threads: int) -> None:
        self._threads = threads
        # Made on first use: an app that never checks a password starts no thread.
        self._pool: ThreadPoolExecutor | None = None

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """As ``security.verify_password`` (an unknown user costs as much), on a worker."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="jiaohao-argon2")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, security.verify_password, password_hash, password
        )

    def close(self) -> None:
        """At shutdown: checks not started are dropped, the threads end."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
