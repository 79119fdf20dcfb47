"""The running gateway: buses in, engine calls out; engine events in, device displays out.

Tasks, all in one asyncio loop (the drivers do their serial I/O on their own threads):

- the bus follower reads the hall's event bus (snapshot, then events; it resumes
  with ``since`` after any break, engine restarts included) into a :class:`HallView`
  and marks windows whose boards and keypads must be shown again;
- the renderer shows what changed on the LED boards and keypads;
- one reader per serial bus turns key presses into window actions (in order per
  window) and pad presses into ratings;
- the rating clock ends invitations nobody answered (未评价);
- the health reporter sends the devices' health on every change and periodically.

Which window a keypad or pad serves is its file's, unless the hall's manager moved it
on the engine's devices page (``placement.py``): read at start and after every
snapshot, followed through ``device.assigned`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from drivers.clock import Clock, SystemClock
from drivers.config import DeviceKind
from drivers.devices.bus import EvaluationPad, Keypad, KeypadBus, LedBoard
from drivers.devices.events import (
    EventSubscription,
    HealthChanged,
    KeypadPressed,
    RatingPressed,
)
from drivers.errors import DriverError
from drivers.health import NEVER_SEEN
from services.busclient.client import BusClient, BusRefused
from services.gateway.actions import plan
from services.gateway.config import GatewayConfig
from services.gateway.engine import (
    EngineClient,
    EngineRefused,
    EngineUnavailable,
    OutcomeUnknown,
)
from services.gateway.hallstate import (
    BoardContent,
    Change,
    Finished,
    HallView,
    KeypadContent,
    Texts,
)
from services.gateway.health import bus_entries
from services.gateway.placement import Placement
from services.gateway.ratings import RatingWindows

log = logging.getLogger("services.gateway")

REFUSED_PAUSE = 30.0  # seconds between tries when the engine refuses the bus connection
# One gateway per hall: it may come back quickly after an engine restart.
BUS_MAX_BACKOFF = 5.0
FIRST_REPORT_WAIT = 3.0  # seconds
NEVER = float("inf")


class GatewayRefused(Exception):
    """The engine will not work with this token or hall; the gateway cannot start."""


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        engine_url: str,
        token: str,
        *,
        clock: Clock | None = None,
        buses: list[KeypadBus] | None = None,
        engine: EngineClient | None = None,
    ) -> None:
        self.config = config
        self.engine_url = engine_url
        self.token = token
        self.clock: Clock = clock or SystemClock()
        self.engine = engine or EngineClient(engine_url, token, timeout=config.http_timeout)
        self.buses = buses if buses is not None else [
            KeypadBus(b, clock=self.clock) for b in config.buses
        ]  # fmt: skip
        self.view = HallView(Texts(config.idle_text, config.paused_text, config.closed_text))
        self.ratings = RatingWindows(config.evaluation_timeout)
        self.hall: str | None = config.hall
        self.gateway_id: int | None = None  # this gateway's device id at the engine
        self.placement = Placement()
        self.stats: Counter[str] = Counter()
        self.bus_client: BusClient | None = None
        self.bus_state = "starting"
        self.live = asyncio.Event()  # the event bus has caught up at least once
        self._last_seq: int | None = None
        self._dirty: set[int] = set()
        self._recalled: set[int] = set()
        self._render_wake = asyncio.Event()
        self._health_wake = asyncio.Event()
        self._rating_wake = asyncio.Event()
        self._shown_board: dict[int, BoardContent] = {}
        self._shown_keypad: dict[str, KeypadContent] = {}  # by device id
        self._locks: dict[int, asyncio.Lock] = {}
        self._spawned: set[asyncio.Task[Any]] = set()

    # --- devices of a window -----------------------------------------------------------

    def _at(self, kind: DeviceKind, window: int) -> list[tuple[KeypadBus, int]]:
        """The buses with a device of this kind serving ``window``, and the window the
        file gives each (its handle's name on the bus). Usually one; two when a keypad
        or pad was moved to a window that has its own: both act, both are shown."""
        return [
            (bus, d.window)
            for bus in self.buses
            for d in bus.config.devices
            if d.kind is kind and self.placement.window(kind, d.window) == window
        ]

    def led_board(self, window: int) -> LedBoard | None:
        found = self._at(DeviceKind.LED, window)
        return found[0][0].led_board(found[0][1]) if found else None

    def keypads(self, window: int) -> list[Keypad]:
        return [bus.keypad(own) for bus, own in self._at(DeviceKind.KEYPAD, window)]

    def evaluation_pads(self, window: int) -> list[EvaluationPad]:
        return [bus.evaluation_pad(own) for bus, own in self._at(DeviceKind.EVALUATOR, window)]

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; raises :class:`GatewayRefused` on a token/hall refusal."""
        subscriptions = [bus.events() for bus in self.buses]
        tasks: list[asyncio.Task[Any]] = []
        try:
            # Who we are first: a wrong token or hall must not take over the buses.
            await self._identify(stop)
            if stop.is_set():
                return
            for bus in self.buses:
                await bus.start()
            loops: list[Coroutine[Any, Any, None]] = [
                self._follow_bus(),
                self._render(),
                self._report_health(),
                self._rating_clock(),
                *(self._read_devices(sub) for sub in subscriptions),
            ]
            tasks = [asyncio.create_task(c) for c in loops]
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in done:
                if task is not stopper and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in [*tasks, *self._spawned]:
                task.cancel()
            await asyncio.gather(*tasks, *self._spawned, return_exceptions=True)
            if self.bus_client is not None:
                await self.bus_client.close()
            for sub in subscriptions:
                sub.close()
            for bus in self.buses:
                await bus.stop()
            await self.engine.aclose()

    async def _identify(self, stop: asyncio.Event) -> None:
        """Who the token is: a gateway of which hall (waits for an engine that is down)."""
        try:
            me_task = asyncio.create_task(self.engine.me(retry_for=NEVER))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([me_task, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if stop.is_set():
                me_task.cancel()
                return
            me = me_task.result()
        except EngineRefused as err:
            raise GatewayRefused(f"the engine refuses the token: {err.detail}") from err
        if me.get("kind") != "device" or me.get("role") != "gateway":
            raise GatewayRefused(f"the token is a {me.get('role')}'s, not a gateway's")
        hall = me.get("hall")
        if self.config.hall is not None and self.config.hall != hall:
            raise GatewayRefused(f"the token belongs to hall {hall!r}, not {self.config.hall!r}")
        self.hall = str(hall)
        device_id = me.get("id")
        self.gateway_id = device_id if isinstance(device_id, int) else None
        log.info("gateway %s of hall %s; windows %s", me.get("name"), hall, self.config.windows)
        await self._load_placement()

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(coro)
        self._spawned.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._spawned.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed", what, exc_info=t.exception())

        task.add_done_callback(done)

    # --- engine events -> the hall view --------------------------------------------------

    def _bus_state_changed(self, state: str) -> None:
        if state != self.bus_state:
            log.info("event bus: %s", state)
        self.bus_state = state

    async def _follow_bus(self) -> None:
        assert self.hall is not None
        while True:
            client = BusClient(
                self.engine_url,
                self.hall,
                self.token,
                since=self._last_seq,
                max_backoff=BUS_MAX_BACKOFF,
                on_state=self._bus_state_changed,
            )
            self.bus_client = client
            try:
                async for message in client:
                    try:
                        await self._on_message(message)
                    except Exception:  # a bug must not stop the hall: start over from a snapshot
                        log.exception(
                            "could not apply %s; asking for a snapshot", message.get("kind")
                        )
                        await client.request_snapshot()
                    self._last_seq = client.last_seq
            except BusRefused as err:
                log.error("event bus: %s; trying again in %.0f s", err, REFUSED_PAUSE)
                self._last_seq = client.last_seq
                await asyncio.sleep(REFUSED_PAUSE)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "snapshot":
            change = self.view.apply_snapshot(message)
            self.stats["snapshots"] += 1
            await self._refresh_services()
            await self._load_placement()  # assignments made while we were away
            self._mark(change)
        elif kind == "event":
            self.stats["events"] += 1
            type_ = str(message.get("type"))
            if type_ == "device.assigned":
                data = message.get("data") or {}
                if self.gateway_id is not None and data.get("gateway_id") == self.gateway_id:
                    self._moved(self.placement.assigned(data))
                return
            change = self.view.apply_event(type_, message.get("data") or {}, message.get("at"))
            if change.finished is not None:
                self._finished(change.finished)
            if change.refresh:
                if type_ == "hall.updated" and self.bus_client is not None:
                    await self.bus_client.request_snapshot()  # windows may have come or gone
                else:
                    await self._refresh_services()
            self._mark(change)
        elif kind == "resume":
            log.info(
                "event bus: resuming after %s (engine at %s)",
                message.get("since"),
                message.get("seq"),
            )
        elif kind == "live":
            self.live.set()

    async def _refresh_services(self) -> None:
        """Which services each window serves (for its waiting count)."""
        assert self.hall is not None
        try:
            windows = await self.engine.windows(self.hall, retry_for=5.0)
        except (EngineRefused, EngineUnavailable) as err:
            log.warning("could not read the windows' services: %s", err)
            return
        self._mark(
            self.view.set_services({int(w["number"]): w.get("services") or {} for w in windows})
        )

    async def _load_placement(self) -> None:
        """This gateway's keypads and pads moved to other windows on the devices page."""
        assert self.hall is not None
        try:
            assignments = await self.engine.assignments(self.hall, retry_for=5.0)
        except (EngineRefused, EngineUnavailable) as err:
            log.warning("could not read the device assignments (the file holds): %s", err)
            return
        self._moved(self.placement.replace(assignments))

    def _moved(self, windows: set[int]) -> None:
        """Devices now serve other windows: show those windows again, tell the engine."""
        if not windows:
            return
        self.stats["placements"] += 1
        log.info(
            "device assignments: %s",
            ", ".join(f"{k.value}:{w} -> {n}" for (k, w), n in self.placement.moved.items())
            or "as in the file",
        )
        self._mark(Change(windows=windows))
        self._health_wake.set()

    def _mark(self, change: Change) -> None:
        if change.windows or change.recalled:
            self._dirty |= change.windows
            self._recalled |= change.recalled
            self._render_wake.set()

    # --- the hall view -> boards and keypads -----------------------------------------------

    async def _render(self) -> None:
        while True:
            await self._render_wake.wait()
            self._render_wake.clear()
            dirty, self._dirty = self._dirty, set()
            recalled, self._recalled = self._recalled, set()
            for window in sorted(dirty | recalled):
                await self._show(window, force=window in recalled)

    async def _show(self, window: int, *, force: bool = False) -> None:
        board = self.view.board(window)
        led = self.led_board(window)
        if led is not None:
            last = self._shown_board.get(window)
            main = (board.mode, board.text, board.number)
            if force or last is None or main != (last.mode, last.text, last.number):
                await self._send(led.device_id, self._show_main(led, board))
            if last is None or board.waiting != last.waiting:
                await self._send(led.device_id, led.show_waiting(board.waiting))
            self._shown_board[window] = board
        content = self.view.keypad(window)
        for keypad in self.keypads(window):
            if self._shown_keypad.get(keypad.device_id) != content:
                await self._send(keypad.device_id, keypad.show(content.number, content.waiting))
                self._shown_keypad[keypad.device_id] = content

    @staticmethod
    def _show_main(led: LedBoard, board: BoardContent) -> Awaitable[None]:
        if board.mode == "ticket" and board.number:
            return led.show_ticket(board.number, board.window)
        if board.mode == "idle":
            return led.show_idle(board.text)
        return led.show_paused(board.text)

    async def _send(self, device: str, command: Awaitable[None]) -> None:
        """Device commands that fail are not lost: the driver shows them when it is back."""
        try:
            await command
        except (DriverError, ValueError) as err:  # ValueError: a text the device cannot show
            self.stats["device_errors"] += 1
            log.debug("%s: %s (shown when it is back)", device, err)

    # --- serial buses -> engine ---------------------------------------------------------

    async def _read_devices(self, events: EventSubscription) -> None:
        async for event in events:
            if isinstance(event, KeypadPressed):
                # The event names the window of the device's file; it may serve another.
                window = self.placement.window(DeviceKind.KEYPAD, event.window)
                self._spawn(self._press(event, window), f"key {event.action} at window {window}")
            elif isinstance(event, RatingPressed):
                self._pad_pressed(event, self.placement.window(DeviceKind.EVALUATOR, event.window))
            elif isinstance(event, HealthChanged):
                self._health_wake.set()

    async def _press(self, event: KeypadPressed, window: int) -> None:
        """One key press at ``window``, after the earlier ones of the same window."""
        assert self.hall is not None
        lock = self._locks.setdefault(window, asyncio.Lock())
        async with lock:
            todo = plan(
                event.action,
                self.view.window(window),
                open_on_call=self.config.open_on_call,
                pause_reason=self.config.pause_reason,
                hold_kind=self.config.hold_kind,
            )
            if todo.refusal is not None:
                log.info("window %d: %s: %s", window, event.action, todo.refusal)
                await self._beep(window)
                return
            for call in todo.calls:
                try:
                    await self.engine.window_action(
                        self.hall,
                        window,
                        call.action,
                        call.body,
                        retry_for=self.config.action_retry_seconds,
                    )
                except EngineRefused as err:
                    self.stats["actions_refused"] += 1
                    log.info("window %d: %s refused: %s", window, call.action, err)
                    await self._beep(window)
                    return
                except (EngineUnavailable, OutcomeUnknown) as err:
                    self.stats["actions_failed"] += 1
                    log.warning("window %d: %s not done: %s", window, call.action, err)
                    await self._beep(window)
                    return
            self.stats["actions"] += 1
            log.info("window %d: %s", window, " + ".join(c.action for c in todo.calls))

    async def _beep(self, window: int) -> None:
        for keypad in self.keypads(window):
            await self._send(keypad.device_id, keypad.beep())

    # --- ratings (好差评) ----------------------------------------------------------------

    def _finished(self, finished: Finished) -> None:
        pads = self.evaluation_pads(finished.window)
        if not pads:
            return  # no pad at that window: nothing to rate with
        age = (self.clock.now() - finished.at).total_seconds() if finished.at else 0.0
        invitation = self.ratings.finished(
            finished.window, finished.ticket_id, finished.number, self.clock.monotonic(), age
        )
        if invitation is None:
            return
        self._rating_wake.set()
        log.info("window %d: %s finished; its pad takes a rating", finished.window, finished.number)
        if self.config.invite_rating:  # lights 请评价 (or beeps): it never picks a level
            for pad in pads:
                self._spawn(self._send(pad.device_id, pad.invite()), "pad invitation")

    def _pad_pressed(self, event: RatingPressed, window: int) -> None:
        rating = self.ratings.pressed(window, int(event.level), self.clock.monotonic())
        if rating is None:
            self.stats["ratings_ignored"] += 1
            log.info(
                "window %d: pad pressed %d with no ticket to rate: ignored",
                window,
                event.level,
            )
            return
        self._spawn(self._post_rating(rating.ticket_id, rating.number, rating.level), "rating")

    async def _post_rating(self, ticket_id: int, number: str, level: int) -> None:
        assert self.hall is not None
        try:
            await self.engine.rate(
                self.hall, ticket_id, level, retry_for=self.config.rating_retry_seconds
            )
        except EngineRefused as err:
            if err.code == "already_rated":  # e.g. our first try went through after all
                self.stats["ratings"] += 1
                return
            self.stats["ratings_refused"] += 1
            log.warning("rating of %s refused: %s", number, err)
            return
        except EngineUnavailable as err:
            self.stats["ratings_lost"] += 1
            log.error("rating %d of %s could not be recorded: %s", level, number, err)
            return
        self.stats["ratings"] += 1
        log.info("%s rated %d", number, level)

    async def _rating_clock(self) -> None:
        while True:
            deadline = self.ratings.next_deadline()
            timeout = None if deadline is None else max(deadline - self.clock.monotonic(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rating_wake.wait(), timeout)
            self._rating_wake.clear()
            self.ratings.expire(self.clock.monotonic())
            lapsed, self.ratings.lapsed = self.ratings.lapsed, []
            for invitation in lapsed:
                self.stats["unrated"] += 1
                log.info("window %d: %s not rated (未评价)", invitation.window, invitation.number)

    # --- health ----------------------------------------------------------------------

    def health_report(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for bus in self.buses:
            entries.extend(
                bus_entries(bus.config, bus.port_health, bus.health(), self.placement.window)
            )
        return entries

    async def _report_health(self) -> None:
        assert self.hall is not None
        # The first report waits (a little) until every device was polled once, so a
        # start does not report them all offline ("not seen yet") and then online.
        deadline = self.clock.monotonic() + FIRST_REPORT_WAIT
        while any(h == NEVER_SEEN for b in self.buses for h in b.health().values()):
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_wake.wait(), remaining)
            self._health_wake.clear()
        failing = False
        while True:
            report = self.health_report()
            try:
                await self.engine.report_health(self.hall, report)
                self.stats["health_reports"] += 1
                if failing:
                    log.info("health reports reach the engine again")
                failing = False
            except (EngineRefused, EngineUnavailable, OutcomeUnknown) as err:
                if not failing:
                    log.warning("health report not delivered: %s", err)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_wake.wait(), self.config.health_interval)
            self._health_wake.clear()


async def run_gateway(
    config: GatewayConfig,
    engine_url: str,
    token: str,
    stop: asyncio.Event,
    *,
    on_start: Callable[[Gateway], None] | None = None,
) -> None:
    gateway = Gateway(config, engine_url, token)
    if on_start is not None:
        on_start(gateway)
    await gateway.run(stop)
