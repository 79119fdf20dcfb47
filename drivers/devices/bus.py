"""One RS-485 bus with clerk keypads, evaluation pads and LED window boards.

The host polls every configured address in turn; devices answer only when addressed.
All traffic goes through one worker thread (see :mod:`.worker`), so it is strictly
ordered. Callers use the async API: events come out of :meth:`KeypadBus.events` (or a
callback), commands go in through the per-window handles :class:`Keypad`,
:class:`LedBoard` and :class:`EvaluationPad`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..clock import Clock, SystemClock
from ..config import BusConfig, BusDeviceConfig, DeviceKind, ProtocolName
from ..errors import DeviceRejected, DeviceUnavailable
from ..health import NEVER_SEEN, Backoff, DeviceHealth, HealthState
from ..protocols import ff68, jh
from ..protocols.ff68 import Ff68Frame
from ..protocols.jh import Cmd, JhFrame
from ..protocols.keypad import KeypadSequencer
from ..protocols.rating import Satisfaction, level_for_key
from ..protocols.stream import FrameStream, SkipCounters
from ..transport.base import Transport
from ..transport.serial_port import SerialTransport
from .events import (
    DeviceEvent,
    EventHub,
    EventSubscription,
    HealthChanged,
    KeypadPressed,
    RatingPressed,
)
from .worker import PortWorker

log = logging.getLogger(__name__)

READ_SLICE = 0.02  # real seconds per blocking read while waiting for an answer

Frame = Ff68Frame | JhFrame


@dataclass
class BusCounters:
    """Per-bus counters of what went wrong (and right) on the wire."""

    frames: int = 0
    garbage_bytes: int = 0
    bad_length: int = 0
    bad_framing: int = 0
    bad_checksum: int = 0
    timeouts: int = 0  # tries that got no usable answer
    foreign_frames: int = 0  # well-formed frames that did not answer our request
    duplicate_events: int = 0  # events re-sent because our ack got lost
    bad_values: int = 0  # e.g. a rating key the pad should not have
    nacks: int = 0
    port_errors: int = 0
    reopens: int = 0

    def add_skips(self, skips: SkipCounters) -> None:
        self.frames += skips.frames
        self.garbage_bytes += skips.garbage_bytes
        self.bad_length += skips.bad_length
        self.bad_framing += skips.bad_framing
        self.bad_checksum += skips.bad_checksum


@dataclass
class _Device:
    cfg: BusDeviceConfig
    device_id: str
    backoff: Backoff
    sequencer: KeypadSequencer
    health: DeviceHealth = NEVER_SEEN
    next_poll: float = 0.0
    last_seq: int | None = None
    # What the device should be showing, by slot, re-sent when it comes back online.
    display: dict[str, bytes] = field(default_factory=dict)


class _Reply:
    """What one try got: a frame for us, or nothing (and whether anything garbled came)."""

    def __init__(self, frame: Frame | None, garbled: bool) -> None:
        self.frame = frame
        self.garbled = garbled


class KeypadBus:
    """An RS-485 bus of keypads (呼叫器), evaluators (评价器) and LED boards (窗口屏)."""

    def __init__(
        self,
        config: BusConfig,
        *,
        clock: Clock | None = None,
        transport: Transport | None = None,
        on_event: Callable[[DeviceEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        s = config.serial
        self.transport: Transport = transport or SerialTransport(
            s.port,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            rs485=s.rs485,
        )
        self._hub = EventHub(on_event)
        self._lock = threading.Lock()
        self._counters = BusCounters()
        p = config.polling
        self._devices = [
            _Device(
                cfg=d,
                device_id=f"{config.name}/{d.device_id}",
                backoff=Backoff(p.backoff_initial, p.backoff_max),
                sequencer=KeypadSequencer(p.digit_timeout),
            )
            for d in config.devices
        ]
        self._worker = _BusWorker(self)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._hub.bind(asyncio.get_running_loop())
        self._worker.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._worker.stop)
        self._hub.close()

    async def __aenter__(self) -> KeypadBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what callers see --------------------------------------------------------------

    def events(self) -> EventSubscription:
        """Subscribe to :class:`KeypadPressed`, :class:`RatingPressed`, :class:`HealthChanged`."""
        return self._hub.subscribe()

    def health(self) -> dict[str, DeviceHealth]:
        """Health of every device, keyed by device id ("bus/keypad@1")."""
        return {d.device_id: d.health for d in self._devices}

    @property
    def port_health(self) -> DeviceHealth:
        error = self._worker.port_error
        if error is None and self.transport.is_open:
            return DeviceHealth(HealthState.ONLINE, "", self.clock.now())
        return DeviceHealth(HealthState.ERROR, error or "not open", None)

    @property
    def counters(self) -> BusCounters:
        with self._lock:
            return replace(
                self._counters,
                port_errors=self._worker.port_errors,
                reopens=self._worker.reopens,
            )

    def keypad(self, window: int) -> Keypad:
        return Keypad(self, self._device(DeviceKind.KEYPAD, window))

    def led_board(self, window: int) -> LedBoard:
        return LedBoard(self, self._device(DeviceKind.LED, window))

    def evaluation_pad(self, window: int) -> EvaluationPad:
        return EvaluationPad(self, self._device(DeviceKind.EVALUATOR, window))

    def _device(self, kind: DeviceKind, window: int) -> _Device:
        for dev in self._devices:
            if dev.cfg.kind is kind and dev.cfg.window == window:
                return dev
        raise KeyError(f"bus {self.config.name} has no {kind} for window {window}")

    async def _command(self, dev: _Device, slot: str | None, request: bytes) -> None:
        """Send a display/beep command and wait for the device's acknowledgement."""
        if slot is not None:
            dev.display[slot] = request  # remembered even if this send fails
        await self._worker.call(lambda t: self._worker.send_command(t, dev, request))

    # --- used by the worker thread -----------------------------------------------------

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self._counters, name, getattr(self._counters, name) + delta)

    def _add_skips(self, skips: SkipCounters) -> None:
        with self._lock:
            self._counters.add_skips(skips)

    def _publish(self, event: DeviceEvent) -> None:
        self._hub.publish(event)

    def _iter_devices(self) -> Iterator[_Device]:
        return iter(self._devices)


