"""One thread per port: jobs run strictly one after another, so a half-duplex bus never
sees two conversations at once; between jobs the thread does its periodic work (polling).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..clock import Clock
from ..errors import DeviceUnavailable
from ..health import Backoff
from ..transport.base import Transport, TransportError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_IDLE_WAIT = 0.05  # real seconds; the worker re-reads the (maybe fake) clock this often

_STOP = object()


class PortWorker:
    """Owns a transport. Subclasses implement ``tick`` (periodic work, returns the clock
    time it wants to run again) and may override ``port_up`` / ``port_down``.
    """

    def __init__(
        self,
        name: str,
        transport: Transport,
        clock: Clock,
        *,
        reopen_initial: float = 0.5,
        reopen_max: float = 10.0,
    ) -> None:
        self.name = name
        self.transport = transport
        self.clock = clock
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._reopen = Backoff(reopen_initial, reopen_max)
        self._next_open = 0.0
        self._port_error: str | None = None
        self.reopens = 0
        self.port_errors = 0

    # --- lifecycle (called from the event loop's thread) -----------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"jiaohao-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._jobs.put(_STOP)
        thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def call(self, fn: Callable[[Transport], T]) -> T:
        """Run ``fn(transport)`` in the worker thread, in order with everything else."""
        if not self.running:
            raise DeviceUnavailable(f"{self.name} is not started")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return await asyncio.wrap_future(future)

    @property
    def port_error(self) -> str | None:
        """Why the port is closed, or None while it is open."""
        return self._port_error

    # --- hooks for subclasses (run in the worker thread) -----------------------------

    def tick(self, transport: Transport) -> float:
        """Periodic work; returns the clock time of the next call."""
        return self.clock.monotonic() + 1.0

    def port_up(self) -> None:
        """The port (re)opened."""

    def port_down(self, reason: str) -> None:
        """The port could not be opened or failed."""

    def shutdown(self) -> None:
        """The worker is stopping; the port is still open if it was."""

    # --- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = self.clock.monotonic()
        try:
            while True:
                self._ensure_open()
                now = self.clock.monotonic()
                wait = 0.0 if now >= next_tick else min(MAX_IDLE_WAIT, next_tick - now)
                if not self.transport.is_open:
                    wait = MAX_IDLE_WAIT
                try:
                    job = self._jobs.get(timeout=wait) if wait > 0 else self._jobs.get_nowait()
                except queue.Empty:
                    job = None
                if job is _STOP:
                    break
                if job is not None:
                    self._run_job(*job)
                    continue
                if self.transport.is_open and self.clock.monotonic() >= next_tick:
                    try:
                        next_tick = self.tick(self.transport)
                    except TransportError as err:
                        self._lost(err)
                    except Exception:  # the loop must never die
                        log.exception("%s: periodic work failed", self.name)
                        next_tick = self.clock.monotonic() + 1.0
        finally:
            try:
                self.shutdown()
            except Exception:
                log.exception("%s: shutdown failed", self.name)
            self.transport.close()
            self._fail_pending()

    def _run_job(
        self, fn: Callable[[Transport], Any], future: concurrent.futures.Future[Any]
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return
        if not self.transport.is_open:
            future.set_exception(DeviceUnavailable(f"{self.name}: {self._port_error}"))
            return
        try:
            future.set_result(fn(self.transport))
        except TransportError as err:
            self._lost(err)
            future.set_exception(DeviceUnavailable(f"{self.name}: {err}"))
        except Exception as err:  # hand every failure to the caller
            future.set_exception(err)

    def _ensure_open(self) -> None:
        if self.transport.is_open or self.clock.monotonic() < self._next_open:
            return
        try:
            self.transport.open()
        except TransportError as err:
            self._next_open = self.clock.monotonic() + self._reopen.next_delay()
            self._set_down(str(err))
            return
        if self._port_error is not None:
            self.reopens += 1
            log.info("%s: port %s is back", self.name, self.transport.name)
        self._port_error = None
        self._reopen.reset()
        self.port_up()

    def _lost(self, err: TransportError) -> None:
        log.warning("%s: port failed: %s", self.name, err)
        self.transport.close()
        self.port_errors += 1
        self._next_open = self.clock.monotonic() + self._reopen.next_delay()
        self._set_down(str(err))

    def _set_down(self, reason: str) -> None:
        first = self._port_error is None
        self._port_error = reason
        if first:
            self.port_down(reason)

    def _fail_pending(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                job[1].set_exception(DeviceUnavailable(f"{self.name} stopped"))