class _BusWorker(PortWorker):
    def __init__(self, bus: KeypadBus) -> None:
        p = bus.config.polling
        super().__init__(
            f"bus-{bus.config.name}",
            bus.transport,
            bus.clock,
            reopen_initial=p.reopen_initial,
            reopen_max=p.reopen_max,
        )
        self.bus = bus
        self.polling = p
        self._rr = 0  # round-robin position, so one chatty device cannot starve others

    # --- health ------------------------------------------------------------------------

    def _set_health(self, dev: _Device, state: HealthState, reason: str) -> None:
        seen = self.clock.now() if state is HealthState.ONLINE else dev.health.last_seen
        old = dev.health
        dev.health = DeviceHealth(state, reason, seen)
        if old.state is not state or old.reason != reason:
            log.info("%s: %s %s", dev.device_id, state, reason)
            self.bus._publish(HealthChanged(dev.device_id, dev.health, dev.cfg.window))

    def _seen(self, transport: Transport, dev: _Device) -> None:
        was_online = dev.health.state is HealthState.ONLINE
        dev.backoff.reset()
        self._set_health(dev, HealthState.ONLINE, "")
        if not was_online and dev.display:
            self._restore_display(transport, dev)

    def _failed(self, dev: _Device, garbled: bool) -> None:
        if garbled:
            self._set_health(dev, HealthState.ERROR, "answers are garbled (bad frames)")
        else:
            tries = self.polling.retries
            self._set_health(dev, HealthState.OFFLINE, f"no answer after {tries} tries")
        dev.next_poll = self.clock.monotonic() + dev.backoff.next_delay()

    def port_up(self) -> None:
        now = self.clock.monotonic()
        for dev in self.bus._iter_devices():
            dev.next_poll = now

    def port_down(self, reason: str) -> None:
        for dev in self.bus._iter_devices():
            self._set_health(dev, HealthState.ERROR, f"port unavailable: {reason}")

    # --- one request/answer exchange ---------------------------------------------------

    def _exchange(
        self,
        transport: Transport,
        dev: _Device,
        request: bytes,
        wanted: Callable[[Any], bool],
        echo: bool = False,
    ) -> _Reply:
        self._discard_input(transport)
        transport.write(request)
        if dev.cfg.protocol is ProtocolName.JH:
            scan: Callable[[bytes], Any] = jh.scan
        else:
            # An echo copies a host frame, which may be as short as L = 2 (BEEP).
            scan = ff68.scan_from_host if echo else ff68.scan
        stream: FrameStream[Any] = FrameStream(scan)
        deadline = self.clock.monotonic() + self.polling.response_timeout
        found: Frame | None = None
        try:
            while found is None:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    frames = stream.flush()
                else:
                    data = transport.read(256, min(remaining, READ_SLICE))
                    frames = stream.feed(data) if data else []
                for frame in frames:
                    if found is None and frame.address == dev.cfg.address and wanted(frame):
                        found = frame
                    else:
                        self.bus._count(foreign_frames=1)
                if remaining <= 0:
                    break
        finally:
            self.bus._add_skips(stream.counters)
        if found is None:
            self.bus._count(timeouts=1)
        garbled = stream.counters.errors > 0
        return _Reply(found, garbled)

    def _discard_input(self, transport: Transport) -> None:
        """Throw away stale bytes (late answers, noise) before talking; count them."""
        stale = 0
        while True:
            data = transport.read(256, 0)
            if not data:
                break
            stale += len(data)
        if stale:
            self.bus._count(garbage_bytes=stale)

    # --- polling -----------------------------------------------------------------------

    def tick(self, transport: Transport) -> float:
        devices = list(self.bus._iter_devices())
        if not devices:
            return self.clock.monotonic() + 1.0
        now = self.clock.monotonic()
        for i in range(len(devices)):
            dev = devices[(self._rr + i) % len(devices)]
            if dev.next_poll <= now:
                self._rr = (self._rr + i + 1) % len(devices)
                self._poll(transport, dev)
                break
        return min(d.next_poll for d in devices)

    def _poll(self, transport: Transport, dev: _Device) -> None:
        is_ff68 = dev.cfg.protocol is ProtocolName.FF68
        request = ff68.poll(dev.cfg.address) if is_ff68 else jh.poll(dev.cfg.address)
        garbled = False
        tries = self.polling.retries if dev.health.online else 1
        for _ in range(tries):
            reply = self._exchange(transport, dev, request, self._answers_poll)
            garbled = garbled or reply.garbled
            if reply.frame is not None:
                self._seen(transport, dev)
                event = self._handle_poll_answer(transport, dev, reply.frame)
                # a device with something to say may have more queued: ask again soon
                delay = 0.0 if event else self.polling.poll_interval
                dev.next_poll = self.clock.monotonic() + delay
                return
        self._failed(dev, garbled)

    @staticmethod
    def _answers_poll(frame: Frame) -> bool:
        if isinstance(frame, Ff68Frame):
            if frame.func == ff68.FUNC_POLL:
                return frame.data == bytes((ff68.POLL_IDLE,))
            return frame.func in (ff68.FUNC_KEY, ff68.FUNC_RATING)
        if frame.command == Cmd.ACK:
            return frame.payload[:1] == bytes((Cmd.POLL,))
        return frame.command in (Cmd.KEY, Cmd.RATING, Cmd.NACK)

    def _handle_poll_answer(self, transport: Transport, dev: _Device, frame: Frame) -> bool:
        """Acknowledge and publish an event frame; True if there was one."""
        if isinstance(frame, Ff68Frame):
            if frame.func == ff68.FUNC_POLL:
                return False
            transport.write(ff68.encode_frame(frame))  # the host acks by echoing
            seq = frame.data[0] if len(frame.data) >= 2 else None
            value = frame.data[-1]
            is_key = frame.func == ff68.FUNC_KEY
        else:
            if frame.command in (Cmd.ACK, Cmd.NACK):
                if frame.command == Cmd.NACK:
                    self.bus._count(nacks=1)
                return False
            if len(frame.payload) != 2:
                self.bus._count(bad_values=1)
                return False
            seq, value = frame.payload[0], frame.payload[1]
            transport.write(jh.ack(dev.cfg.address, frame.command, seq))
            is_key = frame.command == Cmd.KEY
        if seq is not None and seq == dev.last_seq:
            self.bus._count(duplicate_events=1)  # our last ack was lost; already handled
            return True
        dev.last_seq = seq
        at = self.clock.now()
        if is_key:
            action = dev.sequencer.feed(value, self.clock.monotonic())
            if action is not None:
                self.bus._publish(KeypadPressed(dev.cfg.window, action, dev.device_id, at))
            return True
        level: Satisfaction | None
        if isinstance(frame, Ff68Frame):
            level = level_for_key(value, dev.cfg.keys)
        else:
            level = Satisfaction(value) if 1 <= value <= 5 else None
        if level is None:
            self.bus._count(bad_values=1)
        else:
            self.bus._publish(RatingPressed(dev.cfg.window, level, dev.device_id, at))
        return True

    # --- commands ----------------------------------------------------------------------

    def send_command(self, transport: Transport, dev: _Device, request: bytes) -> None:
        is_ff68 = dev.cfg.protocol is ProtocolName.FF68
        if is_ff68:
            echo = request

            def wanted(frame: Any) -> bool:
                return bool(ff68.encode_frame(frame) == echo)
        else:
            command = request[2]

            def wanted(frame: Any) -> bool:
                return bool(
                    frame.command in (Cmd.ACK, Cmd.NACK) and frame.payload[:1] == bytes((command,))
                )

        # An offline device gets one try, so it does not hold up the bus.
        tries = self.polling.retries if dev.health.online else 1
        garbled = False
        for _ in range(tries):
            reply = self._exchange(transport, dev, request, wanted, echo=is_ff68)
            garbled = garbled or reply.garbled
            frame = reply.frame
            if frame is None:
                continue
            self._seen(transport, dev)
            if isinstance(frame, JhFrame) and frame.command == Cmd.NACK:
                self.bus._count(nacks=1)
                reason = frame.payload[1] if len(frame.payload) > 1 else 0
                raise DeviceRejected(f"{dev.device_id} refused command 0x{command:02X}: {reason}")
            return
        self._failed(dev, garbled)
        raise DeviceUnavailable(f"{dev.device_id}: {dev.health.reason}")

    def _restore_display(self, transport: Transport, dev: _Device) -> None:
        """A device came back (power cut, replugged): show it what it should show."""
        for request in list(dev.display.values()):
            try:
                self.send_command(transport, dev, request)
            except (DeviceUnavailable, DeviceRejected) as err:
                log.info("%s: could not restore display: %s", dev.device_id, err)
                return


# --- per-window handles --------------------------------------------------------------


class _Handle:
    def __init__(self, bus: KeypadBus, dev: _Device) -> None:
        self._bus = bus
        self._dev = dev

    @property
    def window(self) -> int:
        return self._dev.cfg.window

    @property
    def address(self) -> int:
        return self._dev.cfg.address

    @property
    def device_id(self) -> str:
        return self._dev.device_id

    @property
    def health(self) -> DeviceHealth:
        return self._dev.health

    @property
    def _jh(self) -> bool:
        return self._dev.cfg.protocol is ProtocolName.JH


class Keypad(_Handle):
    """The clerk keypad (呼叫器) of one window; its key presses arrive as events."""

    async def show(self, number: str, waiting: int) -> None:
        """Show the ticket number (right group) and the waiting count (left group)."""
        if self._jh:
            request = jh.keypad_show(self.address, number, waiting)
        else:
            request = ff68.show(
                self.address, ff68.count_digits(waiting), ff68.ticket_digits(number)
            )
        await self._bus._command(self._dev, "show", request)

    async def beep(self) -> None:
        request = jh.beep(self.address) if self._jh else ff68.beep(self.address)
        await self._bus._command(self._dev, None, request)


class LedBoard(_Handle):
    """The LED board above one window (窗口屏); text goes out as GB18030."""

    async def show_ticket(self, number: str, window: int | None = None) -> None:
        """Show the number being served, e.g. "A023" at window 3."""
        target = self.window if window is None else window
        await self._bus._command(self._dev, "main", jh.show_ticket(self.address, number, target))

    async def show_idle(self, text: str = "热情为您服务") -> None:
        await self._bus._command(self._dev, "main", jh.show_idle(self.address, text))

    async def show_paused(self, text: str = "暂停服务") -> None:
        await self._bus._command(self._dev, "main", jh.show_paused(self.address, text))

    async def show_waiting(self, count: int) -> None:
        await self._bus._command(self._dev, "waiting", jh.show_waiting(self.address, count))


class EvaluationPad(_Handle):
    """The evaluation pad (评价器) of one window; ratings arrive as events."""

    @property
    def keys(self) -> int:
        return self._dev.cfg.keys

    async def invite(self) -> None:
        """Ask the citizen for a rating: jh pads light their prompt, FF 68 pads beep."""
        request = jh.invite_rating(self.address) if self._jh else ff68.beep(self.address)
        await self._bus._command(self._dev, None, request)
